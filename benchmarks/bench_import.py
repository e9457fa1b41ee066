"""Importing published models: ResNet-18, MobileNetV2, SqueezeNet 1.1, VGG-11-BN and GoogLeNet at full size.

Each model (tests/support/torch_models.py: written layer for layer as torchvision defines them,
seeded random weights) is exported with torch.onnx.export, quantized with onnxruntime's
quantize_static (QDQ, per-channel symmetric int8 weights, uint8 activations, a few random
calibration images), imported with `isaacsim.import_onnx` and run on arch_configs/trq.yaml with an
ideal ADC (`adc.mode: ideal`, `chip.auto_tiles: true`). Per model it prints the ONNX op types of
the float model, the import time, how many output codes and top-1 classes equal onnxruntime's
(through `simulate`, whose outputs are the reference executor's with the crossbar products swapped
in), and the `simulate` time (functional datapath only, no timing model).

--smoke: 32x32 inputs, one sample, one calibration image, ResNet-18 only (a quick check).

Run: python benchmarks/bench_import.py [--size 224] [--samples 2] [--calib 4] [--models resnet18 ...] [--smoke]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _models():
    """tests/support/torch_models.py (the repository root on the path: benchmarks/ is not a package)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("tests.support.torch_models")


def run_model(tm, name: str, size: int, samples: int, calib: int, work: Path, arch) -> dict:
    import onnx
    import onnxruntime as ort

    import isaacsim

    rng = np.random.default_rng(0)
    cal = rng.standard_normal((calib, 3, size, size)).astype(np.float32)
    x = rng.standard_normal((samples, 3, size, size)).astype(np.float32)
    kw = {"pool": 1} if name == "vgg11_bn" and size < 224 else {}
    f, q = work / f"{name}.onnx", work / f"{name}_qdq.onnx"
    t = time.perf_counter()
    tm.export_onnx(tm.build(name, **kw), (3, size, size), f)
    tm.quantize_qdq(f, q, cal)
    t_quant = time.perf_counter() - t
    ops = sorted({n.op_type for n in onnx.load(str(f)).graph.node})
    t = time.perf_counter()
    wl = isaacsim.import_onnx(q, eval=x)
    t_import = time.perf_counter() - t
    y = ort.InferenceSession(str(q), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    fo = wl.formats[wl.output]
    want = np.rint(y / np.float32(fo.scale)).astype(np.int64) + fo.zero_point
    t = time.perf_counter()
    res = isaacsim.simulate(arch, wl, timing=False)
    t_sim = time.perf_counter() - t
    return {"model": name, "ops": ops, "nodes": len(wl.nodes), "quantize_s": t_quant, "import_s": t_import,
            "codes": want.size, "codes_equal": int((res.outputs == want).sum()),
            "top1_equal": int((res.outputs.argmax(1) == want.argmax(1)).sum()), "samples": samples,
            "simulate_s": t_sim}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=224, help="input height and width (default 224)")
    p.add_argument("--samples", type=int, default=2, help="random input images compared (default 2)")
    p.add_argument("--calib", type=int, default=4, help="random calibration images (default 4)")
    p.add_argument("--models", nargs="+", help="a subset of the five (default all)")
    p.add_argument("--smoke", action="store_true",
                   help="32x32, one sample and calibration image, resnet18 only: a quick check")
    args = p.parse_args()
    if args.smoke:
        args.size, args.samples, args.calib = 32, 1, 1
        args.models = args.models or ["resnet18"]
    warnings.filterwarnings("ignore")
    import logging

    import onnxruntime as ort
    import torch

    import isaacsim

    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's advice to pre-process
    ort.set_default_logger_severity(3)
    torch.set_num_threads(1)  # torch's spinning idle threads slow the numba datapath down
    tm = _models()
    arch = isaacsim.load_arch("trq", overrides={"adc.mode": "ideal", "chip.auto_tiles": True})
    print("| model | ONNX ops | nodes | import (s) | codes equal | top-1 equal | simulate on trq (s) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for name in args.models or list(tm.MODELS):
            r = run_model(tm, name, args.size, args.samples, args.calib, Path(d), arch)
            print(f"| {name} {args.size}x{args.size} | {', '.join(r['ops'])} | {r['nodes']} | {r['import_s']:.2f} | "
                  f"{r['codes_equal']} of {r['codes']} | {r['top1_equal']} of {r['samples']} | "
                  f"{r['simulate_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
