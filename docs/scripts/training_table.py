"""Reproduce the accuracy table of docs/training.md: LeNet-5 on MNIST-5k, fp32 / PTQ / AB / STE.

Runs ``isaacsim train`` for every (method, setting, seed) into ``RUNS/<method>_w<W>a<A>_s<seed>``
with a pool of local processes (each run single-threaded), then prints the Markdown table of
held-out accuracies (mean +- sample std over seeds).  Runs resume from their checkpoints, and a
finished run is only re-read, so the script can be killed and started again.

    python docs/scripts/training_table.py [--runs runs/training_table] [--workers 2]
        [--epochs 30] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SETTINGS = ((8, 8), (4, 8), (4, 4))
METHODS = ("ptq", "ab", "ste")


def run_one(runs: Path, method: str, w: int, a: int, seed: int, epochs: int) -> dict | None:
    out = runs / f"{method}_w{w}a{a}_s{seed}"
    res = out / "results.json"
    if res.is_file():
        done = json.loads(res.read_text())
        if done.get("epochs_completed") == epochs:
            return done
    cmd = [sys.executable, "-m", "isaacsim.cli", "train", "lenet5", "--dataset", "mnist5k",
           "--method", method, "--wbits", str(w), "--abits", str(a), "--epochs", str(epochs),
           "--seed", str(seed), "--out", str(out), "--quiet"]
    log = out.with_suffix(".log")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    if rc != 0:
        print(f"FAILED (exit {rc}): {' '.join(cmd)}; see {log}", file=sys.stderr)
        return None
    return json.loads(res.read_text())


def fmt(values: list[float]) -> str:
    pct = [100 * v for v in values]
    sd = statistics.stdev(pct) if len(pct) > 1 else 0.0
    return f"{statistics.mean(pct):.2f} ± {sd:.2f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path("runs/training_table"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--settings", nargs="+", default=[f"W{w}A{a}" for w, a in SETTINGS],
                    help="weight/activation bits, e.g. W8A8 W4A4 W2A2")
    args = ap.parse_args(argv)
    settings = []
    for text in args.settings:
        w, _, a = text.upper().removeprefix("W").partition("A")
        settings.append((int(w), int(a)))
    jobs = [(m, w, a, s) for m in METHODS for (w, a) in settings for s in args.seeds]
    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(lambda j: run_one(args.runs, *j, args.epochs), jobs))
    if any(r is None for r in results):
        print("some runs failed; run this script again once fixed (finished runs are kept)",
              file=sys.stderr)
        return 1
    by = {}
    for (m, w, a, _s), r in zip(jobs, results, strict=True):
        by.setdefault((m, w, a), []).append(r)
    fp32 = [r["fp32_accuracy"] for r in by[("ptq", *settings[0])]]
    print(f"LeNet-5, MNIST-5k, {args.epochs} epochs, seeds {args.seeds}, held-out accuracy (%)")
    print()
    print("| method | " + " | ".join(f"W{w}A{a}" for w, a in settings) + " |")
    print("|---|" + "---|" * len(settings))
    print("| fp32 | " + " | ".join(fmt(fp32) for _ in settings) + " |")
    for m in METHODS:
        cells = [fmt([r["accuracy"] for r in by[(m, w, a)]]) for w, a in settings]
        print(f"| {m.upper()} | " + " | ".join(cells) + " |")
    print()
    print("fake-quantized (training graph, eval mode) vs exported integer accuracy, per run:")
    for (m, w, a), rs in by.items():
        if m == "ptq":
            continue
        diffs = [100 * (r["accuracy"] - r["qat_accuracy"]) for r in rs]
        print(f"  {m} W{w}A{a}: exported - fake-quantized = "
              + ", ".join(f"{d:+.1f}" for d in diffs) + " points")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
