"""`isaacsim train MODEL --dataset NAME --out DIR`: train a model (lenet5, resnet20 or your own module as
FILE.py:FACTORY) with alpha-blending, STE, PTQ or in float, export its integer workload and print a
short summary. The run itself is
`isaacsim.train.loop.train`; torch is imported only when this command runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from isaacsim.commands.options import positive_int
from isaacsim.errors import IsaacsimError

NAME = "train"
HELP = "train a model (alpha-blending, STE, PTQ or float) and export its integer workload"
# the defaults of TrainConfig (isaacsim.train.loop), repeated here so that --help needs no torch;
# tests/test_train_loop.py holds the two equal
LR = 0.1
WINDOW = (0.7, 0.95)
WARMUP = 0.1

def _window(text: str) -> tuple[float, float]:
    try:
        t0, t1 = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two fractions T0,T1 such as 0.3,0.8, got {text!r}") from None
    return t0, t1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL",
                   help="lenet5, resnet20, or FILE.py:FACTORY (a function in FILE.py that returns a torch nn.Module; "
                        "traced by torch.fx)")
    p.add_argument("--dataset", required=True, metavar="NAME",
                   help="digits, mnist5k, mnist or cifar10 (docs/datasets.md)")
    p.add_argument("--method", default="ab", metavar="METHOD",
                   help="ab (alpha-blending, default), ste, ptq (train float, then calibrate) or fp32 (no export)")
    p.add_argument("--wbits", type=int, default=8, metavar="N",
                   help="weight bits, 1..8; 1 is binary weights, +-gamma (default 8)")
    p.add_argument("--abits", type=int, default=8, metavar="N", help="activation bits, 2..8 (default 8)")
    p.add_argument("--epochs", type=positive_int, default=30, metavar="N", help="epochs (default 30)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="run directory: checkpoint.pt, metrics.jsonl, results.json, workload/ (resumes)")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of the weights, subsets and shuffling (default 0)")
    p.add_argument("--batch-size", type=positive_int, default=64, metavar="N", help="batch size (default 64)")
    p.add_argument("--lr", type=float, default=LR, metavar="F",
                   help=f"peak learning rate, reached after the warm-up (and the peak of the one-cycle schedule) "
                        f"(default {LR:g})")
    p.add_argument("--optimizer", default="sgd", metavar="NAME",
                   help="sgd (default: the alpha-blending paper's Algorithm 1, whose step is lr * (1 - alpha)) "
                        "or adam (a departure from the paper: Adam normalises the gradient and so cancels the "
                        "1 - alpha annealing)")
    p.add_argument("--momentum", type=float, default=0.9, metavar="F",
                   help="SGD momentum (default 0.9; 0 is the paper's plain SGD). Weights an AB layer holds "
                        "after T1 get no step, so momentum does not carry them on")
    p.add_argument("--weight-decay", type=float, default=0.0, metavar="F",
                   help="L2 weight decay of the optimizer (default 0); never applied to AB weights after T1")
    p.add_argument("--schedule", default="cosine", metavar="NAME",
                   help="learning-rate schedule over all optimizer steps: cosine (default, to 0 at the end), "
                        "constant, or onecycle")
    p.add_argument("--warmup", type=float, default=WARMUP, metavar="F",
                   help=f"fraction of the optimizer steps over which cosine and constant ramp the learning rate "
                        f"up linearly (default {WARMUP:g}; onecycle has its own)")
    p.add_argument("--data-root", metavar="DIR", help="folder of the mnist/cifar10 files (default: $ISAACSIM_DATA)")
    p.add_argument("--window", type=_window, default=WINDOW, metavar="T0,T1",
                   help="the alpha-blending schedule: alpha rises from 0 at T0 to 1 at T1, as fractions of all "
                        f"optimizer steps (default {WINDOW[0]:g},{WINDOW[1]:g})")
    p.add_argument("--every", type=positive_int, default=1, metavar="F", help="raise alpha every F steps (default 1)")
    p.add_argument("--first-last-bits", type=int, default=8, metavar="N",
                   help="weight bits of the first and last layers and bits of the logits (default 8)")
    p.add_argument("--calib", type=positive_int, default=32, metavar="N",
                   help="training samples kept as the workload's calib set (and PTQ's) (default 32)")
    p.add_argument("--train-samples", type=positive_int, metavar="N", help="train on a seeded subset of N samples")
    p.add_argument("--eval-samples", type=positive_int, metavar="N",
                   help="score on a seeded subset of N test samples")
    p.add_argument("--name", metavar="NAME", help="workload name (default MODEL_DATASET_METHOD_wNaM)")
    p.add_argument("--quiet", action="store_true", help="no progress bar: one line per epoch")
    p.add_argument("--workload", metavar="DIR", help="write the exported workload here (default OUT/workload)")


def run(args: argparse.Namespace) -> int:
    """Build the config, train, print the summary; 0 on success."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise IsaacsimError("isaacsim train needs torch: pip install -c constraints.txt torch==2.13.0") from None
    from dataclasses import fields

    from isaacsim.train.loop import TrainConfig, train

    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})  # one option per field
    res = train(cfg)
    for line in summary_lines(cfg, res):
        print(line)
    sys.stdout.flush()
    return 0


def summary_lines(cfg, res: dict) -> list[str]:
    """The few lines `isaacsim train` prints at the end, from the config and results.json's dict."""
    from isaacsim.train.loop import CHECKPOINT, METRICS, RESULTS

    def pct(v):
        return "-" if v is None else f"{100 * v:.2f} %"

    tag = "fp32" if cfg.method == "fp32" else f"{cfg.method} w{cfg.wbits}a{cfg.abits}"
    lines = [
        f"{cfg.model} on {cfg.dataset} ({tag}): {res['epochs_completed']} epochs, "
        f"{res['train_samples']} training / {res['eval_samples']} held-out samples, {res['seconds']:.1f} s",
        f"held-out accuracy: float {pct(res['fp32_accuracy'])}, fake-quantized {pct(res['qat_accuracy'])}, "
        f"{'exported (exact integer)' if res['exported'] else 'final'} {pct(res['accuracy'])}",
        f"wrote {Path(cfg.out) / RESULTS}, {Path(cfg.out) / METRICS}, {Path(cfg.out) / CHECKPOINT}",
    ]
    if res["exported"]:
        lines.append(f"workload: {res['workload']}   run it: isaacsim run trq {res['workload']}")
    else:
        lines.append("fp32: no workload exported (use --method ab, ste or ptq)")
    return lines
