"""A calibration's result as text: the per-layer register table and the totals (`print_result`,
what `isaacsim calibrate` prints)."""

from __future__ import annotations

from isaacsim.calibrate.loop import CalibrationResult

_SHOWN_AS = {"bits": "n_r2", "delta": "delta_r1"}
"""Uniform registers shown in the TRQ register columns of the table (its caption says so)."""


def _register_cells(regs) -> list[str]:
    """One layer's n_r1, n_r2, m, delta_r1, bias cells; "-" where its ADC has no such register."""
    cells = dict.fromkeys(("n_r1", "n_r2", "m", "delta_r1", "bias"), "-")
    for key, v in regs.items():
        col = _SHOWN_AS.get(key, key)
        if col in cells:
            cells[col] = f"{v:.4g}" if col == "delta_r1" else str(v)
    return list(cells.values())


def print_result(result: CalibrationResult, out: str | None = None) -> None:
    """The per-layer register table and the totals, on stdout."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    con = Console(highlight=False)
    if not con.is_terminal:
        con.width = max(con.width, 200)
    for note in result.notes:
        con.print(f"note: {note}")
    tab = Table(box=box.SIMPLE_HEAD, pad_edge=False,
                caption="uniform layers: n_r2 = bits K, delta_r1 = step D" if any(
                    _SHOWN_AS.keys() & ly["registers"].keys() for ly in result.layers) else None)
    for col in ("layer", "mode", "n_r1", "n_r2", "m", "delta_r1", "bias", "exp. ops/conv", "mse", "case"):
        tab.add_column(col, justify="left" if col in ("layer", "mode", "case") else "right")
    for ly in result.layers:
        cells = _register_cells(ly["registers"])
        tab.add_row(ly["name"], ly["mode"], *cells, f"{ly['expected_ops']:.3f}", f"{ly['mse']:.4g}", ly["case"])
    con.print(tab)
    n = "-" if result.n_r2 is None else str(result.n_r2)
    con.print(f"kept n_r2={n} (max drop {result.max_drop:.2%}; {result.calib_samples} {result.calib_source} samples "
              f"captured, {result.eval_samples} eval samples per evaluation)")
    con.print(f"{result.metric}: baseline {result.baseline_accuracy:.2%}, calibrated {result.accuracy:.2%} "
              f"(drop {result.drop * 100:+.2f} pp)")
    con.print(f"A/D ops per conversion: {result.ops_before:.3f} before (uniform lossless), "
              f"{result.ops_after:.3f} after ({result.ops_after / result.ops_before:.1%})")
    if result.energy_before and result.energy_after is not None:
        con.print(f"ADC energy per inference: {result.energy_before:.4g} J before, {result.energy_after:.4g} J after "
                  f"({result.energy_after / result.energy_before:.1%})")
    con.print(f"{result.simulations} simulations, wall time {result.wall_s:.1f} s"
              + (f"; registers written to {out}" if out else ""))
