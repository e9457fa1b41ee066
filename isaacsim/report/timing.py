"""`isaacsim run --timing-report`: the timing report (docs/timing.md, "Report") as rich tables,
from `Result.timing` (`NetworkTiming.as_dict()`)."""

from __future__ import annotations

from typing import Any


def print_timing(t: dict[str, Any] | None) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    con = Console(highlight=False)
    if not con.is_terminal:
        con.width = max(con.width, 200)
    if not t:
        con.print("timing: off")
        return
    if "error" in t:
        con.print(f"[bold]timing failed[/bold]: {t['error']}")
        return
    con.print(f"[bold]timing[/bold] ({t['granularity']} granularity), clock {t['clock_hz'] / 1e6:g} MHz, "
              f"sample 0")
    st = Table(title="stages", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("stage", "latency ns", "cycles", "multi-cycle", "rate per cycle", "unit"):
        st.add_column(col, justify="left" if col in ("stage", "unit") else "right")
    for s in t["stages"]:
        st.add_row(s["name"], f"{s['latency_ns']:g}", str(s["cycles"]), "yes" if s["multi_cycle"] else "",
                   f"{s['rate_per_cycle']:g}", s["unit"])
    con.print(st)
    lt = Table(title="layers", box=box.SIMPLE_HEAD, pad_edge=False)
    cols = ("layer", "start", "end", "cycles", "bound", "ratio", "bound by", "occupancy", "ADC util",
            "input", "buffer full", "ADC", "S+A", "read")
    for col in cols:
        lt.add_column(col, justify="left" if col in ("layer", "bound by") else "right", no_wrap=col != "layer")
    for ly in t["layers"]:
        ratio = "-" if ly["ratio"] is None else f"{ly['ratio']:.2f}"
        lt.add_row(ly["name"], f"{ly['start']:,}", f"{ly['end']:,}", f"{ly['cycles']:,}", f"{ly['bound_cycles']:,}",
                   ratio, ly["bound_resource"], f"{ly['occupancy_cycles']:,}", f"{ly['adc_utilisation']:.1%}",
                   *(f"{ly['stall_' + k]:,}" for k in ("input", "buffer_full", "adc", "shift_add", "read")))
    con.print(lt)
    con.print("utilisation (over the inference's latency, the resources the network uses): "
              + ", ".join(f"{k} {v:.1%}" for k, v in t["utilisation"].items()))
    con.print("stalls (cycles): " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in t["stalls"].items()))
    b = t["bottleneck"]
    if b:
        con.print(f"bottleneck: layer {b['layer']} ({b['resource']}; analytic bound: {b['bound_resource']}), "
                  f"{b['occupancy_cycles']:,} cycles per inference")
    con.print(f"latency: {t['latency_cycles']:,} cycles = {t['latency_s'] * 1e3:.4g} ms; "
              f"throughput {t['throughput_ips']:,.1f} inferences/s (pipelined: clock / the slowest layer's occupancy)")
    for note in t.get("notes", []):
        con.print(f"note: {note}")
