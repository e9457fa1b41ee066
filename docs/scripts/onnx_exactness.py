"""The exactness table of docs/importing.md: two small torch models, exported with torch.onnx.export
and quantized by onnxruntime's quantize_static in QDQ and QOperator format (per-channel QInt8
weights; QUInt8 or QInt8 activations), imported, and compared with onnxruntime on random inputs:
output codes of the reference executor and of `simulate` with an ideal ADC (trq preset, signed
inputs enabled for int8 activations).

    python docs/scripts/onnx_exactness.py [--samples 64] [--dir onnx_exactness]
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

import isaacsim
from isaacsim.workload.reference import execute

ROOT = Path(__file__).resolve().parents[2]


def _small_models():
    """Residual and Branches of tests/support/torch_models.py (the importer's test models)."""
    spec = importlib.util.spec_from_file_location("torch_models", ROOT / "tests" / "support" / "torch_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Residual, mod.Branches


class _Reader(CalibrationDataReader):
    def __init__(self, x):
        self.it = iter([{"x": x[i:i + 1]} for i in range(len(x))])

    def get_next(self):
        return next(self.it, None)


def _row(path: Path, x: np.ndarray, signed: bool) -> tuple[int, int, int]:
    wl = isaacsim.import_onnx(path, eval=x)
    y = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    f = wl.formats[wl.output]
    want = np.rint(y / np.float32(f.scale)).astype(np.int64) + f.zero_point
    arch = isaacsim.load_arch("trq", overrides={"adc.mode": "ideal", "datapath.input_signed": signed})
    sim = isaacsim.simulate(arch, wl, timing=False).outputs
    return want.size, int((execute(wl, wl.eval.x) == want).sum()), int((sim == want).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--dir", type=Path, default=Path("onnx_exactness"))
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    ort.set_default_logger_severity(3)
    rng = np.random.default_rng(0)
    calib = rng.standard_normal((8, 3, 8, 8)).astype(np.float32)
    x = rng.standard_normal((args.samples, 3, 8, 8)).astype(np.float32)
    print("| model | format | activations | codes | reference equal | simulate equal |")
    print("|---|---|---|---|---|---|")
    torch.manual_seed(0)
    for cls in _small_models():
        f = args.dir / f"{cls.__name__.lower()}.onnx"
        torch.onnx.export(cls().eval(), torch.from_numpy(calib[:1]), str(f), input_names=["x"], output_names=["y"],
                          opset_version=13, dynamo=False, dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
        for fmt in ("QDQ", "QOperator"):
            for act in (QuantType.QUInt8, QuantType.QInt8):
                q = args.dir / f"{f.stem}_{fmt}_{act.name}.onnx"
                quantize_static(str(f), str(q), _Reader(calib), quant_format=getattr(QuantFormat, fmt),
                                per_channel=True, weight_type=QuantType.QInt8, activation_type=act)
                n, ref, sim = _row(q, x, act == QuantType.QInt8)
                print(f"| {f.stem} | {fmt} | {act.name} | {n} | {ref} | {sim} |")


if __name__ == "__main__":
    main()
