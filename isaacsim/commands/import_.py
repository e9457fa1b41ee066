"""`isaacsim import MODEL.onnx --out DIR`: an ONNX model (QDQ, QOperator or float) as a workload
directory. The import itself is `isaacsim.importers.import_onnx` (docs/importing.md)."""

from __future__ import annotations

import argparse

NAME = "import"
HELP = "import an ONNX model (QDQ, QOperator, or float with calibration data) as a workload"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL.onnx", help="ONNX model file")
    p.add_argument("--out", metavar="DIR", required=True, help="workload directory to write")
    p.add_argument("--calib-data", metavar="FILE.npz",
                   help="npz with float x (N x the input shape) and optional labels y: calibration data "
                        "(required for a float model)")
    p.add_argument("--eval-data", metavar="FILE.npz", help="npz with float x and optional labels y: evaluation data")
    p.add_argument("--name", help="workload name (default: the model file's name)")


def run(args: argparse.Namespace) -> int:
    from isaacsim.importers import import_onnx
    from isaacsim.mapping.layers import layers_of

    wl = import_onnx(args.model, out=args.out, calib=args.calib_data, eval=args.eval_data, name=args.name)
    n = 0 if wl.eval is None else int(wl.eval.x.shape[0])
    mode = "float32" if any(getattr(getattr(nd, "requant", None), "mode", "") == "float32" for nd in wl.nodes) \
        else "dyadic"
    print(f"wrote workload {wl.name!r} to {args.out}: {len(wl.nodes)} nodes, {len(layers_of(wl))} matrix layers, "
          f"{mode} requantization, {n} eval samples")
    return 0
