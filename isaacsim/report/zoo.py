"""`isaacsim zoo list` / `isaacsim zoo make`: the model zoo's table, and writing one workload."""

from __future__ import annotations

import json

from isaacsim.errors import WorkloadError


def _zoo():
    try:
        from isaacsim.workload import zoo
    except ImportError:
        raise WorkloadError("the model zoo (isaacsim.workload.zoo) is not available in this installation") from None
    return zoo


def zoo_rows() -> list[dict]:
    """One dict per zoo entry: name, input_shape, macs, eval_samples, description."""
    return [{"name": name, "input_shape": [int(v) for v in e.input_shape], "macs": int(e.macs),
             "eval_samples": None if e.eval_samples is None else int(e.eval_samples),
             "description": e.description} for name, e in _zoo().ZOO.items()]


def _macs(n: int) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return str(n)


def zoo_list_command(as_json: bool = False) -> int:
    rows = zoo_rows()
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    tab = Table(title="model zoo (isaacsim zoo make NAME --out DIR)", title_justify="left")
    for col, just in (("name", "left"), ("input", "left"), ("MACs", "right"), ("eval samples", "right"),
                      ("description", "left")):
        tab.add_column(col, justify=just)
    for r in rows:
        tab.add_row(r["name"], "x".join(map(str, r["input_shape"])), _macs(r["macs"]),
                    "-" if r["eval_samples"] is None else str(r["eval_samples"]), r["description"])
    Console(highlight=False).print(tab)
    return 0


def zoo_make_command(name: str, out: str, *, seed: int = 0, samples: int | None = None) -> int:
    if samples is not None and samples < 1:
        raise WorkloadError(f"--samples {samples}: must be >= 1")
    wl = _zoo().make(name, out, seed=seed, samples=samples)
    n = 0 if wl.eval is None else int(wl.eval.x.shape[0])
    print(f"wrote zoo workload {wl.name!r} to {out} ({len(wl.layers())} matrix layers, {n} eval samples)")
    return 0
