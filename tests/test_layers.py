"""The import-layer contract of the isaacsim package, checked on every module's source.

Every module under `isaacsim/` belongs to a sub-package: `isaacsim/timing/network.py` to `timing`,
the top-level module `isaacsim/errors.py` to `errors`. `LAYERS` below orders the sub-packages from
the lowest to the highest; a module may import from its own sub-package, from any sub-package of a
lower layer, and from the other members of its own layer only where that layer is in `OPEN_LAYERS`.
Every import counts: module level, inside functions and methods, under `if TYPE_CHECKING:`, and
`importlib.import_module("isaacsim.x")` / `__import__("isaacsim.x")` with a literal name. The public
facade `isaacsim/__init__.py` (lazy imports of everything) and `isaacsim/__main__.py` are exempt;
importing the facade itself (`import isaacsim`, `from isaacsim import simulate`) is a violation
everywhere but in the top layer (the facade re-exports the high-level API), except for the root's own
dunder attributes (`from isaacsim import __version__`).
Finally the sub-packages' import graph must have no cycle.

Placing a new sub-package (or top-level module): put its name in a layer above every sub-package it
imports and below every sub-package that imports it, either into an existing layer (as a sibling: it
may then not import that layer's other members) or as a new tuple inserted there (the layers above are
renumbered). A sub-package that is in no layer is an error, so that every new package is placed here
on purpose.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "files", "progress", "nodes"),  # 0: base modules (top-level .py files)
    ("kernels",),  # 1
    ("adc",),  # 2
    ("config",),  # 3
    ("components",),  # 4
    ("workload",),  # 5
    ("mapping",),  # 6
    ("functional",),  # 7
    ("timing",),  # 8
    ("energy",),  # 9
    ("pipeline",),  # 10
    ("calibrate", "train", "importers"),  # 11: siblings, none may import another
    ("sweep",),  # 12: calibrates a sweep's calibrated points (run.calibrate)
    ("report",),  # 13
    ("commands",),  # 14
    ("cli",),  # 15
)
"""The sub-packages of isaacsim, lowest layer first (index = layer number). A new sub-package or top-level
module goes into the layer of the packages it sits beside (or a new tuple inserted where it belongs, which
renumbers the layers above); one that is in no layer fails the contract test."""

OPEN_LAYERS = frozenset({0})
"""Layers whose members may import one another (never in a cycle); in any other layer they may not."""

EXEMPT = frozenset({"__init__.py", "__main__.py"})
"""Top-level files of the package that are outside the contract (the lazy public facade)."""

ROOT = Path(__file__).resolve().parents[1]
FACADE = "<facade>"


# ---- the checker -------------------------------------------------------------------------------


def group_of(rel: Path) -> str | None:
    """The sub-package of a module path relative to the package directory; None when exempt."""
    if len(rel.parts) == 1:
        return None if rel.name in EXEMPT else rel.stem
    return rel.parts[0]


def _resolve_from(node: ast.ImportFrom, modname: str, is_pkg: bool) -> str:
    """The absolute module of a `from ... import` statement."""
    if not node.level:
        return node.module or ""
    parts = modname.split(".")
    keep = len(parts) - node.level + (1 if is_pkg else 0)
    base = ".".join(parts[:keep])
    return f"{base}.{node.module}" if node.module else base


def _dynamic_target(call: ast.Call) -> str | None:
    """The literal module name of `importlib.import_module(...)`, `import_module(...)`, `__import__(...)`."""
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    if name not in ("import_module", "__import__") or not call.args:
        return None
    arg = call.args[0]
    if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
        return None
    if not arg.value.startswith(".") or name == "__import__":
        return arg.value
    pkg = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "package"), None)
    if isinstance(pkg, ast.Constant) and isinstance(pkg.value, str):
        level = len(arg.value) - len(arg.value.lstrip("."))
        base = pkg.value.split(".")[: len(pkg.value.split(".")) - level + 1]
        return ".".join([*base, arg.value.lstrip(".")]).rstrip(".")
    return None


def imports_of(tree: ast.AST, modname: str, is_pkg: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module) of every import anywhere in the tree, functions and methods included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(node, modname, is_pkg)
            if "." in base:
                yield node.lineno, base
            else:  # `from isaacsim import x`: x may be a sub-package or a facade attribute
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and (target := _dynamic_target(node)):
            yield node.lineno, target


def target_group(dotted: str, pkg: str, known: set[str]) -> str | None:
    """The sub-package an imported module belongs to: None outside the package or for the root's dunders."""
    parts = dotted.split(".")
    if parts[0] != pkg:
        return None
    if len(parts) == 1:
        return FACADE
    if parts[1] in known:
        return parts[1]
    return None if parts[1].startswith("__") else FACADE


