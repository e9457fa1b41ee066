"""The search behind ``isaacsim train``'s default learning rate, schedule and alpha window.

LeNet-5 on MNIST-5k, W4A8, 3 epochs, batch 64, SGD with momentum 0.9, no weight decay and a
linear warm-up over the first 10 % of the steps (held fixed). Every (lr, schedule, window) cell
trains AB and STE with three seeds; the score is the mean of those six runs' fake-quantized
accuracy. The runs are scored on 1,000
images held out of the *training* split (3,000 train on): the test split, which the accuracy
table in docs/training.md reports, plays no part in choosing the defaults. The fp32 rows (no
window) give the float model at each lr and schedule for scale. Prints a Markdown table, best
cell first. Single-threaded, in one process; about 10 minutes on one core.
How to read it: docs/training.md, section "Defaults".

    PYTHONPATH=. python docs/scripts/train_defaults.py [--seeds 0 1 2] [--epochs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import statistics
import tempfile
import time

import numpy as np
import torch

from isaacsim.train import loop
from isaacsim.train.data import load_images

LRS = (0.02, 0.05, 0.1, 0.2)
SCHEDULES = ("cosine", "constant")
WINDOWS = ((0.3, 0.8), (0.5, 0.8), (0.5, 0.9), (0.7, 0.95))
VALID = 1000


def _validation_split(cfg: loop.TrainConfig) -> loop._Data:
    """The training split cut in two: the first len - VALID (seeded order) train, the rest score."""
    (x, y), (xc, yc) = load_images(cfg.dataset, cfg.model, "train", None, cfg.seed, cfg.data_root,
                                   calib=cfg.calib)
    perm = torch.from_numpy(np.random.default_rng(12345).permutation(len(x)))
    tr, va = perm[:-VALID], perm[-VALID:]
    return loop._Data(x[tr], y[tr], xc, yc, x[va], y[va])


def run(method: str, lr: float, schedule: str, window, seed: int, epochs: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        cfg = loop.TrainConfig(model="lenet5", dataset="mnist5k", out=out, method=method, wbits=4, abits=8,
                               epochs=epochs, seed=seed, lr=lr, schedule=schedule, window=window,
                               optimizer="sgd", momentum=0.9, weight_decay=0.0, warmup=0.1, quiet=True)
        with contextlib.redirect_stdout(io.StringIO()):  # the per-epoch lines
            res = loop.train(cfg)
    return res["fp32_accuracy"] if method == "fp32" else res["qat_accuracy"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args(argv)
    loop._Data.load = classmethod(lambda cls, cfg: _validation_split(cfg))
    start = time.perf_counter()
    rows = []
    for lr, schedule, window in itertools.product(LRS, SCHEDULES, WINDOWS):
        acc = {m: [run(m, lr, schedule, window, s, args.epochs) for s in args.seeds] for m in ("ab", "ste")}
        rows.append((statistics.mean(acc["ab"] + acc["ste"]), lr, schedule, window, acc))
    fp32 = {(lr, sc): statistics.mean(run("fp32", lr, sc, (0.3, 0.8), s, args.epochs) for s in args.seeds)
            for lr, sc in itertools.product(LRS, SCHEDULES)}
    rows.sort(key=lambda r: -r[0])
    print(f"LeNet-5, MNIST-5k (3,000 train / {VALID:,} validation images of the train split), W4A8, "
          f"{args.epochs} epochs, SGD momentum 0.9, warm-up 0.1, seeds {args.seeds}; validation accuracy (%)")
    print()
    print("| lr | schedule | window | AB | STE | mean | fp32 (same lr, schedule) |")
    print("|---|---|---|---|---|---|---|")
    for score, lr, schedule, window, acc in rows:
        ab, ste = (100 * statistics.mean(acc[m]) for m in ("ab", "ste"))
        print(f"| {lr:g} | {schedule} | {window[0]:g}-{window[1]:g} | {ab:.2f} | {ste:.2f} | {100 * score:.2f} "
              f"| {100 * fp32[(lr, schedule)]:.2f} |")
    print()
    print(f"{len(rows) * 2 * len(args.seeds) + len(fp32) * len(args.seeds)} runs, "
          f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
