"""The command modules (isaacsim.commands): each has the one interface, `isaacsim --help` lists every
command, every command's `--help` exits 0, and only `commands` and `cli` import them."""

from __future__ import annotations

import ast
import contextlib
import io
from pathlib import Path

import pytest

from isaacsim import cli
from isaacsim.commands import COMMANDS

PACKAGE = Path(cli.__file__).resolve().parent
NAMES = [c.NAME for c in COMMANDS]


def _help(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as e:
        cli.main(argv + ["--help"])
    return e.value.code, out.getvalue()


@pytest.mark.parametrize("command", COMMANDS, ids=NAMES)
def test_command_module_interface(command):
    assert isinstance(command.NAME, str) and command.NAME == command.__name__.rsplit(".", 1)[1]
    assert isinstance(command.HELP, str) and command.HELP and "\n" not in command.HELP
    assert callable(command.add_arguments) and callable(command.run)
    assert command.__doc__


def test_every_command_once():
    assert sorted(NAMES) == ["calibrate", "describe", "report", "run", "schema", "sweep", "train", "zoo"]


def test_top_level_help_lists_every_command():
    code, text = _help([])
    assert code == 0
    for c in COMMANDS:
        assert f"    {c.NAME}" in text and c.HELP.split()[0] in text


@pytest.mark.parametrize("argv", [[n] for n in NAMES] + [["zoo", "list"], ["zoo", "make"]], ids=" ".join)
def test_command_help_exits_0(argv):
    code, text = _help(argv)
    assert code == 0 and text.startswith(f"usage: isaacsim {' '.join(argv)}")


def _imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = pkg.rsplit(".", node.level - 1)[0] if node.level else ""
            mod = ".".join(p for p in (base, node.module or "") if p)
            names.add(mod)
            names.update(f"{mod}.{a.name}" for a in node.names)
    return names


LIBRARY = ["errors", "files", "progress", "kernels", "adc", "config", "components", "workload", "mapping",
           "functional", "timing", "energy", "pipeline", "calibrate", "sweep", "train", "importers"]


@pytest.mark.parametrize("package", LIBRARY + ["report"])
def test_only_cli_imports_commands_and_no_library_imports_report(package):
    files = [PACKAGE / f"{package}.py"] if (PACKAGE / f"{package}.py").exists() else sorted(
        (PACKAGE / package).rglob("*.py"))
    for f in files:
        mods = _imported_modules(f)
        assert not any(m == "isaacsim.commands" or m.startswith("isaacsim.commands.") for m in mods), f
        if package != "report":
            assert not any(m == "isaacsim.report" or m.startswith("isaacsim.report.") for m in mods), f
