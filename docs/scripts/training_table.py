"""Reproduce the accuracy table of docs/training.md: LeNet-5 on MNIST-5k, fp32 / PTQ / AB / STE.

Runs ``isaacsim train`` with its default optimizer, schedule and window for every (method,
setting, seed) into ``RUNS/<method>_w<W>a<A>_s<seed>`` (one run at a time by default, each
single-threaded), then prints two Markdown tables: the held-out accuracy of the exported integer
model (mean +- sample std over seeds; fp32 is the float model PTQ quantizes), and AB - STE paired
by seed with a two-sided t-interval (``--confidence``) over the seeds and what it says. Runs
resume from their checkpoints and a finished run is only re-read, so the script can be killed and
started again. The t quantile comes from scipy (installed with the ``data`` extra).

    python docs/scripts/training_table.py [--runs runs/training_table] [--workers 1]
        [--epochs 3] [--seeds 0 1 2 3 4] [--settings W1A8 W2A8 W4A8 W8A8]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SETTINGS = ((1, 8), (2, 8), (4, 8), (8, 8))
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


def t_interval(diffs: list[float], confidence: float) -> tuple[float, float, float]:
    """(mean, low, high) of the two-sided Student t-interval for the mean of ``diffs``."""
    from scipy.stats import t

    n = len(diffs)
    mean = statistics.mean(diffs)
    if n < 2:
        return mean, -math.inf, math.inf
    half = t.ppf(0.5 + confidence / 2, n - 1) * statistics.stdev(diffs) / math.sqrt(n)
    return mean, mean - half, mean + half


def verdict(low: float, high: float) -> str:
    if low > 0:
        return "AB better"
    if high < 0:
        return "STE better"
    return "no difference resolved"


def _settings(texts: list[str]) -> list[tuple[int, int]]:
    out = []
    for text in texts:
        w, _, a = text.upper().removeprefix("W").partition("A")
        out.append((int(w), int(a)))
    return out


def print_tables(by: dict, settings, seeds, epochs: int, confidence: float) -> None:
    fp32 = [r["fp32_accuracy"] for r in by[("ptq", *settings[0])]]
    print(f"LeNet-5, MNIST-5k, {epochs} epochs, seeds {seeds}, held-out accuracy (%) of the exported model")
    print()
    print("| method | " + " | ".join(f"W{w}A{a}" for w, a in settings) + " |")
    print("|---|" + "---|" * len(settings))
    print("| fp32 | " + " | ".join(fmt(fp32) for _ in settings) + " |")
    for m in METHODS:
        cells = [fmt([r["accuracy"] for r in by[(m, w, a)]]) for w, a in settings]
        print(f"| {m.upper()} | " + " | ".join(cells) + " |")
    print()
    pct = round(100 * confidence)
    print(f"| setting | AB − STE per seed (points) | mean | {pct} % t-interval | verdict |")
    print("|---|---|---|---|---|")
    for w, a in settings:
        diffs = [100 * (x["accuracy"] - y["accuracy"]) for x, y in zip(by[("ab", w, a)], by[("ste", w, a)],
                                                                      strict=True)]
        mean, low, high = t_interval(diffs, confidence)
        print(f"| W{w}A{a} | " + ", ".join(f"{d:+.1f}" for d in diffs)
              + f" | {mean:+.2f} | [{low:+.2f}, {high:+.2f}] | {verdict(low, high)} |")
    print()
    print("exported - fake-quantized accuracy (points), AB and STE runs: "
          + ", ".join(f"{100 * (r['accuracy'] - r['qat_accuracy']):+.1f}"
                      for (m, _w, _a), rs in by.items() if m != "ptq" for r in rs))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path("runs/training_table"))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--settings", nargs="+", default=[f"W{w}A{a}" for w, a in SETTINGS],
                    help="weight/activation bits, e.g. W8A8 W4A4 W1A8")
    args = ap.parse_args(argv)
    settings = _settings(args.settings)
    jobs = [(m, w, a, s) for m in METHODS for (w, a) in settings for s in args.seeds]
    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(lambda j: run_one(args.runs, *j, args.epochs), jobs))
    if any(r is None for r in results):
        print("some runs failed; run this script again once fixed (finished runs are kept)",
              file=sys.stderr)
        return 1
    by: dict = {}
    for (m, w, a, _s), r in zip(jobs, results, strict=True):
        by.setdefault((m, w, a), []).append(r)
    print_tables(by, settings, args.seeds, args.epochs, args.confidence)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
