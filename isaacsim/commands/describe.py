"""`isaacsim describe ARCH`: hierarchy, counts, area and peak power per PE, tile and chip, as
tables or JSON (the report itself is `isaacsim.report.describe.describe`)."""

from __future__ import annotations

import argparse

from isaacsim.commands.options import add_arch, load_arch_from_args

NAME = "describe"
HELP = "hierarchy, counts, area and peak power per PE, tile and chip"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_arch(p)
    p.add_argument("--json", action="store_true", help="print JSON (keys pe, tile, chip) instead of tables")


def run(args: argparse.Namespace) -> int:
    arch = load_arch_from_args(args)
    from isaacsim.report.describe import describe, print_describe

    d = describe(arch)
    if args.json:
        import json

        print(json.dumps(d, indent=2))
    else:
        print_describe(d)
    return 0
