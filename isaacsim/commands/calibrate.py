"""`isaacsim calibrate ARCH WORKLOAD`: TRQ calibration (Algorithm 1 of the TRQ paper, "Twin Range
Quantization"): per-layer ADC registers within an accuracy budget; writes the register file and
prints the per-layer table. The loop itself is `isaacsim.calibrate.loop.calibrate`."""

from __future__ import annotations

import argparse

from isaacsim.commands.options import add_arch, add_workload, load_arch_from_args, positive_int, seed_int

NAME = "calibrate"
HELP = "calibrate per-layer TRQ/uniform ADC registers within an accuracy budget"


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.005, got {text!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in [0, 1) (0.005 = 0.5 percentage points), got {text}")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_arch(p)
    add_workload(p)
    p.add_argument("--max-drop", type=_fraction, default=0.005, metavar="FRACTION",
                   help="allowed accuracy drop, a fraction in [0, 1) (default 0.005 = 0.5 percentage points)")
    p.add_argument("--calib", type=positive_int, default=32, metavar="N",
                   help="calibration samples whose bit-line histograms are captured (default 32)")
    p.add_argument("--eval", type=positive_int, metavar="N",
                   help="eval samples of each end-to-end evaluation (default: the whole eval set)")
    p.add_argument("--seed", type=seed_int, default=0, metavar="N",
                   help="seed of the non-ideal datapath's draws, as run's (device.*, adc.offset_lsb, "
                        "adc.noise_lsb; default 0): the chip every simulation runs on; recorded in the file's meta")
    p.add_argument("--out", default="registers.yaml", metavar="FILE",
                   help="register file to write (YAML, or JSON for .json; default registers.yaml)")
    p.add_argument("--state", metavar="FILE", help="resume state (default: OUT.state.json)")
    p.add_argument("--no-refine", action="store_true", help="skip the per-layer greedy refinement pass")
    p.add_argument("--max-n-r2", type=positive_int, metavar="BITS",
                   help="cap on TRQ's R2 bits (the TRQ paper's upper bound of N2, 4 in its Fig. 7): the n_r2 "
                        "steps start at BITS instead of the ADC resolution (default: no cap)")


def run(args: argparse.Namespace) -> int:
    """Calibrate, write the register file, print the table; 0 on success."""
    from pathlib import Path

    from isaacsim.errors import ConfigError

    arch = load_arch_from_args(args)
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(f"--out {args.out}: is a directory (expected a register file path)")
    from isaacsim.calibrate.loop import calibrate, write_registers
    from isaacsim.report.calibrate import print_result
    from isaacsim.workload.resolve import resolve_workload

    wl = resolve_workload(args.workload)
    state = args.state if args.state is not None else str(out) + ".state.json"
    res = calibrate(arch, wl, max_drop=args.max_drop, calib=args.calib, eval_samples=args.eval, state=state,
                    progress=True, refine=not args.no_refine, max_n_r2=args.max_n_r2,
                    seed=args.seed)
    write_registers(out, res)
    print_result(res, args.out)
    return 0
