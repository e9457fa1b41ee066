"""Workload directories: load (validate arrays and infer shapes node by node) and save."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

from isaacsim.errors import WorkloadError
from isaacsim.files import load_yaml, yaml_error_text
from isaacsim.workload.format import (
    ARRAYS,
    CALIB,
    EVAL,
    MANIFEST,
    Manifest,
    TensorFormat,
    parse_manifest,
)
from isaacsim.workload.im2col import conv_output_hw, pool_output_hw


def pair(v) -> tuple[int, int]:
    """int or (h, w) -> (h, w)."""
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def weight_dtype(bits: int) -> np.dtype:
    """int8 weights up to 8 bits, int16 above."""
    return np.dtype(np.int8) if bits <= 8 else np.dtype(np.int16)


@dataclass(frozen=True)
class Dataset:
    """Integer inputs x (B, *input.shape) and optional integer labels y (B,)."""

    x: np.ndarray
    y: np.ndarray | None = None


@dataclass(frozen=True)
class Workload:
    """A loaded, validated workload: manifest, read-only arrays, optional calib/eval data, inferred shapes."""

    manifest: Manifest
    arrays: Mapping[str, np.ndarray]
    calib: Dataset | None = None
    eval: Dataset | None = None
    path: Path | None = None
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    formats: Mapping[str, TensorFormat] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def nodes(self):
        return self.manifest.graph

    @property
    def output(self) -> str:
        """Name of the output node (the last one)."""
        return self.manifest.graph[-1].name

    def node(self, name: str):
        for n in self.manifest.graph:
            if n.name == name:
                return n
        raise KeyError(name)


# ---------------------------------------------------------------- validation


def _array(arrays, key: str, node, what: str, dtype, shape) -> np.ndarray:
    where = f"{ARRAYS}: layer {node.name!r}"
    if key not in arrays:
        raise WorkloadError(f"{where}: {what} array {key!r} is missing")
    a = arrays[key]
    if a.dtype != np.dtype(dtype):
        raise WorkloadError(f"{where}: {what} array {key!r} has dtype {a.dtype}, expected {np.dtype(dtype)}")
    if tuple(a.shape) != tuple(shape):
        raise WorkloadError(f"{where}: {what} array {key!r} has shape {tuple(a.shape)}, expected {tuple(shape)}")
    return a


def _check_matrix(n, arrays, w_shape, cout: int) -> None:
    w = _array(arrays, n.weight, n, "weight", weight_dtype(n.weight_bits), w_shape)
    lim = (1 << (n.weight_bits - 1)) - 1
    if w.size and int(np.abs(w.astype(np.int64)).max()) > lim:
        raise WorkloadError(f"{ARRAYS}: layer {n.name!r}: weights exceed the symmetric {n.weight_bits}-bit range "
                            f"-{lim}..{lim}")
    if n.bias is not None:
        _array(arrays, n.bias, n, "bias", np.int32, (cout,))
    if isinstance(n.requant.multiplier, str):
        dyadic = n.requant.mode == "dyadic"
        m = _array(arrays, n.requant.multiplier, n, "multiplier", np.int32 if dyadic else np.float32, (cout,))
        if dyadic and m.size and m.min() < 0:
            raise WorkloadError(f"{ARRAYS}: layer {n.name!r}: multipliers must be >= 0")
        if not dyadic and m.size and not (np.all(np.isfinite(m)) and m.min() > 0):
            raise WorkloadError(f"{ARRAYS}: layer {n.name!r}: float32 multipliers must be finite and > 0")
    if isinstance(n.weight_scale, tuple) and len(n.weight_scale) not in (1, cout):
        raise WorkloadError(f"{MANIFEST}: layer {n.name!r}: weight_scale has {len(n.weight_scale)} entries "
                            f"for {cout} output channels")


def _conv2d_shape(n, ins, fin, arrays, where: str):
    s0 = ins[0]
    cin = s0[0]
    if cin % n.groups or n.out_channels % n.groups:
        raise WorkloadError(f"{where}: in_channels {cin} and out_channels {n.out_channels} "
                            f"must be divisible by groups={n.groups}")
    kh, kw = pair(n.kernel)
    _check_matrix(n, arrays, (n.out_channels, cin // n.groups, kh, kw), n.out_channels)
    ho, wo = conv_output_hw(s0[1:], (kh, kw), pair(n.stride), pair(n.padding), pair(n.dilation))
    if ho < 1 or wo < 1:
        raise WorkloadError(f"{where}: kernel {n.kernel} does not fit the {s0[1]}x{s0[2]} input")
    return (n.out_channels, ho, wo), n.requant.fmt()


def _linear_shape(n, ins, fin, arrays, where: str):
    s0 = ins[0]
    if len(s0) != 1:
        raise WorkloadError(f"{where}: linear needs a (features,) input, got shape {s0} (add a flatten)")
    _check_matrix(n, arrays, (n.out_features, s0[0]), n.out_features)
    return (n.out_features,), n.requant.fmt()


def _pool_shape(n, ins, fin, arrays, where: str):
    s0 = ins[0]
    k = pair(n.kernel)
    s = pair(n.stride if n.stride is not None else n.kernel)
    p = pair(n.padding)
    if min(k) < 1 or min(s) < 1 or min(p) < 0 or p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise WorkloadError(f"{where}: need kernel, stride >= 1 and 0 <= padding <= kernel/2")
    ho, wo = pool_output_hw(s0[1:], k, s, p, n.ceil_mode)
    if ho < 1 or wo < 1:
        raise WorkloadError(f"{where}: kernel {n.kernel} does not fit the {s0[1]}x{s0[2]} input")
    return (s0[0], ho, wo), fin[0] if n.requant is None else n.requant.fmt()


def _global_avgpool_shape(n, ins, fin, arrays, where: str):
    return (ins[0][0], 1, 1), fin[0] if n.requant is None else n.requant.fmt()


def _flatten_shape(n, ins, fin, arrays, where: str):
    return (int(np.prod(ins[0])),), fin[0]


def _relu_shape(n, ins, fin, arrays, where: str):
    return ins[0], fin[0]


def _merge_shape(n, ins, fin, arrays, where: str):
    """add (equal shapes) or concat (along channels)."""
    op, s0 = n.op, ins[0]
    if len(n.inputs) < 2:
        raise WorkloadError(f"{where}: {op} needs at least two inputs")
    if len(n.requant.multipliers) != len(n.inputs):
        raise WorkloadError(f"{where}: {len(n.requant.multipliers)} multipliers for {len(n.inputs)} inputs")
    if n.requant.mode == "float32_fma" and (op != "add" or len(n.inputs) != 2):
        raise WorkloadError(f"{where}: requant mode float32_fma applies to an add of two inputs")
    if op == "add":
        if any(s != s0 for s in ins):
            raise WorkloadError(f"{where}: add inputs have different shapes {ins}")
        return s0, n.requant.fmt()
    if any(len(s) != len(s0) or s[1:] != s0[1:] for s in ins):
        raise WorkloadError(f"{where}: concat inputs differ in more than channels: {ins}")
    return (sum(s[0] for s in ins), *s0[1:]), n.requant.fmt()


_SHAPES = {
    "conv2d": _conv2d_shape, "linear": _linear_shape, "maxpool": _pool_shape, "avgpool": _pool_shape,
    "global_avgpool": _global_avgpool_shape, "flatten": _flatten_shape, "relu": _relu_shape,
    "add": _merge_shape, "concat": _merge_shape,
}
"""Per op: (node, input shapes, input formats, arrays, where) -> (output shape, output format), after
checking the node's arrays and that its kernel fits."""

