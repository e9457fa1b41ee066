"""Model zoo: shape-faithful networks with seeded synthetic weights and inputs.

Each entry is a float graph spec (layer shapes of the published network, batch norm folded) that
:func:`make` fills with He-normal weights and small biases, calibrates on smooth synthetic images
and quantizes with :mod:`isaacsim.workload.ptq`. The results are for energy and timing studies:
the weights are random, so the "predictions" mean nothing. ``isaacsim zoo list`` / ``zoo make``
wrap :data:`ZOO` and :func:`make`; docs/zoo.md has the layer tables.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from isaacsim.errors import WorkloadError
from isaacsim.workload.io import Workload
from isaacsim.workload.ptq import count_macs, param_shapes, quantize_graph

BIAS_STD = 0.02  # std of the synthetic (folded batch-norm) biases


# ---------------------------------------------------------------- graph builders


def _input(shape) -> dict:
    return {"shape": list(shape), "range": [0.0, 1.0], "bits": 8}


def _conv(name, inp, cout, k, *, stride=1, padding=0, relu=True) -> dict:
    return {"name": name, "op": "conv2d", "inputs": [inp], "out_channels": cout, "kernel": k,
            "stride": stride, "padding": padding, "activation": "relu" if relu else None}


def _fc(name, inp, out, *, relu=False) -> dict:
    return {"name": name, "op": "linear", "inputs": [inp], "out_features": out,
            "activation": "relu" if relu else None}


def lenet5() -> dict:
    """LeNet-5 for MNIST 1x28x28 (LeCun et al. 1998, ReLU and max pooling as is usual today):
    conv 6@5x5 pad 2, pool 2, conv 16@5x5, pool 2, fc 120, fc 84, fc 10."""
    g = [
        _conv("conv1", "input", 6, 5, padding=2),
        {"name": "pool1", "op": "maxpool", "inputs": ["conv1"], "kernel": 2},
        _conv("conv2", "pool1", 16, 5),
        {"name": "pool2", "op": "maxpool", "inputs": ["conv2"], "kernel": 2},
        {"name": "flatten", "op": "flatten", "inputs": ["pool2"]},
        _fc("fc1", "flatten", 120, relu=True),
        _fc("fc2", "fc1", 84, relu=True),
        _fc("fc3", "fc2", 10),
    ]
    return {"input": _input((1, 28, 28)), "graph": g}


def _basic_block(g: list, prefix: str, inp: str, cin: int, cout: int, stride: int) -> str:
    """conv3x3(stride)-relu-conv3x3 + shortcut, relu; a 1x1 projection when the shape changes."""
    g.append(_conv(f"{prefix}.conv1", inp, cout, 3, stride=stride, padding=1))
    g.append(_conv(f"{prefix}.conv2", f"{prefix}.conv1", cout, 3, padding=1, relu=False))
    short = inp
    if stride != 1 or cin != cout:
        short = f"{prefix}.downsample"
        g.append(_conv(short, inp, cout, 1, stride=stride, relu=False))
    g.append({"name": f"{prefix}.add", "op": "add", "inputs": [short, f"{prefix}.conv2"], "activation": "relu"})
    return f"{prefix}.add"


def _resnet_tail(g: list, inp: str, classes: int) -> None:
    g.append({"name": "avgpool", "op": "global_avgpool", "inputs": [inp]})
    g.append({"name": "flatten", "op": "flatten", "inputs": ["avgpool"]})
    g.append(_fc("fc", "flatten", classes))


def resnet20() -> dict:
    """ResNet-20 for CIFAR-10 3x32x32 (He et al. 2016, sec. 4.2): conv 16@3x3, 3 stages x 3 basic
    blocks of 16/32/64 channels, GAP, fc 10; 1x1 projection shortcuts where the shape changes."""
    g = [_conv("conv1", "input", 16, 3, padding=1)]
    x, cin = "conv1", 16
    for s, cout in enumerate((16, 32, 64)):
        for b in range(3):
            stride = 2 if s > 0 and b == 0 else 1
            x = _basic_block(g, f"layer{s + 1}.{b}", x, cin, cout, stride)
            cin = cout
    _resnet_tail(g, x, 10)
    return {"input": _input((3, 32, 32)), "graph": g}


def resnet18() -> dict:
    """ResNet-18 for ImageNet 3x224x224, torchvision layout: conv 64@7x7/2 pad 3, maxpool 3/2 pad 1,
    4 stages x 2 basic blocks (64/128/256/512), 1x1/2 downsample convs, GAP, fc 1000."""
    g = [_conv("conv1", "input", 64, 7, stride=2, padding=3),
         {"name": "maxpool", "op": "maxpool", "inputs": ["conv1"], "kernel": 3, "stride": 2, "padding": 1}]
    x, cin = "maxpool", 64
    for s, cout in enumerate((64, 128, 256, 512)):
        for b in range(2):
            x = _basic_block(g, f"layer{s + 1}.{b}", x, cin, cout, 2 if s > 0 and b == 0 else 1)
            cin = cout
    _resnet_tail(g, x, 1000)
    return {"input": _input((3, 224, 224)), "graph": g}


def _fire(g: list, name: str, inp: str, squeeze: int, expand: int) -> str:
    g.append(_conv(f"{name}.squeeze", inp, squeeze, 1))
    g.append(_conv(f"{name}.expand1x1", f"{name}.squeeze", expand, 1))
    g.append(_conv(f"{name}.expand3x3", f"{name}.squeeze", expand, 3, padding=1))
    g.append({"name": name, "op": "concat", "inputs": [f"{name}.expand1x1", f"{name}.expand3x3"]})
    return name


def squeezenet1_1() -> dict:
    """SqueezeNet 1.1 for ImageNet 3x224x224, torchvision layout: conv 64@3x3/2, maxpool 3/2,
    fire2-3, maxpool, fire4-5, maxpool, fire6-9, conv10 1x1 to 1000 + relu, GAP, flatten.
    The pools use floor mode; torchvision's ceil mode gives the same 55/27/13 sizes at 224."""
    g = [_conv("conv1", "input", 64, 3, stride=2)]
    x = "conv1"
    fires = {2: (16, 64), 3: (16, 64), 4: (32, 128), 5: (32, 128),
             6: (48, 192), 7: (48, 192), 8: (64, 256), 9: (64, 256)}
    for i, (sq, ex) in fires.items():
        if i in (2, 4, 6):
            pool = f"pool{i - 1}"
            g.append({"name": pool, "op": "maxpool", "inputs": [x], "kernel": 3, "stride": 2})
            x = pool
        x = _fire(g, f"fire{i}", x, sq, ex)
    g.append(_conv("conv10", x, 1000, 1))
    g.append({"name": "avgpool", "op": "global_avgpool", "inputs": ["conv10"]})
    g.append({"name": "flatten", "op": "flatten", "inputs": ["avgpool"]})
    return {"input": _input((3, 224, 224)), "graph": g}


