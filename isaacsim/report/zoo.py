"""The model zoo as a table: one row per entry (`zoo_rows`) and its rich form (`print_zoo`);
`load_zoo` imports the zoo with a one-line error where it is missing."""

from __future__ import annotations

from isaacsim.errors import WorkloadError


def load_zoo():
    """The `isaacsim.workload.zoo` module; WorkloadError when this installation lacks it."""
    try:
        from isaacsim.workload import zoo
    except ImportError:
        raise WorkloadError("the model zoo (isaacsim.workload.zoo) is not available in this installation") from None
    return zoo


def zoo_rows() -> list[dict]:
    """One dict per zoo entry: name, input_shape, macs, eval_samples, description."""
    return [{"name": name, "input_shape": [int(v) for v in e.input_shape], "macs": int(e.macs),
             "eval_samples": None if e.eval_samples is None else int(e.eval_samples),
             "description": e.description} for name, e in load_zoo().ZOO.items()]


def _macs(n: int) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return str(n)


def print_zoo(rows: list[dict], con=None) -> None:
    """The rows of `zoo_rows` as a table on stdout (or `con`, a rich Console). Only the
    description wraps to fit the console; the other columns keep their width."""
    from rich.table import Table

    from isaacsim.report.tables import console

    tab = Table(title="model zoo (isaacsim zoo make NAME --out DIR)", title_justify="left")
    for col, just in (("name", "left"), ("input", "left"), ("MACs", "right"), ("eval\nsamples", "right"),
                      ("description", "left")):
        tab.add_column(col, justify=just, no_wrap=col != "description", overflow="fold")
    for r in rows:
        tab.add_row(r["name"], "x".join(map(str, r["input_shape"])), _macs(r["macs"]),
                    "-" if r["eval_samples"] is None else str(r["eval_samples"]), r["description"])
    (console() if con is None else con).print(tab)
