"""`isaacsim schema`: print the JSON Schema of the architecture config."""

from __future__ import annotations

import argparse

NAME = "schema"
HELP = "print the JSON Schema of the architecture config"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """No options."""


def run(args: argparse.Namespace) -> int:
    import json

    from isaacsim.config.schema import arch_json_schema

    print(json.dumps(arch_json_schema(), indent=2))
    return 0
