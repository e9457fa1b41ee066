"""The test suite's own layout: no test module imports another test module.

Shared builders live in tests/conftest.py (fixtures) and tests/support/ (plain helpers and
constants); the golden recorder tests/golden/record.py is a helper too. Imports inside functions count.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _is_test_module(dotted: str) -> bool:
    """True for `tests.test_x` / `test_x` (and anything under them)."""
    parts = dotted.split(".")
    if parts[0] == "tests":
        parts = parts[1:]
    return bool(parts) and parts[0].startswith("test_")


def imported_test_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import of a test module in the source, functions included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if _is_test_module(a.name)]
        elif isinstance(node, ast.ImportFrom):
            base = ("." * node.level) + (node.module or "")
            if node.module and _is_test_module(node.module):
                found.append((node.lineno, base))
            elif node.module in (None, "tests"):  # from tests import test_x / from . import test_x
                sep = "" if base.endswith(".") else "."
                found += [(node.lineno, f"{base}{sep}{a.name}") for a in node.names if a.name.startswith("test_")]
    return sorted(found)


def test_no_test_module_imports_another():
    bad = [f"tests/{p.name}:{line} imports {mod}" for p in sorted(TESTS.glob("test_*.py"))
           for line, mod in imported_test_modules(p.read_text(encoding="utf-8"))]
    assert not bad, "move shared helpers to tests/support or tests/conftest.py:\n" + "\n".join(bad)


def test_the_scan_sees_every_form_of_import():
    src = ("import tests.test_a\nfrom tests.test_b import x\nfrom tests import test_c\nfrom . import test_d\n"
           "from .test_e import y\ndef f():\n    from tests.test_f import z\n"
           "from tests.support import ok\nfrom tests.golden.record import run\nimport pytest\n")
    assert [m for _, m in imported_test_modules(src)] == [
        "tests.test_a", "tests.test_b", "tests.test_c", ".test_d", ".test_e", "tests.test_f"]
    assert imported_test_modules(src)[-1] == (7, "tests.test_f")
