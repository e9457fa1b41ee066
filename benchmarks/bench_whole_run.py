"""Whole run: one ResNet-18 (224x224) inference through `isaacsim run`, bit-exact datapath, TRQ
ADC, cycle-level timing and energy, as a user runs it, in a fresh process each time.

Each repeat runs, in alternation so load changes hit both alike, `isaacsim run ARCH zoo:resnet18
--samples 1 --no-timing` (the functional run: the baseline) and the same with timing and
energy. Per run: wall time, peak RSS (the child's), and the stages' own times from the summary
(datapath, reference executor, timing). Prints the best of --repeat for each, and the ratios:

- timing's cost: (with timing - without) / without; target at most 0.5, i.e. the timing model
  at most half the functional run;
- the timing stage alone over the datapath stage, in the same run.

Absolute targets: the whole run in at most 5 s, peak RSS at most 600 MB. A LeNet-5 run first
loads (or compiles) every kernel, so the timed runs start warm.

--smoke: the LeNet-5 zoo network instead (a few seconds), same lines and checks.

Run: python benchmarks/bench_whole_run.py [--arch arch_configs/trq.yaml] [--repeat 3] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 5.0
TARGET_MB = 600
CHILD = """
import json, resource, sys, time
t = time.perf_counter()
from isaacsim.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    if e.code:
        raise
print(json.dumps({"wall_s": time.perf_counter() - t,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), file=sys.stderr)
"""


def one(args: list[str], out: Path) -> dict:
    """Run `isaacsim ARGS --out OUT` in a fresh interpreter; its wall, RSS and stage times."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", CHILD, *args, "--out", str(out)], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"isaacsim {' '.join(args)} failed:\n{p.stderr[-2000:]}")
    child = json.loads(p.stderr.strip().splitlines()[-1])
    summary = json.loads((out / "summary.json").read_text())
    timing = summary.get("timing") or {}
    return {"process_s": wall, "wall_s": child["wall_s"], "rss_mb": child["rss_mb"],
            "datapath_s": summary["wall_s"], "reference_s": summary.get("reference_wall_s") or 0.0,
            "timing_s": timing.get("wall_s") or 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="arch_configs/trq.yaml")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="LeNet-5 instead of ResNet-18")
    args = ap.parse_args()
    net = "zoo:lenet5" if args.smoke else "zoo:resnet18"
    base = ["run", args.arch, net, "--samples", "1"]
    with tempfile.TemporaryDirectory(prefix="bench_whole_run_") as d:
        one(["run", args.arch, "zoo:lenet5", "--samples", "1"], Path(d) / "warm")  # load or compile every kernel
        runs: dict[str, list[dict]] = {"without": [], "with": []}
        for k in range(max(1, args.repeat)):
            runs["without"].append(one([*base, "--no-timing"], Path(d) / f"without{k}"))
            runs["with"].append(one(base, Path(d) / f"with{k}"))
    best = {name: min(rs, key=lambda r: r["wall_s"]) for name, rs in runs.items()}
    print(f"isaacsim run {args.arch} {net} --samples 1, best of {len(runs['with'])} fresh processes each:")
    print(f"  {'':18s} {'wall s':>7s} {'process s':>9s} {'datapath s':>10s} {'reference s':>11s} {'timing s':>8s} "
          f"{'peak MB':>8s}")
    for name, r in (("--no-timing", best["without"]), ("timing + energy", best["with"])):
        print(f"  {name:18s} {r['wall_s']:7.2f} {r['process_s']:9.2f} {r['datapath_s']:10.2f} {r['reference_s']:11.2f} "
              f"{r['timing_s']:8.2f} {r['rss_mb']:8.0f}")
    w, wo = best["with"], best["without"]
    cost = (w["wall_s"] - wo["wall_s"]) / wo["wall_s"]
    stage = w["timing_s"] / w["datapath_s"] if w["datapath_s"] else 0.0
    verdict = "met" if cost <= 0.5 else "MISSED"
    print(f"timing's cost (with - without) / without: {cost:.2f}  (target <= 0.5: {verdict})")
    print(f"timing stage / datapath stage, same run : {stage:.2f}")
    print(f"whole run (timing + energy)            : {w['wall_s']:.2f} s  (target <= {TARGET_S:g} s: "
          f"{'met' if w['wall_s'] <= TARGET_S else 'MISSED'})")
    print(f"peak RSS (timing + energy)             : {w['rss_mb']:.0f} MB  (target <= {TARGET_MB} MB: "
          f"{'met' if w['rss_mb'] <= TARGET_MB else 'MISSED'})")


if __name__ == "__main__":
    main()
