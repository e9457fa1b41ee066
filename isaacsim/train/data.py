"""Images for ``isaacsim train``: load a split, resize to the model's input, snap to 8-bit codes.

The network sees exactly what the exported workload's 8-bit input codes mean: after any
resize every pixel is ``round(x * 255) / 255`` (the codes :func:`isaacsim.workload.datasets.quantize`
writes). LeNet-5 takes 28x28 images (digits' 8x8 and CIFAR-10's 32x32 are resized, bilinear);
ResNet-20 takes any size from 8x8 up, so its images keep their size.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from isaacsim.errors import WorkloadError
from isaacsim.workload.datasets import load_dataset, take

__all__ = ["MODEL_SIZE", "load_images", "model_input", "snap"]

MODEL_SIZE = {"lenet5": 28}  # fixed input side; other models keep the data's size (>= MIN_SIDE)
MIN_SIDE = 8


def snap(x: torch.Tensor) -> torch.Tensor:
    """Round [0, 1] values to the 8-bit grid, ``round(x * 255) / 255``."""
    return torch.round(torch.clamp(x, 0.0, 1.0) * 255.0) / 255.0


def model_input(x: np.ndarray, model: str) -> torch.Tensor:
    """``x`` (N, C, H, W) in [0, 1] resized (bilinear) to ``model``'s input side, on the 8-bit grid."""
    t = torch.tensor(np.asarray(x), dtype=torch.float32)
    side = MODEL_SIZE.get(model)
    h, w = t.shape[-2:]
    if side is None and min(h, w) < MIN_SIDE:
        side = MIN_SIDE
    if side is not None and (h, w) != (side, side):
        t = F.interpolate(t, size=(side, side), mode="bilinear", align_corners=False)
    return snap(t)


def load_images(dataset: str, model: str, split: str, n: int | None, seed: int, root=None,
                calib: int | None = None):
    """``(x, y)`` tensors of ``split`` (``n`` seeded samples, or all) at the model's input size;
    with ``calib``, also ``(xc, yc)``: ``calib`` seeded samples of the same (subset) split."""
    ds = load_dataset(dataset, root=root, split=split, n=n, seed=seed)
    out = (model_input(ds.x, model), torch.tensor(ds.y, dtype=torch.int64))
    if calib is None:
        return out
    if calib > len(ds):
        raise WorkloadError(f"calib {calib} exceeds the {len(ds)} training samples of {dataset!r}")
    cs = take(ds, calib, seed)
    return out, (model_input(cs.x, model), torch.tensor(cs.y, dtype=torch.int64))
