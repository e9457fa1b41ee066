"""The `isaacsim` command: the parser skeleton, one sub-command per module of `isaacsim.commands`,
and dispatch.

Any bad input (file, YAML, option) ends with one line on stderr and exit code 2, never a
traceback. Heavy imports happen inside the command that needs them, so startup stays fast.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from isaacsim.commands import COMMANDS
from isaacsim.errors import IsaacsimError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (exit 2) instead of usage + message."""

    def error(self, message: str):  # noqa: D401 - argparse API
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="isaacsim", description="Simulator of ISAAC-style ReRAM PIM accelerators with uniform "
                     "and TRQ SAR ADCs.")
    parser.add_argument("--version", action="version", version=f"isaacsim {__import__('isaacsim').__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.NAME, help=command.HELP)
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return parser


class _OneLineWarnings:
    """`warnings.showwarning` for one command: a warning is one stderr line, and a message the
    command already printed is not printed again (a config validated twice warns once)."""

    def __init__(self):
        self.shown: set[str] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        if text not in self.shown:
            self.shown.add(text)
            sys.stderr.write(f"isaacsim: warning: {text}\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _OneLineWarnings()
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
