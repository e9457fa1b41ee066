"""The `isaacsim` command: argument parsing and dispatch only; each command lives in its package.

Any bad input (file, YAML, option) ends with one line on stderr and exit code 2, never a
traceback. Heavy imports happen inside the command that needs them, so startup stays fast.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from isaacsim.errors import IsaacsimError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (exit 2) instead of usage + message."""

    def error(self, message: str):  # noqa: D401 - argparse API
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _add_arch(p: argparse.ArgumentParser) -> None:
    p.add_argument("arch", metavar="ARCH", help="architecture YAML file or preset name (isaac, trq_baseline, trq)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a dotted config key, e.g. --set adc.bits=6 (repeatable)",
    )


def load_arch_from_args(args):
    from isaacsim.config import load_arch, parse_set

    overrides = dict(parse_set(item) for item in args.overrides)
    return load_arch(args.arch, overrides)


def _cmd_schema(args) -> int:
    import json

    from isaacsim.config.schema import arch_json_schema

    print(json.dumps(arch_json_schema(), indent=2))
    return 0


def _cmd_describe(args) -> int:
    arch = load_arch_from_args(args)
    from isaacsim.report.describe import describe_command

    return describe_command(arch, as_json=args.json)


def _cmd_run(args) -> int:
    arch = load_arch_from_args(args)
    from isaacsim.report.run import run_command

    return run_command(arch, args.workload, samples=args.samples, registers=args.registers, out=args.out,
                       as_json=args.json, batch_size=args.batch_size, timing=args.timing,
                       timing_report=args.timing_report, trace=args.trace, no_timing=args.no_timing,
                       timing_only=args.timing_only, profile=args.profile)


def _cmd_calibrate(args) -> int:
    arch = load_arch_from_args(args)
    from isaacsim.calibrate.loop import calibrate_command

    return calibrate_command(arch, args.workload, max_drop=args.max_drop, calib=args.calib,
                             eval_samples=args.eval, out=args.out, state=args.state, refine=not args.no_refine)


def _cmd_report(args) -> int:
    from isaacsim.sweep.store import is_sweep_dir

    if is_sweep_dir(args.dir):
        from isaacsim.report.sweep import sweep_report_command

        return sweep_report_command(args.dir, out=args.out, point=args.point, heatmap=args.heatmap,
                                    metric=args.metric, table=args.table)
    if args.point is not None or args.heatmap is not None or args.metric is not None:
        raise IsaacsimError("--point, --heatmap and --metric apply to sweep directories (isaacsim sweep --out DIR)")
    from isaacsim.report.energy import report_command

    return report_command(args.dir, table=args.table, out=args.out)


def _cmd_sweep(args) -> int:
    from isaacsim.sweep.run import sweep_command

    return sweep_command(args.sweep, out=args.out, workers=args.workers, scheduler=args.scheduler,
                         threads=args.threads, retry_failed=args.retry_failed, dry_run=args.dry_run,
                         quiet=args.quiet)


def _cmd_zoo_list(args) -> int:
    from isaacsim.report.zoo import zoo_list_command

    return zoo_list_command(as_json=args.json)


def _cmd_zoo_make(args) -> int:
    from isaacsim.report.zoo import zoo_make_command

    return zoo_make_command(args.name, args.out, seed=args.seed, samples=args.samples)


def _cmd_train(args) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise IsaacsimError("isaacsim train needs torch: pip install -c constraints.txt torch==2.13.0") from None
    from isaacsim.train.loop import train_command

    return train_command(
        model=args.model, dataset=args.dataset, out=args.out, method=args.method, wbits=args.wbits,
        abits=args.abits, epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, lr=args.lr,
        data_root=args.data_root, window=args.window, every=args.every,
        first_last_bits=args.first_last_bits, calib=args.calib, train_samples=args.train_samples,
        eval_samples=args.eval_samples, name=args.name, quiet=args.quiet, workload=args.workload,
    )