_CHW_OPS = ("conv2d", "maxpool", "avgpool", "global_avgpool", "flatten")
"""Ops whose input must be (C, H, W)."""


def _check_inputs(n, shapes: Mapping[str, tuple[int, ...]], all_names: set[str], where: str) -> None:
    if n.name in shapes:
        raise WorkloadError(f"{where}: duplicate node name")
    for i in n.inputs:
        if i not in shapes:
            why = ("is defined later or forms a cycle (nodes must come after their inputs)"
                   if i in all_names else "names no node")
            raise WorkloadError(f"{where}: input {i!r} {why}")


def infer(manifest: Manifest, arrays: Mapping[str, np.ndarray]):
    """Check references, arrays and shapes node by node; return (shapes, formats) per node name."""
    shapes: dict[str, tuple[int, ...]] = {"input": tuple(manifest.input.shape)}
    formats: dict[str, TensorFormat] = {"input": manifest.input.fmt()}
    all_names = {n.name for n in manifest.graph}
    for n in manifest.graph:
        where = f"{MANIFEST}: layer {n.name!r}"
        _check_inputs(n, shapes, all_names, where)
        ins = [shapes[i] for i in n.inputs]
        if n.op in _CHW_OPS and len(ins[0]) != 3:
            raise WorkloadError(f"{where}: {n.op} needs a (C, H, W) input, got shape {ins[0]}")
        shapes[n.name], formats[n.name] = _SHAPES[n.op](n, ins, [formats[i] for i in n.inputs], arrays, where)
    return shapes, formats


