"""The command modules (isaacsim.commands): each has the one interface, `isaacsim --help` lists every
command, and every command's `--help` exits 0. (Who may import `commands`: tests/test_layers.py.)"""

from __future__ import annotations

import contextlib
import io

import pytest

from isaacsim import cli
from isaacsim.commands import COMMANDS

NAMES = [c.NAME for c in COMMANDS]


def _help(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as e:
        cli.main(argv + ["--help"])
    return e.value.code, out.getvalue()


@pytest.mark.parametrize("command", COMMANDS, ids=NAMES)
def test_command_module_interface(command):
    assert isinstance(command.NAME, str) and command.NAME == command.__name__.rsplit(".", 1)[1].rstrip("_")
    assert isinstance(command.HELP, str) and command.HELP and "\n" not in command.HELP
    assert callable(command.add_arguments) and callable(command.run)
    assert command.__doc__


def test_every_command_once():
    assert sorted(NAMES) == ["calibrate", "describe", "import", "report", "run", "schema", "sweep", "train", "zoo"]


def test_top_level_help_lists_every_command():
    code, text = _help([])
    assert code == 0
    for c in COMMANDS:
        assert f"    {c.NAME}" in text and c.HELP.split()[0] in text


@pytest.mark.parametrize("argv", [[n] for n in NAMES] + [["zoo", "list"], ["zoo", "make"]], ids=" ".join)
def test_command_help_exits_0(argv):
    code, text = _help(argv)
    assert code == 0 and text.startswith(f"usage: isaacsim {' '.join(argv)}")
