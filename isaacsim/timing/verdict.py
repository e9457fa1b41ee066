"""Does the pipeline meet the clock? The timing report's verdict (docs/timing.md, "Report").

The crossbars set a layer's pace: each of its crossbars reads once per input cycle of every
vector its copy takes, `read_latency` each (the layer's crossbar bound, `pace`). Every other
resource r of the layer must do its work in that time; the rate it needs per unit is
work_r / (units x pace) against the rate it has, `Stage.rate`. Their ratio is r's bound over the
pace: at most 1 and r keeps up with the crossbars; above 1 and r sets the layer's pace instead,
ratio times slower. The pipeline meets the clock when every resource of every layer keeps up.
"""

from __future__ import annotations

from fractions import Fraction

from isaacsim.timing.bounds import LayerBound


def needs(lb: LayerBound) -> dict[str, Fraction]:
    """{resource: its bound over the layer's crossbar pace} (the needed / available rate ratio)."""
    pace = lb["crossbar_read"].cycles
    return {r.resource: (r.cycles / pace if pace else Fraction(0)) for r in lb.resources
            if r.resource != "crossbar_read"}


def clock_check(rows: list[dict], stages, clock_mhz: float) -> dict:
    """The verdict over the report's layer rows (each with `needs`, {resource: ratio})."""
    table: dict[str, dict] = {}
    for row in rows:
        for res, ratio in row.get("needs", {}).items():
            if res not in table or ratio > table[res]["ratio"]:
                has = float(stages[res].rate)
                table[res] = {"stage": res, "layer": row["name"], "ratio": ratio, "rate_has": has,
                              "rate_needed": ratio * has, "unit": stages[res].unit}
    worst = max(table.values(), key=lambda d: d["ratio"], default=None)
    meets = worst is None or worst["ratio"] <= 1
    if worst is None:
        line = "no crossbar layer: nothing to check"
    elif meets:
        line = (f"meets the {clock_mhz:g} MHz clock: every stage keeps up with the crossbar reads; the busiest, "
                f"{worst['stage']} in layer {worst['layer']}, needs {worst['ratio']:.1%} of its rate")
    else:
        line = (f"does not meet the {clock_mhz:g} MHz clock: {worst['stage']} in layer {worst['layer']} needs "
                f"{worst['ratio']:.2f}x its rate, so that layer runs {worst['ratio']:.2f}x slower than its crossbars")
    return {"meets": meets, "line": line, "worst": worst,
            "stages": sorted(table.values(), key=lambda d: -d["ratio"])}


__all__ = ["clock_check", "needs"]