# ---------------------------------------------------------------- synthetic weights and inputs


def init_params(spec: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """He/Kaiming-normal float32 weights (std sqrt(2 / fan_in)) and N(0, BIAS_STD^2) biases for
    every conv2d/linear of `spec`; parameter i draws from its own stream (seed, 0, i)."""
    out = {}
    for i, (key, shape) in enumerate(param_shapes(spec).items()):
        rng = np.random.default_rng([seed, 0, i])
        std = np.sqrt(2.0 / np.prod(shape[1:])) if len(shape) > 1 else BIAS_STD
        out[key] = (rng.standard_normal(shape, dtype=np.float32) * np.float32(std))
    return out


def _interp_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) bilinear (align-corners off) interpolation weights."""
    t = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    i0 = np.floor(t).astype(int)
    i1 = np.minimum(i0 + 1, n_in - 1)
    f = t - i0
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), i0), 1 - f)
    np.add.at(m, (np.arange(n_out), i1), f)
    return m


def smooth_images(n: int, shape, *, seed: int = 0, stream: int = 2) -> np.ndarray:
    """n spatially smooth images (n, C, H, W) in [0, 1]: uniform noise on grids of about H/16 and
    H/4 cells, bilinearly upsampled, summed (amplitudes 1 and 0.35) and stretched to [0, 1] per
    image. Image i draws from its own stream (seed, stream, i), so a smaller n gives a prefix."""
    c, h, w = shape
    out = np.empty((n, c, h, w))
    for i in range(n):
        rng = np.random.default_rng([seed, stream, i])
        img = np.zeros((c, h, w))
        for div, amp in ((16, 1.0), (4, 0.35)):
            gh, gw = max(2, h // div), max(2, w // div)
            low = rng.random((c, gh, gw))
            img += amp * (_interp_matrix(h, gh) @ low @ _interp_matrix(w, gw).T)
        lo, hi = img.min(), img.max()
        out[i] = (img - lo) / (hi - lo) if hi > lo else 0.5
    return out


# ---------------------------------------------------------------- registry


@dataclass(frozen=True)
class ZooEntry:
    """One zoo network: its float graph builder and figures per inference."""

    name: str
    description: str
    build: Callable[[], dict]
    input_shape: tuple[int, ...]
    macs: int  # multiply-accumulates per inference (conv2d + linear)
    layers: int  # conv2d + linear nodes
    eval_samples: int
    calib_samples: int


def _entry(name: str, description: str, build: Callable[[], dict], eval_samples: int, calib_samples: int):
    spec = build()
    macs = count_macs(spec)
    return name, ZooEntry(name, description, build, tuple(spec["input"]["shape"]), sum(macs.values()),
                          len(macs), eval_samples, calib_samples)


ZOO: dict[str, ZooEntry] = dict([
    _entry("lenet5", "LeNet-5, MNIST 1x28x28: 2 conv + 3 fc", lenet5, 64, 32),
    _entry("resnet20", "ResNet-20, CIFAR-10 3x32x32: 19 conv + fc, 1x1 projection shortcuts", resnet20, 16, 32),
    _entry("resnet18", "ResNet-18, ImageNet 3x224x224 (torchvision layout)", resnet18, 2, 4),
    _entry("squeezenet1_1", "SqueezeNet 1.1, ImageNet 3x224x224 (torchvision layout)", squeezenet1_1, 2, 4),
])


def get(name: str) -> ZooEntry:
    """The entry for `name`; WorkloadError listing the names (with a close match) otherwise."""
    if name in ZOO:
        return ZOO[name]
    close = difflib.get_close_matches(str(name), list(ZOO), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise WorkloadError(f"unknown zoo network {name!r}; {hint}available: {', '.join(ZOO)}")


def make(name: str, out=None, *, seed: int = 0, samples: int | None = None) -> Workload:
    """Build zoo network `name` as a validated Workload (written to directory `out` when given).

    Deterministic for a given `seed`: weights, `calib_samples` calibration images (stored as
    calib.npz) and `samples` (default `eval_samples`) unlabeled eval images (eval.npz).
    """
    entry = get(name)
    for what, v, lo in (("seed", seed, 0), ("samples", entry.eval_samples if samples is None else samples, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise WorkloadError(f"zoo: {what} must be an integer >= {lo}, got {v!r}")
    n = entry.eval_samples if samples is None else int(samples)
    spec = entry.build()
    params = init_params(spec, seed)
    calib = smooth_images(entry.calib_samples, entry.input_shape, seed=seed, stream=1)
    ev = smooth_images(n, entry.input_shape, seed=seed, stream=2)
    desc = (f"{entry.description}; synthetic He-normal weights and smooth inputs, seed {seed} "
            f"(isaacsim zoo, shape-faithful, not trained)")
    return quantize_graph(spec, params, calib, name=name, description=desc, eval=ev, out=out)


__all__ = ["ZOO", "ZooEntry", "get", "init_params", "lenet5", "make", "resnet18", "resnet20",
           "smooth_images", "squeezenet1_1"]