def _check_data(ds: Dataset, manifest: Manifest, fname: str) -> Dataset:
    x, y = ds.x, ds.y
    inp = manifest.input
    if x.dtype.kind not in "iu":
        raise WorkloadError(f"{fname}: x must be an integer array, got dtype {x.dtype}")
    if tuple(x.shape[1:]) != tuple(inp.shape):
        raise WorkloadError(f"{fname}: x has shape {x.shape}, expected (B, {', '.join(map(str, inp.shape))})")
    if x.size and (int(x.min()) < inp.lo or int(x.max()) > inp.hi):
        raise WorkloadError(f"{fname}: x values must lie in the input code range {inp.lo}..{inp.hi}")
    if y is not None:
        if y.dtype.kind not in "iu":
            raise WorkloadError(f"{fname}: y must be an integer array, got dtype {y.dtype}")
        if y.shape != (x.shape[0],):
            raise WorkloadError(f"{fname}: y has shape {y.shape}, expected ({x.shape[0]},)")
    return ds


# ---------------------------------------------------------------- files


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file, read-only; a damaged file is one WorkloadError naming it."""
    if not zipfile.is_zipfile(path):
        raise WorkloadError(f"{path.name}: not a valid npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {}
            for k in z.files:
                a = z[k]
                a.setflags(write=False)
                out[k] = a
            return out
    except ValueError as e:
        if "object arrays" in str(e).lower():
            raise WorkloadError(f"{path.name}: holds object (pickled) arrays, which are not allowed") from None
        raise WorkloadError(f"{path.name}: not a valid npz file ({e})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise WorkloadError(f"{path.name}: not a valid npz file ({e})") from None


def _read_data(path: Path, manifest: Manifest) -> Dataset | None:
    if not path.exists():
        return None
    d = _read_npz(path)
    extra = set(d) - {"x", "y"}
    if "x" not in d or extra:
        raise WorkloadError(f"{path.name}: must hold 'x' and optionally 'y', found {sorted(d)}")
    return _check_data(Dataset(d["x"], d.get("y")), manifest, path.name)


def build(manifest: Manifest | Mapping[str, Any], arrays: Mapping[str, np.ndarray],
          calib: Dataset | None = None, eval: Dataset | None = None, path: Path | None = None) -> Workload:
    """Validate parts into a Workload (no files)."""
    if not isinstance(manifest, Manifest):
        manifest = parse_manifest(dict(manifest))
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for k, a in arrays.items():
        if a.dtype == object:
            raise WorkloadError(f"{ARRAYS}: array {k!r} is an object array, which is not allowed")
    shapes, formats = infer(manifest, arrays)
    calib = _check_data(_as_dataset(calib), manifest, CALIB) if calib is not None else None
    eval = _check_data(_as_dataset(eval), manifest, EVAL) if eval is not None else None
    return Workload(manifest, MappingProxyType(arrays), calib, eval, path,
                    MappingProxyType(shapes), MappingProxyType(formats))


def _as_dataset(d) -> Dataset:
    if isinstance(d, Dataset):
        return d
    if isinstance(d, Mapping):
        return Dataset(np.asarray(d["x"]), None if d.get("y") is None else np.asarray(d["y"]))
    x, y = d if isinstance(d, tuple) else (d, None)
    return Dataset(np.asarray(x), None if y is None else np.asarray(y))


def load_workload(path) -> Workload:
    """Load and validate a workload directory (workload.yaml + arrays.npz [+ calib.npz, eval.npz]).

    Every problem is one WorkloadError that names the directory, then the file and the layer."""
    root = Path(path)
    if not root.is_dir():
        raise WorkloadError(f"{root}: not a workload directory")
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise WorkloadError(f"{mpath}: manifest missing{_workload_hint(root)}")
    try:
        manifest = parse_manifest(_read_manifest(mpath))
        apath = root / ARRAYS
        if not apath.is_file():
            raise WorkloadError(f"{ARRAYS}: arrays file missing")
        arrays = _read_npz(apath)
        calib = _read_data(root / CALIB, manifest)
        ev = _read_data(root / EVAL, manifest)
        return build(manifest, arrays, calib, ev, root)
    except WorkloadError as e:
        raise WorkloadError(f"{root}: {e}") from None


def _read_manifest(mpath: Path) -> Any:
    try:
        text = mpath.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise WorkloadError(f"{MANIFEST}: cannot read ({type(e).__name__}: {e})") from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as e:
        raise WorkloadError(f"{MANIFEST}: {yaml_error_text(e)}") from None


def _workload_hint(root: Path) -> str:
    """Where the workload may be when `root` holds none: `root/workload` (what `isaacsim train
    --out DIR` writes), else the sub-folders that hold a workload.yaml."""
    inner = root / "workload"
    if (inner / MANIFEST).is_file():
        return f"; {root} looks like the output of isaacsim train --out: its workload is {inner}"
    try:
        subs = sorted(p.name for p in root.iterdir() if (p / MANIFEST).is_file())
    except OSError:
        return ""
    if not subs:
        return ""
    more = f" and {len(subs) - 5} more" if len(subs) > 5 else ""
    return f"; workload folders in {root}: {', '.join(subs[:5])}{more}"


def save_workload(workload: Workload | Manifest | Mapping[str, Any], path, *, arrays=None,
                  calib=None, eval=None, compress: bool = False) -> Workload:
    """Write a Workload, or (manifest, arrays=..., calib=..., eval=...) parts, to a directory; validates
    first and returns the reloaded Workload. Data sets: Dataset, (x, y) tuple, {'x','y'} dict or x.
    ``compress`` deflates the .npz files (smaller, slower to write; np.load reads both)."""
    if isinstance(workload, Workload):
        wl = workload
        if arrays is not None or calib is not None or eval is not None:
            wl = build(wl.manifest, arrays if arrays is not None else wl.arrays,
                       calib if calib is not None else wl.calib, eval if eval is not None else wl.eval)
    else:
        if arrays is None:
            raise WorkloadError("save_workload: arrays are required with a manifest")
        wl = build(workload, arrays, calib, eval)
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(wl.manifest.model_dump(mode="json", exclude_defaults=False), sort_keys=False)
    (root / MANIFEST).write_text(text)
    savez = np.savez_compressed if compress else np.savez
    savez(root / ARRAYS, **dict(wl.arrays))
    for fname, ds in ((CALIB, wl.calib), (EVAL, wl.eval)):
        if ds is None:
            (root / fname).unlink(missing_ok=True)
        else:
            savez(root / fname, **({"x": ds.x} if ds.y is None else {"x": ds.x, "y": ds.y}))
    return load_workload(root)
