"""`import_onnx`: an ONNX model (QDQ, QOperator or float) -> a validated workload, written when asked.

Quantized models keep their integers (`quantized.py`); float models are quantized post-training
from calibration data (`floating.py`, then `isaacsim.workload.ptq`). Data files are checked
against the model's input shape (`data.py`) and stored as input codes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from isaacsim.errors import WorkloadError
from isaacsim.importers.data import load_data
from isaacsim.importers.onnx_file import load_onnx
from isaacsim.workload.format import TensorFormat
from isaacsim.workload.io import Dataset, Workload, build, save_workload


def input_codes(fmt: TensorFormat, x) -> np.ndarray:
    """Real inputs -> codes as onnxruntime's QuantizeLinear makes them: float32 x / scale, rounded
    half to even, zero point added, saturated."""
    q = np.rint(np.asarray(x, dtype=np.float32) / np.float32(fmt.scale)).astype(np.int64) + fmt.zero_point
    return np.clip(q, fmt.lo, fmt.hi).astype(np.int8 if fmt.signed else np.uint8)


def _name(path: Path, name: str | None) -> str:
    if name is not None:
        return name
    base = re.sub(r"[^A-Za-z0-9_.\-]", "_", path.stem) or "model"
    return base


def _dataset(fmt: TensorFormat, d) -> Dataset | None:
    return None if d is None else Dataset(input_codes(fmt, d[0]), d[1])


def import_onnx(model, out=None, calib=None, eval=None, name: str | None = None) -> Workload:
    """Import ONNX file `model` as a Workload (written to directory `out` when given).

    calib / eval: an npz path with float `x` (N x the model's input shape) and optional integer
    labels `y`, an (x, y) pair or an array x. A quantized model (QDQ or QOperator) keeps its integer
    weights, scales and zero points, with onnxruntime's float32 requantization; a float model is
    quantized post-training from `calib` (required then). Raises WorkloadError with one line for a
    bad file, an unsupported op (naming the node) or data of the wrong shape.
    """
    from isaacsim.importers.quantized import is_quantized, quantized_graph

    m = load_onnx(model)
    cal = load_data(calib, m.input_shape, "calib")
    ev = load_data(eval, m.input_shape, "eval")
    wl_name = _name(m.path, name)
    if is_quantized(m):
        fmt, graph, arrays = quantized_graph(m)
        man = {"format_version": 1, "name": wl_name, "description": f"imported from {m.path.name}",
               "input": {"shape": list(m.input_shape), "bits": fmt.bits, "signed": fmt.signed,
                         "scale": float(fmt.scale), "zero_point": int(fmt.zero_point)},
               "graph": graph}
        c, e = _dataset(fmt, cal), _dataset(fmt, ev)
        if out is not None:
            return save_workload(man, Path(out), arrays=arrays, calib=c, eval=e)
        return build(man, arrays, c, e)
    from isaacsim.importers.floating import float_graph
    from isaacsim.workload.ptq import quantize_graph

    if cal is None:
        raise WorkloadError(f"{m.path.name}: a float model is quantized post-training and needs calibration "
                            f"data (--calib-data FILE.npz)")
    spec, params = float_graph(m, cal[0])
    return quantize_graph(spec, params, cal[0], calib_y=cal[1], name=wl_name,
                          description=f"imported from {m.path.name} (post-training quantized)",
                          eval=ev, out=out)