def _modules(root: Path, pkg: str) -> Iterator[tuple[Path, str, bool]]:
    """(path, dotted module name, is a package __init__) of every module of the package."""
    for path in sorted((root / pkg).rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        is_pkg = rel.name == "__init__"
        parts = rel.parts[:-1] if is_pkg else rel.parts
        yield path, ".".join(parts), is_pkg


def _edge_problem(src: str, tgt: str, rank: dict[str, int], open_layers: frozenset[int]) -> str | None:
    """Why src may not import tgt (None when it may)."""
    if tgt == FACADE:
        return None if rank[src] == max(rank.values()) else f"layer {rank[src]} -> the public facade"
    if tgt not in rank:
        return f"'{tgt}' is in no layer of the contract"
    a, b = rank[src], rank[tgt]
    if b < a or (a == b and a in open_layers):
        return None
    return f"layer {a} -> layer {b}"


def import_edges(root: Path, pkg: str, placed: set[str]) -> Iterator[tuple[str, int, str, str, str]]:
    """(file, line, imported module, importing group, imported group) of every import between groups,
    in file and line order; `placed` names the sub-packages of the contract (they may not exist yet)."""
    pkg_dir = root / pkg
    known = placed | {p.stem for p in pkg_dir.glob("*.py")} | {p.name for p in pkg_dir.iterdir() if p.is_dir()}
    for path, modname, is_pkg in _modules(root, pkg):
        src = group_of(path.relative_to(pkg_dir))
        if src is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, dotted in sorted(imports_of(tree, modname, is_pkg)):
            tgt = target_group(dotted, pkg, known)
            if tgt is not None and tgt != src:
                yield path.relative_to(root).as_posix(), line, dotted, src, tgt


def violations(root: Path, layers=LAYERS, open_layers=OPEN_LAYERS, pkg: str = "isaacsim") -> list[str]:
    """One line per import that breaks the contract and per sub-package that is in no layer."""
    rank = {name: i for i, layer in enumerate(layers) for name in layer}
    out = []
    unplaced = sorted({group_of(p.relative_to(root / pkg)) for p, _, _ in _modules(root, pkg)} - set(rank) - {None})
    out += [f"{pkg}/{g}: sub-package '{g}' is in no layer of the contract (place it in LAYERS)" for g in unplaced]
    for file, line, dotted, src, tgt in import_edges(root, pkg, set(rank)):
        if src in rank and (why := _edge_problem(src, tgt, rank, open_layers)):
            out.append(f"{file}:{line} imports {dotted} ({why})")
    return out


def cycles(root: Path, layers=LAYERS, pkg: str = "isaacsim") -> list[list[str]]:
    """The strongly connected components (more than one sub-package) of the sub-package import graph."""
    graph: dict[str, set[str]] = {}
    for _, _, _, src, tgt in import_edges(root, pkg, {name for layer in layers for name in layer}):
        if tgt != FACADE:
            graph.setdefault(src, set()).add(tgt)
            graph.setdefault(tgt, set())
    return [sorted(c) for c in _components(graph) if len(c) > 1]


def _components(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components: the nodes reachable from each other in both directions."""
    reach = {n: _reachable(graph, n) for n in graph}
    seen: set[str] = set()
    out = []
    for n in sorted(graph):
        if n not in seen:
            comp = {m for m in reach[n] if n in reach[m]} | {n}
            seen |= comp
            out.append(comp)
    return out


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    todo, seen = list(graph[start]), set()
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(graph[n])
    return seen


# ---- the contract on isaacsim -----------------------------------------------------------------


def test_isaacsim_follows_the_layer_contract():
    found = violations(ROOT)
    found += ["cycle between sub-packages: " + " <-> ".join(c) for c in cycles(ROOT)]
    print("\n".join(found))
    assert not found, f"{len(found)} import-layer violations:\n" + "\n".join(found)


def test_every_layer_name_is_unique():
    names = [name for layer in LAYERS for name in layer]
    assert len(names) == len(set(names))


# ---- the checker on a synthetic tree ----------------------------------------------------------

TOY = (("base",), ("low",), ("mid_a", "mid_b"), ("high",))


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in {"isaacsim/__init__.py": "import isaacsim.high\n", **files}.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for d in list((tmp_path / "isaacsim").rglob("*")):
        if d.is_dir() and not (d / "__init__.py").exists():
            (d / "__init__.py").write_text("")
    return tmp_path


def test_checker_passes_allowed_imports(tmp_path):
    root = _tree(tmp_path, {
        "isaacsim/base.py": "import os\nfrom isaacsim import __version__\n",
        "isaacsim/low/a.py": "from isaacsim.base import x\nfrom . import b\nfrom .b import y\n",
        "isaacsim/low/b.py": "",
        "isaacsim/mid_a/m.py": "from ..low import a\nimport isaacsim.low.b as lb\n",
        "isaacsim/high/h.py": "def f():\n    from isaacsim.mid_a import m\n    from isaacsim.mid_b import n\n",
    })
    assert violations(root, TOY) == [] and cycles(root, TOY) == []


def test_checker_finds_an_upward_import_inside_a_function(tmp_path):
    root = _tree(tmp_path, {
        "isaacsim/low/a.py": "import os\n\n\nclass C:\n    def f(self):\n        from isaacsim.high.h import g\n",
        "isaacsim/high/h.py": "from isaacsim.low import a\n",
    })
    assert violations(root, TOY) == ["isaacsim/low/a.py:6 imports isaacsim.high.h (layer 1 -> layer 3)"]
    assert cycles(root, TOY) == [["high", "low"]]


def test_checker_sees_dynamic_relative_facade_and_sibling_imports(tmp_path):
    root = _tree(tmp_path, {
        "isaacsim/base.py": "import importlib\nimportlib.import_module('isaacsim.low')\n",
        "isaacsim/low/a.py": "from ..mid_a import m\n",
        "isaacsim/mid_a/m.py": "from importlib import import_module\nimport_module('..high', 'isaacsim.mid_a')\n",
        "isaacsim/mid_b/n.py": "from isaacsim import mid_a\nfrom isaacsim import simulate\nimport isaacsim\n",
        "isaacsim/high/h.py": "import isaacsim\nfrom isaacsim import simulate\n",
    })
    assert violations(root, TOY) == [
        "isaacsim/base.py:2 imports isaacsim.low (layer 0 -> layer 1)",
        "isaacsim/low/a.py:1 imports isaacsim.mid_a (layer 1 -> layer 2)",
        "isaacsim/mid_a/m.py:2 imports isaacsim.high (layer 2 -> layer 3)",
        "isaacsim/mid_b/n.py:1 imports isaacsim.mid_a (layer 2 -> layer 2)",
        "isaacsim/mid_b/n.py:2 imports isaacsim.simulate (layer 2 -> the public facade)",
        "isaacsim/mid_b/n.py:3 imports isaacsim (layer 2 -> the public facade)",
    ]


def test_checker_rejects_a_sub_package_in_no_layer(tmp_path):
    root = _tree(tmp_path, {"isaacsim/newpkg/x.py": "", "isaacsim/low/a.py": "from isaacsim.newpkg import x\n"})
    assert violations(root, TOY) == [
        "isaacsim/newpkg: sub-package 'newpkg' is in no layer of the contract (place it in LAYERS)",
        "isaacsim/low/a.py:1 imports isaacsim.newpkg ('newpkg' is in no layer of the contract)",
    ]
