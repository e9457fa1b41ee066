"""`isaacsim report DIR`: figures of a sweep directory (Pareto fronts, heat maps, a chosen point's
per-tile power; `isaacsim.report.sweep`) or of a run directory or a folder of them (priced
energy and power; `isaacsim.report.energy`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isaacsim.errors import ConfigError, IsaacsimError

NAME = "report"
HELP = ("figures of a sweep directory (Pareto fronts, heat maps, per-tile power) "
        "or of a run directory (priced energy/power)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="a sweep directory (isaacsim sweep --out DIR), a run directory "
                   "(isaacsim run --out DIR) or a folder of run directories")
    p.add_argument("--table", metavar="FILE",
                   help="component table to price with: a shipped name (isaac_32nm, trq_45nm) or a YAML file "
                        "(default: each run's own)")
    p.add_argument("--out", metavar="DIR", help="where to write figures and breakdown tables (default: DIR/report)")
    p.add_argument("--point", metavar="N|HASH",
                   help="sweep: the point whose per-tile power to draw (index or config hash; default: per "
                        "workload, the lowest-energy point within 1 percentage point of its best accuracy)")
    p.add_argument("--heatmap", metavar="KEY,KEY",
                   help="sweep: the two swept keys of the heat maps (default: the first two swept keys with "
                        "several values, from different axis groups when possible)")
    p.add_argument("--metric", metavar="NAME", action="append",
                   help="sweep: a result column to draw as heat maps (repeatable; default energy_j and accuracy)")


def run(args: argparse.Namespace) -> int:
    from isaacsim.sweep.store import is_sweep_dir

    if is_sweep_dir(args.dir):
        return _sweep(args)
    if args.point is not None or args.heatmap is not None or args.metric is not None:
        raise IsaacsimError("--point, --heatmap and --metric apply to sweep directories (isaacsim sweep --out DIR)")
    return _runs(args)


def _dest(out: str | None, root: str) -> Path:
    dest = Path(out) if out is not None else Path(root) / "report"
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"--out {dest}: exists and is not a directory")
    return dest


def _sweep(args: argparse.Namespace) -> int:
    """Draw a sweep directory's figures, write summary.csv, print a table per workload."""
    if args.table is not None:
        raise ConfigError("--table applies to run directories (a sweep's points are priced when they run)")
    from isaacsim.report.sweep import print_summary, select, write_report

    sel = select(args.dir, point=args.point, heatmap=args.heatmap, metric=args.metric)
    dest = _dest(args.out, args.dir)
    written, notes = write_report(sel, Path(args.dir), dest)
    print_summary(sel, written, notes, dest)
    return 0


def _runs(args: argparse.Namespace) -> int:
    """Price every run under DIR again (with --table, or each run's own), draw it, print a row per run."""
    from isaacsim.energy.runs import read_summary, reprice
    from isaacsim.report.energy import RunsTable, draw_ops, draw_power_breakdown, draw_run, ops_label, run_dirs

    runs = run_dirs(args.dir)
    dest = _dest(args.out, args.dir)
    several = len(runs) > 1
    table = RunsTable()
    ops_runs: dict[str, list[dict]] = {}
    priced: list = []
    written: list[Path] = []
    for run in runs:
        s = read_summary(run)
        if s.get("layers"):
            ops_runs[ops_label(run, s, several)] = s["layers"]
        if not s.get("energy") or "error" in s["energy"]:
            table.skip(run, s)
            continue
        rep = reprice(run, args.table)
        written += draw_run(s, rep, dest / run.name if several else dest)
        priced.append((run.name, s, rep))
        table.add(run.name if several else (s.get("arch") or run.name), s, rep)
    if ops_runs:
        written += draw_ops(ops_runs, dest)
    if len(priced) > 1:
        written += draw_power_breakdown(priced, dest)
    table.show(written, dest)
    return 0
