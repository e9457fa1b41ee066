"""`isaacsim run --timing-report`: the timing report (docs/timing.md, "Report") as rich tables,
from `Result.timing` (a `NetworkTiming`), or why there is none."""

from __future__ import annotations

from isaacsim.pipeline import Result


def print_timing(res: Result, con=None) -> None:
    """The timing report of a run; "timing: off" without one, the reason when the model failed.
    `con`: a rich Console (default: stdout, `isaacsim.report.tables.console`)."""
    from rich import box

    from isaacsim.report.tables import Column, Row, console, print_table

    con = console() if con is None else con
    failed = res.failure("timing")
    if failed is not None:
        con.print(f"[bold]timing failed[/bold]: {failed.message}")
        return
    t = res.timing
    if t is None:
        con.print("timing: off")
        return
    con.print(f"[bold]timing[/bold] ({t.granularity} granularity), clock {float(t.clock.hz) / 1e6:g} MHz, "
              f"sample 0")
    print_table(con, [Column("stage", "left")],
                [[Column("latency ns"), Column("cycles"), Column("multi-cycle")], [Column("rate per cycle"),
                                                                                    Column("unit", "left")]],
                [Row([s["name"], f"{s['latency_ns']:g}", str(s["cycles"]), "yes" if s["multi_cycle"] else "",
                      f"{s['rate_per_cycle']:g}", s["unit"]]) for s in t.stages],
                title="stages", box=box.SIMPLE_HEAD, pad_edge=False)
    schedule = [Column("start"), Column("end"), Column("cycles"), Column("bound"), Column("ratio"),
                Column("bound by", "left")]
    busy = [Column("occupancy"), Column("ADC util")]
    stalls = [Column("stall\n" + h) for h in ("input", "buffer full", "ADC", "S+A", "read")]
    rows = []
    for ly in t.layers:
        ratio = "-" if ly["ratio"] is None else f"{ly['ratio']:.2f}"
        rows.append(Row([ly["name"], f"{ly['start']:,}", f"{ly['end']:,}", f"{ly['cycles']:,}",
                         f"{ly['bound_cycles']:,}", ratio, ly["bound_resource"], f"{ly['occupancy_cycles']:,}",
                         f"{ly['adc_utilisation']:.1%}",
                         *(f"{ly['stall_' + k]:,}" for k in ("input", "buffer_full", "adc", "shift_add", "read"))]))
    print_table(con, [Column("layer", "left")], [schedule, busy, stalls], rows,
                title="layers, cycles of one inference", box=box.SIMPLE_HEAD, pad_edge=False)
    con.print("utilisation (over the inference's latency, the resources the network uses): "
              + ", ".join(f"{k} {v:.1%}" for k, v in t.utilisation.items()))
    con.print("stalls (cycles): " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in t.stalls.items()))
    b = t.bottleneck
    if b:
        con.print(f"bottleneck: layer {b['layer']} ({b['resource']}; analytic bound: {b['bound_resource']}), "
                  f"{b['occupancy_cycles']:,} cycles per inference")
    con.print(f"latency: {t.latency_cycles:,} cycles = {t.latency_s * 1e3:.4g} ms; "
              f"throughput {t.throughput_ips:,.1f} inferences/s (pipelined: clock / the slowest layer's occupancy)")
    for note in t.notes:
        con.print(f"note: {note}")
