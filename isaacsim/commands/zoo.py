"""`isaacsim zoo list` / `isaacsim zoo make NAME --out DIR`: the model zoo's table, and writing one
shape-faithful synthetic workload. The two actions are sub-commands of this one command."""

from __future__ import annotations

import argparse

from isaacsim.commands.options import positive_int

NAME = "zoo"
HELP = "shape-faithful synthetic workloads: list them, or make one"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="zoo_command", required=True, parser_class=type(p), metavar="ACTION")
    z = sub.add_parser("list", help="table of the zoo's workloads")
    z.add_argument("--json", action="store_true", help="print JSON instead of a table")
    z.set_defaults(zoo_action=_list)
    z = sub.add_parser("make", help="write one zoo workload directory")
    z.add_argument("name", metavar="NAME", help="zoo workload name (see isaacsim zoo list)")
    z.add_argument("--out", metavar="DIR", required=True, help="directory to write")
    z.add_argument("--seed", type=int, default=0, help="random seed of the weights and data (default 0)")
    z.add_argument("--samples", type=positive_int, metavar="N", help="eval samples to generate (default: the entry's)")
    z.set_defaults(zoo_action=_make)


def run(args: argparse.Namespace) -> int:
    return args.zoo_action(args)


def _list(args: argparse.Namespace) -> int:
    from isaacsim.report.zoo import print_zoo, zoo_rows

    rows = zoo_rows()
    if args.json:
        import json

        print(json.dumps(rows, indent=2))
    else:
        print_zoo(rows)
    return 0


def _make(args: argparse.Namespace) -> int:
    from isaacsim.mapping.layers import layers_of
    from isaacsim.report.zoo import load_zoo

    wl = load_zoo().make(args.name, args.out, seed=args.seed, samples=args.samples)
    n = 0 if wl.eval is None else int(wl.eval.x.shape[0])
    print(f"wrote zoo workload {wl.name!r} to {args.out} ({len(layers_of(wl))} matrix layers, {n} eval samples)")
    return 0
