"""`isaacsim run ARCH WORKLOAD`: simulate a workload through the bit-exact datapath and the timing
model, print the per-layer ADC table (or JSON), and write the run's files under `--out`."""

from __future__ import annotations

import argparse

from isaacsim.commands.options import add_arch, add_workload, load_arch_from_args, positive_int

NAME = "run"
HELP = "simulate a workload through the bit-exact datapath; per-layer ADC statistics"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_arch(p)
    add_workload(p)
    p.add_argument("--samples", type=positive_int, metavar="N",
                   help="run the first N samples (default: the whole eval set, else calib, else 16 random inputs)")
    p.add_argument("--registers", metavar="FILE", help="per-layer ADC registers (YAML or JSON register file)")
    p.add_argument("--out", metavar="DIR", help="write config.yaml, summary.json, layers.csv, registers.yaml, "
                   "events and breakdown (.csv, .parquet) and profile.json here")
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of tables")
    p.add_argument("--batch-size", type=positive_int, metavar="N", help="samples per batch (default: memory-bounded)")
    p.add_argument("--timing", choices=("default", "fine"), default="default",
                   help="timing granularity: a kernel per window (default) or an event per read and ADC job (fine)")
    p.add_argument("--timing-report", action="store_true",
                   help="print the timing report (stages, per-layer cycles vs bound, utilisation, stalls)")
    p.add_argument("--trace", metavar="FILE.json", help="write the pipeline timeline (Chrome/Perfetto trace events)")
    p.add_argument("--no-timing", action="store_true", help="functional run only: skip the cycle-level timing model")
    p.add_argument("--timing-only", action="store_true",
                   help="timing without functional simulation (approximate): every conversion costs the layer's "
                        "mean A/D ops from --profile, else the ADC registers' worst case")
    p.add_argument("--profile", metavar="FILE",
                   help="A/D-operation profile (profile.json of a run's --out) for --timing-only")


def run(args: argparse.Namespace) -> int:
    arch = load_arch_from_args(args)
    from isaacsim.report.run import run_command

    return run_command(arch, args.workload, samples=args.samples, registers=args.registers, out=args.out,
                       as_json=args.json, batch_size=args.batch_size, timing=args.timing,
                       timing_report=args.timing_report, trace=args.trace, no_timing=args.no_timing,
                       timing_only=args.timing_only, profile=args.profile)
