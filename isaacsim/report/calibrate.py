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


def print_result(result: CalibrationResult, out: str | None = None, con=None) -> None:
    """The per-layer register table and the totals, on stdout (or `con`, a rich Console)."""
    from rich import box

    from isaacsim.report.tables import Column, Row, console, print_table

    con = console() if con is None else con
    for note in result.notes:
        con.print(f"note: {note}")
    caption = "uniform layers: n_r2 = bits K, delta_r1 = step D" if any(
        _SHOWN_AS.keys() & ly["registers"].keys() for ly in result.layers) else None
    registers = [Column("mode", "left"), *(Column(c) for c in ("n_r1", "n_r2", "m", "delta_r1", "bias"))]
    found = [Column("expected\nops/conv"), Column("mse"), Column("case", "left")]
    rows = [Row([ly["name"], ly["mode"], *_register_cells(ly["registers"]), f"{ly['expected_ops']:.3f}",
                 f"{ly['mse']:.4g}", ly["case"]]) for ly in result.layers]
    print_table(con, [Column("layer", "left")], [registers, found], rows, caption=caption, box=box.SIMPLE_HEAD,
                pad_edge=False)
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
