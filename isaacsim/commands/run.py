"""`isaacsim run ARCH WORKLOAD`: simulate a workload through the bit-exact datapath and the timing
model, print the per-layer ADC table (or JSON), and write the run's files under `--out`."""

from __future__ import annotations

import argparse
import sys

from isaacsim.commands.options import add_arch, add_workload, load_arch_from_args, positive_int, seed_int
from isaacsim.errors import ConfigError, IsaacsimError

NAME = "run"
HELP = "simulate a workload through the bit-exact datapath; per-layer ADC statistics"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_arch(p)
    add_workload(p)
    p.add_argument("--samples", type=positive_int, metavar="N",
                   help="run the first N samples (default: the whole eval set, else calib, else 16 random inputs)")
    p.add_argument("--seed", type=seed_int, default=0, metavar="N",
                   help="seed of the non-ideal datapath's draws (device.*, adc.offset_lsb, adc.noise_lsb; "
                        "default 0); recorded in the summary")
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


def check_timing_options(no_timing: bool, timing_report: bool, trace: str | None, timing_only: bool = False,
                         profile: str | None = None, samples: int | None = None,
                         batch_size: int | None = None) -> None:
    if no_timing and (timing_report or trace is not None):
        raise ConfigError("--no-timing cannot be combined with --timing-report or --trace")
    if timing_only and no_timing:
        raise ConfigError("--timing-only cannot be combined with --no-timing")
    if timing_only and (samples is not None or batch_size is not None):
        raise ConfigError("--timing-only runs no samples: drop --samples and --batch-size")
    if profile is not None and not timing_only:
        raise ConfigError("--profile applies to --timing-only runs")


def _timeline(arch, trace: str | None):
    """A Timeline for --trace, capped so that the file stays under 50 MB; None without --trace."""
    if trace is None:
        return None
    from isaacsim.report.perfetto import max_events_for
    from isaacsim.timing.events import Timeline

    # tracks: a PE and its ADC pool per PE, plus layers
    return Timeline(max_events=max_events_for(tracks=2 * arch.chip.tiles * arch.tile.pes + 1024))


def _write_trace(res, timeline, trace: str | None) -> None:
    if trace is None or res.timing is None:
        return
    from isaacsim.report.perfetto import write_trace

    try:
        info = write_trace(timeline, trace, clock_hz=float(res.timing.clock.hz))
    except OSError as e:
        raise ConfigError(f"--trace {trace}: cannot write ({e.__class__.__name__}: {e.strerror or e})") from None
    sys.stderr.write(trace_notice(info))


def _size(n: int) -> str:
    """A byte count for people: 512 B, 3.4 kB, 12.3 MB (powers of 1000)."""
    if n < 1000:
        return f"{n} B"
    for unit in ("kB", "MB", "GB"):
        n /= 1000
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def trace_notice(info: dict) -> str:
    """The lines `--trace` prints on stderr from `write_trace`'s result: where the file went, its
    size and events, and how much the timeline was thinned to stay under its size cap."""
    text = (f"isaacsim: trace written to {info['path']} ({_size(info['bytes'])}, {info['events']:,} events "
            f"on {info['tracks']:,} tracks)\n")
    if info["dropped"] or info["stride"] > 1:
        kept = info["events"]
        total = kept + info["dropped"]
        text += (f"isaacsim: trace thinned to stay under its size cap: kept 1 in {info['stride']} events of each "
                 f"track, {info['dropped']:,} of {total:,} events dropped\n")
    return text


def _print(res, args: argparse.Namespace) -> None:
    if args.json:
        import json

        print(json.dumps(res.summary(), indent=2))
        return
    from isaacsim.report.run import print_text

    print_text(res)
    if args.timing_report:
        from isaacsim.report.timing import print_timing

        print_timing(res)


def _exit_code(res) -> int:
    """0 on success, 2 after a failed run (one line on stderr), 130 after an interrupt."""
    if res.status == "interrupted":
        sys.stderr.write(f"isaacsim: {res.error}\n")
        return 130
    if res.status == "failed":
        if not isinstance(res.exception, IsaacsimError):
            raise res.exception
        sys.stderr.write(f"isaacsim: error: {' '.join(str(res.error).split())}\n")
        return 2
    return 0


def run(args: argparse.Namespace) -> int:
    """Simulate (the run's record goes to --out even when it stops part-way), write --trace, print."""
    arch = load_arch_from_args(args)
    check_timing_options(args.no_timing, args.timing_report, args.trace, args.timing_only, args.profile,
                         args.samples, args.batch_size)
    from isaacsim.pipeline import simulate
    from isaacsim.pipeline.record import out_dir
    from isaacsim.workload.resolve import resolve_workload

    record = out_dir(args.out, "--out") if args.out is not None else None
    wl = resolve_workload(args.workload)
    timeline = _timeline(arch, args.trace)
    res = simulate(arch, wl, samples=args.samples, registers=args.registers, batch_size=args.batch_size,
                   progress=True, raise_on_error=False, timing=not args.no_timing, timing_granularity=args.timing,
                   timeline=timeline, timing_only=args.timing_only, profile=args.profile, out=record, seed=args.seed)
    _write_trace(res, timeline, args.trace)
    _print(res, args)
    return _exit_code(res)
