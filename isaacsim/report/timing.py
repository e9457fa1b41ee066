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
                Column("bottleneck", "left")]
    busy = [Column("occupancy"), Column("ADC util")]
    stalls = [Column("stall/PE\n" + h) for h in ("input", "ADC", "S+A", "read")] + [Column("outputs\nheld")]
    rows = []
    for ly in t.layers:
        ratio = "-" if ly["ratio"] is None else f"{ly['ratio']:.2f}"
        rows.append(Row([ly["name"], f"{ly['start']:,}", f"{ly['end']:,}", f"{ly['cycles']:,}",
                         f"{ly['bound_cycles']:,}", ratio, ly["bound_resource"], f"{ly['occupancy_cycles']:,}",
                         f"{ly['adc_utilisation']:.1%}",
                         *(f"{ly['stall_' + k + '_share']:.1%}" for k in ("input", "adc", "shift_add", "read")),
                         f"{ly['stall_buffer_full']:,}"]))
    print_table(con, [Column("layer", "left")], [schedule, busy, stalls], rows,
                title="layers, cycles of one inference", box=box.SIMPLE_HEAD, pad_edge=False)
    con.print("stall/PE: a PE's stall cycles by cause, mean over the layer's PEs, as a share of the layer's cycles; "
              "outputs held: cycles the layer's outputs waited for room downstream; bottleneck: the resource of "
              "the analytic bound")
    _clock(con, t)
    con.print("utilisation over the inference's latency, mean over the used units (busiest unit): "
              + ", ".join(f"{k} {v:.1%} ({t.utilisation_max.get(k, v):.1%})" for k, v in t.utilisation.items()))
    st = t.stalls
    con.print("stalls, cycles per PE (mean over the network's PEs) and share of the latency: "
              + ", ".join(f"{k.replace('_', ' ')} {st[k]:,.0f} ({st[k + '_share']:.1%})"
                          for k in ("input", "adc", "shift_add", "read"))
              + f"; outputs held for room downstream: {st['buffer_full']:,.0f} cycles")
    b = t.bottleneck
    if b:
        con.print(f"bottleneck: layer {b['layer']} ({b['resource']}; analytic bound: {b['bound_resource']}), "
                  f"{b['occupancy_cycles']:,} cycles per inference")
    con.print(f"latency: {t.latency_cycles:,} cycles = {t.latency_s * 1e3:.4g} ms; "
              f"throughput {t.throughput_ips:,.1f} inferences/s (pipelined: clock / the slowest layer's occupancy)")
    for note in t.notes:
        con.print(f"note: {note}")


def _clock(con, t) -> None:
    """Per stage, the rate it needs to keep up with the crossbar reads against the rate it has, and
    the verdict (`isaacsim.timing.verdict`)."""
    from rich import box

    from isaacsim.report.tables import Column, Row, print_table

    c = t.clock_check
    if not c:
        return
    rows = [Row([d["stage"], d["layer"], f"{d['rate_needed']:,.4g}", f"{d['rate_has']:,.4g}", d["unit"],
                 f"{d['ratio']:.1%}"]) for d in c["stages"]]
    print_table(con, [Column("stage", "left")],
                [[Column("busiest layer", "left"), Column("needs /cycle"), Column("has /cycle"), Column("unit", "left"),
                  Column("needs / has")]], rows,
                title="does the pipeline meet the clock? each stage's rate needed to keep up with the crossbar reads",
                box=box.SIMPLE_HEAD, pad_edge=False)
    con.print(f"[bold]verdict[/bold]: {c['line']}")
