"""A third-party quantizer's QDQ model: Brevitas (Xilinx) QCDQ export, imported and checked against onnxruntime.

The network of tests/support/brevitas_models.py (int8 input, two 3x3 QuantConv2d with QuantReLU, a
residual add requantized by a QuantIdentity, MaxPool, QuantLinear with an int8 output; 8-bit
per-channel symmetric weights, int32 biases) is calibrated, exported with
`brevitas.export.export_onnx_qcdq`, imported with `isaacsim.import_onnx` and run on random inputs
(three times the calibration data's spread, so the activation clamps are reached) through the
reference executor and `simulate` on trq with an ideal ADC and a signed 9-bit input datapath. It
prints, per ReLU bit width (8, and 4: QuantizeLinear -> Clip(0, 15) -> DequantizeLinear), how many
output codes equal onnxruntime's.

--smoke: 4 samples (a quick check that it runs).

Run: python benchmarks/bench_brevitas.py [--samples 64] [--smoke]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _models():
    """tests/support/brevitas_models.py (the repository root on the path: benchmarks/ is not a package)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("tests.support.brevitas_models")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--smoke", action="store_true", help="4 samples: a quick check that it runs")
    args = ap.parse_args(argv)
    if args.smoke:
        args.samples = 4
    import onnxruntime as ort

    import isaacsim
    from isaacsim.workload.reference import execute

    ort.set_default_logger_severity(3)
    bm = _models()
    arch = isaacsim.load_arch("trq", overrides={"adc.mode": "ideal", "datapath.input_signed": True,
                                                "datapath.input_bits": 9})
    x = 3 * np.random.default_rng(1).standard_normal((args.samples, 3, bm.HW, bm.HW)).astype(np.float32)
    print("| ReLU bits | workload ops | reference equal | simulate equal |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for bits in (8, 4):
            path = Path(d) / f"brevitas_a{bits}.onnx"
            bm.export_qcdq(path, bits)
            wl = isaacsim.import_onnx(path, eval=x)
            y = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
            f = wl.formats[wl.output]
            want = np.rint(y / np.float32(f.scale)).astype(np.int64) + f.zero_point
            ref = int((execute(wl, wl.eval.x) == want).sum())
            sim = int((isaacsim.simulate(arch, wl, timing=False).outputs == want).sum())
            ops = ", ".join(n.op for n in wl.nodes)
            print(f"| {bits} | {ops} | {ref} of {want.size} | {sim} of {want.size} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