def _window(text: str) -> tuple[float, float]:
    try:
        t0, t1 = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two fractions T0,T1 such as 0.3,0.8, got {text!r}") from None
    return t0, t1


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.005, got {text!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in [0, 1) (0.005 = 0.5 percentage points), got {text}")
    return v


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="isaacsim", description="Simulator of ISAAC-style ReRAM PIM accelerators with uniform and TRQ SAR ADCs.")
    parser.add_argument("--version", action="version", version=f"isaacsim {__import__('isaacsim').__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("describe", help="hierarchy, counts, area and peak power per PE, tile and chip")
    _add_arch(p)
    p.add_argument("--json", action="store_true", help="print JSON (keys pe, tile, chip) instead of tables")
    p.set_defaults(func=_cmd_describe)

    p = sub.add_parser("run", help="simulate a workload through the bit-exact datapath; per-layer ADC statistics")
    _add_arch(p)
    p.add_argument("workload", metavar="WORKLOAD", help="workload directory, or zoo:NAME for a model-zoo workload")
    p.add_argument("--samples", type=_positive_int, metavar="N",
                   help="run the first N samples (default: the whole eval set, else calib, else 16 random inputs)")
    p.add_argument("--registers", metavar="FILE", help="per-layer ADC registers (YAML or JSON register file)")
    p.add_argument("--out", metavar="DIR", help="write config.yaml, summary.json, layers.csv, registers.yaml, "
                   "events and breakdown (.csv, .parquet) and profile.json here")
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of tables")
    p.add_argument("--batch-size", type=_positive_int, metavar="N", help="samples per batch (default: memory-bounded)")
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
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("calibrate", help="calibrate per-layer TRQ/uniform ADC registers within an accuracy budget")
    _add_arch(p)
    p.add_argument("workload", metavar="WORKLOAD", help="workload directory, or zoo:NAME for a model-zoo workload")
    p.add_argument("--max-drop", type=_fraction, default=0.005, metavar="FRACTION",
                   help="allowed accuracy drop, a fraction in [0, 1) (default 0.005 = 0.5 percentage points)")
    p.add_argument("--calib", type=_positive_int, default=32, metavar="N",
                   help="calibration samples whose bit-line histograms are captured (default 32)")
    p.add_argument("--eval", type=_positive_int, metavar="N",
                   help="eval samples of each end-to-end evaluation (default: the whole eval set)")
    p.add_argument("--out", default="registers.yaml", metavar="FILE",
                   help="register file to write (YAML, or JSON for .json; default registers.yaml)")
    p.add_argument("--state", metavar="FILE", help="resume state (default: OUT.state.json)")
    p.add_argument("--no-refine", action="store_true", help="skip the per-layer greedy refinement pass")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("report", help="figures of a sweep directory (Pareto fronts, heat maps, per-tile power) "
                                     "or of a run directory (priced energy/power)")
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
                   help="sweep: the two swept keys of the heat maps (default: the first two with several values)")
    p.add_argument("--metric", metavar="NAME", action="append",
                   help="sweep: a result column to draw as heat maps (repeatable; default energy_j and accuracy)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("sweep", help="run a design-space sweep from a sweep YAML file (resumes by default)")
    p.add_argument("sweep", metavar="SWEEP.yaml", help="sweep file: base arch, workloads, axes (docs/sweeps.md)")
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help="local worker processes (default: one per CPU core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask distributed cluster: scheduler address (tcp://host:8786) or scheduler file")
    p.add_argument("--threads", type=_positive_int, metavar="N",
                   help="numba threads per point (default: cores / workers locally, 1 on Dask)")
    p.add_argument("--out", metavar="DIR", help="result folder (default: runs/sweeps/NAME); an existing one is resumed")
    p.add_argument("--retry-failed", action="store_true", help="run again the points that failed last time")
    p.add_argument("--dry-run", action="store_true", help="list the points (and which are done) without running")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-point lines")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("zoo", help="shape-faithful synthetic workloads: list them, or make one")
    zsub = p.add_subparsers(dest="zoo_command", required=True, parser_class=_Parser, metavar="ACTION")
    z = zsub.add_parser("list", help="table of the zoo's workloads")
    z.add_argument("--json", action="store_true", help="print JSON instead of a table")
    z.set_defaults(func=_cmd_zoo_list)
    z = zsub.add_parser("make", help="write one zoo workload directory")
    z.add_argument("name", metavar="NAME", help="zoo workload name (see isaacsim zoo list)")
    z.add_argument("--out", metavar="DIR", required=True, help="directory to write")
    z.add_argument("--seed", type=int, default=0, help="random seed of the weights and data (default 0)")
    z.add_argument("--samples", type=_positive_int, metavar="N", help="eval samples to generate (default: the entry's)")
    z.set_defaults(func=_cmd_zoo_make)

    p = sub.add_parser("train", help="train a model (alpha-blending, STE, PTQ or float) and export its integer workload")
    p.add_argument("model", metavar="MODEL", help="lenet5 or resnet20")
    p.add_argument("--dataset", required=True, metavar="NAME", help="digits, mnist5k, mnist or cifar10 (docs/datasets.md)")
    p.add_argument("--method", default="ab", metavar="METHOD",
                   help="ab (alpha-blending, default), ste, ptq (train float, then calibrate) or fp32 (no export)")
    p.add_argument("--wbits", type=int, default=8, metavar="N", help="weight bits, 2..8 (default 8)")
    p.add_argument("--abits", type=int, default=8, metavar="N", help="activation bits, 2..8 (default 8)")
    p.add_argument("--epochs", type=_positive_int, default=30, metavar="N", help="epochs (default 30)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="run directory: checkpoint.pt, metrics.jsonl, results.json, workload/ (resumes)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the weights, subsets and shuffling (default 0)")
    p.add_argument("--batch-size", type=_positive_int, default=64, metavar="N", help="batch size (default 64)")
    p.add_argument("--lr", type=float, default=2e-3, metavar="F", help="peak learning rate of Adam's one-cycle schedule (default 2e-3)")
    p.add_argument("--data-root", metavar="DIR", help="folder of the mnist/cifar10 files (default: $ISAACSIM_DATA)")
    p.add_argument("--window", type=_window, default=(0.3, 0.8), metavar="T0,T1",
                   help="Eq. 6 window as fractions of all optimizer steps (default 0.3,0.8)")
    p.add_argument("--every", type=_positive_int, default=1, metavar="F", help="raise alpha every F steps (default 1)")
    p.add_argument("--first-last-bits", type=int, default=8, metavar="N",
                   help="weight bits of the first and last layers and bits of the logits (default 8)")
    p.add_argument("--calib", type=_positive_int, default=32, metavar="N",
                   help="training samples kept as the workload's calib set (and PTQ's) (default 32)")
    p.add_argument("--train-samples", type=_positive_int, metavar="N", help="train on a seeded subset of N samples")
    p.add_argument("--eval-samples", type=_positive_int, metavar="N", help="score on a seeded subset of N test samples")
    p.add_argument("--name", metavar="NAME", help="workload name (default MODEL_DATASET_METHOD_wNaM)")
    p.add_argument("--quiet", action="store_true", help="no progress bar: one line per epoch")
    p.add_argument("--workload", metavar="DIR", help="write the exported workload here (default OUT/workload)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("schema", help="print the JSON Schema of the architecture config")
    p.set_defaults(func=_cmd_schema)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(f"isaacsim: warning: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        try:
            return int(args.func(args) or 0)
        except IsaacsimError as e:
            msg = " ".join(str(e).split())
            sys.stderr.write(f"isaacsim: error: {msg}\n")
            return 2
        except KeyboardInterrupt:
            sys.stderr.write("isaacsim: interrupted\n")
            return 130


if __name__ == "__main__":
    sys.exit(main())
