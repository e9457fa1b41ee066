"""Calibration and evaluation data for an import: an npz file (or arrays) holding float `x`
(N x the model's input shape) and optional integer labels `y`, checked against the model."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from isaacsim.errors import WorkloadError


def _read(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    if not path.is_file():
        raise WorkloadError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise WorkloadError(f"{path.name}: not an npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "x" not in z.files:
                raise WorkloadError(f"{path.name}: no array 'x' (found {sorted(z.files)})")
            return z["x"], (z["y"] if "y" in z.files else None)
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise WorkloadError(f"{path.name}: unreadable npz ({e})") from None


def load_data(src, shape: tuple[int, ...], what: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(x float32 (N, *shape), y int64 (N,) or None) from an npz path, an (x, y) pair or an array x."""
    if src is None:
        return None
    if isinstance(src, (str, Path)):
        path = Path(src)
        where = path.name
        x, y = _read(path)
    else:
        where = what
        x, y = src if isinstance(src, tuple) else (src, None)
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise WorkloadError(f"{where}: x must be a float array (real inputs), got dtype {x.dtype}")
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape) or x.shape[0] < 1:
        raise WorkloadError(f"{where}: x has shape {x.shape}, expected (N, {', '.join(map(str, shape))}) "
                            f"for the model's input")
    if not np.all(np.isfinite(x)):
        raise WorkloadError(f"{where}: x holds NaN or infinite values")
    if y is not None:
        y = np.asarray(y)
        if y.dtype.kind not in "iu" or y.shape != (x.shape[0],):
            raise WorkloadError(f"{where}: y must be {x.shape[0]} integer labels, got dtype {y.dtype}, "
                                f"shape {y.shape}")
        y = y.astype(np.int64)
    return x.astype(np.float32), y
