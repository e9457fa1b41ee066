"""`isaacsim sweep SWEEP.yaml`: run (or resume) a design-space sweep and print what it did, or
with `--dry-run` list its points. Exit code: 0 all points ok, 1 some point failed, 2 bad input,
130 interrupted. The sweep itself is `isaacsim.sweep.run.run_sweep`."""

from __future__ import annotations

import argparse
import sys

from isaacsim.commands.options import positive_int

NAME = "sweep"
HELP = "run a design-space sweep from a sweep YAML file (resumes by default)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep", metavar="SWEEP.yaml", help="sweep file: base arch, workloads, axes (docs/sweeps.md)")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="local worker processes (default: one per CPU core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask distributed cluster: scheduler address (tcp://host:8786) or scheduler file")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="numba threads per point (default: cores / workers locally, 1 on Dask)")
    p.add_argument("--out", metavar="DIR", help="result folder (default: runs/sweeps/NAME); an existing one is resumed")
    p.add_argument("--retry-failed", action="store_true", help="run again the points that failed last time")
    p.add_argument("--dry-run", action="store_true", help="list the points (and which are done) without running")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-point lines")


def run(args: argparse.Namespace) -> int:
    if args.dry_run:
        return _dry_run(args.sweep, args.out)
    from isaacsim.sweep import store as st
    from isaacsim.sweep.run import run_sweep

    quiet = args.quiet or sys.stderr.isatty()  # on a terminal the progress bar says it all
    res = run_sweep(args.sweep, out=args.out, workers=args.workers, scheduler=args.scheduler, threads=args.threads,
                    retry_failed=args.retry_failed, progress=not args.quiet, on_point=None if quiet else _log_point)
    ok = res.ran - res.failed
    print(f"sweep: {res.points} points: {ok} ran ok, {res.failed} failed, {res.skipped} already done "
          f"({res.wall_s:.1f} s); results in {res.out / st.PARQUET} and {res.out / st.CSV}")
    for row in res.rows:
        if row.get("status") != "ok":
            print(f"  point {row['point']} ({row['workload']}) failed: {row.get('error')}", file=sys.stderr)
    if res.interrupted:
        print("interrupted; finished points are kept: rerun the same command to resume", file=sys.stderr)
        return 130
    return 1 if res.failed else 0


def _log_point(row: dict, i: int, n: int, elapsed: float) -> None:
    """A line on stderr per finished point (off a terminal): what it gave and the time left."""
    eta = elapsed / i * (n - i)
    what = (f"energy {row['energy_j'] * 1e6:.4g} uJ" if row.get("energy_j") is not None else "") \
        if row.get("status") == "ok" else f"FAILED: {row.get('error')}"
    print(f"[{i}/{n}] point {row['point']} ({row['workload']}) {row.get('point_s', 0):.1f} s {what}  ETA {eta:.0f} s",
          file=sys.stderr, flush=True)


def _dry_run(path: str, out: str | None) -> int:
    """List the sweep's points, each with its values and whether it is done, invalid or to run."""
    from pathlib import Path

    from isaacsim.sweep import store as st
    from isaacsim.sweep.run import DEFAULT_ROOT
    from isaacsim.sweep.spec import load_sweep

    sw = load_sweep(path)
    dest = Path(out) if out is not None else DEFAULT_ROOT / sw.name
    done = st.ResultStore(dest, sw.keys, read_only=True).done() if st.is_sweep_dir(dest) else set()
    print(f"sweep {sw.name}: {len(sw.points)} points over {', '.join(sw.keys) or 'no axes'}; "
          f"{sum(p.hash in done for p in sw.points)} already done in {dest}")
    for p in sw.points:
        vals = ", ".join(f"{k}={v}" for k, v in p.values.items())
        if "seed" not in p.values and p.seed:
            vals += f", seed={p.seed}"
        if p.calibrate:
            vals += ", calibrated first"
        state = "done" if p.hash in done else ("INVALID: " + p.error if p.error else "to run")
        print(f"  {p.index:4d} {p.hash} {p.workload.label}: {vals}  [{state}]")
    return 0
