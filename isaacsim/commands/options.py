"""Option types and option groups that several command modules share: the ARCH argument with
its `--set KEY=VALUE` overrides (and loading the Arch they name), and whole-number counts."""

from __future__ import annotations

import argparse


def add_arch(p: argparse.ArgumentParser) -> None:
    """The ARCH positional and the repeatable `--set KEY=VALUE` override."""
    p.add_argument("arch", metavar="ARCH", help="architecture YAML file or preset name (isaac, trq_baseline, trq)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a dotted config key, e.g. --set adc.bits=6 (repeatable)",
    )


def load_arch_from_args(args):
    """The Arch that `args.arch` and `args.overrides` (from `add_arch`) describe."""
    from isaacsim.config import load_arch, parse_set

    overrides = dict(parse_set(item) for item in args.overrides)
    return load_arch(args.arch, overrides)


def add_workload(p: argparse.ArgumentParser) -> None:
    """The WORKLOAD positional of `run` and `calibrate`."""
    p.add_argument("workload", metavar="WORKLOAD", help="workload directory, or zoo:NAME for a model-zoo workload")


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def seed_int(text: str) -> int:
    """argparse type: a seed, a whole number in 0 .. 2^63 - 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= v <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"must be in 0 .. 2^63 - 1, got {v}")
    return v
