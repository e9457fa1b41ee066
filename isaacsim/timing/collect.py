"""The network pipeline's report figures, read off the finished simulation (docs/timing.md,
"Report"): the network latency, per layer its cycles against the analytic bound, occupancy,
critical resource and stalls, the bottleneck layer, resource utilisation and the stage table.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from isaacsim.kernels.pe_schedule import COUNTERS
from isaacsim.mapping.placement import NetworkMapping
from isaacsim.timing.bounds import layer_bound
from isaacsim.timing.layer import Rates
from isaacsim.timing.resources import BYTE_UNITS, Resources
from isaacsim.timing.stages import Stages
from isaacsim.timing.state import LayerState
from isaacsim.timing.verdict import clock_check, needs

STALL_CAUSES = ("input", "buffer_full", "adc", "shift_add", "read")
"""Stall causes (docs/timing.md "Report"): cycles per PE; buffer_full: cycles a layer's outputs waited."""
_IDX = {k: i for i, k in enumerate(COUNTERS)}


@dataclass(frozen=True)
class Figures:
    """What `NetworkTiming` reports of one finished run, but for its clock, events and wall time."""

    latency_cycles: int
    occupancy_cycles: int
    bottleneck: dict
    stalls: dict
    utilisation: dict
    stages: list
    layers: list
    utilisation_max: dict
    clock_check: dict
    moved: dict


def _latency(L: LayerState) -> int:
    """The cycle L's last output has left its NFU and reached every consumer."""
    return max([L.out_end, *(int(e.arrival.t[-1]) for e in L.outputs)])


def _stalls(L: LayerState, read_cycles: int) -> dict[str, int]:
    """L's stalls by cause (`STALL_CAUSES`), summed over its PEs. A PE's wait for its first
    round's inputs (the pipeline filling up to this layer) is not a stall: input stalls count
    from its first read on."""
    c = L.counters.sum(axis=0)
    read = np.maximum(0, L.conv_state - L.counters[:, _IDX["convert_busy"]] - L.counters[:, _IDX["input_stall"]]
                      - np.where(L.first >= 0, read_cycles, 0))
    before_first = np.maximum(0, L.first - read_cycles).sum()
    return {"input": int(c[_IDX["input_stall"]] - before_first), "buffer_full": int(L.stall_buffer),
            "adc": int(c[_IDX["sh_stall"]]), "shift_add": int(c[_IDX["sa_stall"]]), "read": int(read.sum())}


def _resource(L: LayerState, occ_pe: np.ndarray, read_cycles: int) -> str:
    """The critical PE's limiting resource: the converters when they outlast its reads."""
    if not len(occ_pe):
        return "-"
    e = int(occ_pe.argmax())
    busy = L.counters[e]
    if busy[_IDX["convert_busy"]] > np.diff(L.offsets)[e] * read_cycles:
        return "adc" if busy[_IDX["adc_busy"]] >= busy[_IDX["sa_busy"]] else "shift_add"
    return "crossbar_read"


def _layer_row(L: LayerState, stages: Stages, rates: Rates) -> dict:
    """L's line of the report (`NetworkTiming.layers`)."""
    n = len(L.ready)
    end = int(L.end.max()) if n else 0
    occ_pe = L.conv_state - L.counters[:, _IDX["input_stall"]]
    occupancy = int(occ_pe.max()) if len(occ_pe) else 0
    ad_ops = int(L.pw.ad_ops.sum())
    conversions = int(L.conv.sum())
    lb = layer_bound(L.lp, stages, ad_ops, conversions)
    cycles = end - int(L.start) if n else 0
    cap = L.n_pes * rates.adcs * rates.adc * cycles
    return {"name": L.name, "cycles": cycles, "bound_cycles": lb.bound_cycles,
            "ratio": cycles / lb.bound_cycles if lb.bound_cycles else None,
            "bound_resource": lb.bottleneck, "start": int(L.start), "end": end,
            "released": int(L.release.t[-1]) if n else 0, "windows": n, "pes": L.n_pes,
            "copies": L.lp.copies, "occupancy_cycles": occupancy, "resource": _resource(L, occ_pe, rates.read_cycles),
            "ad_ops": ad_ops, "conversions": conversions,
            "adc_utilisation": float(Fraction(ad_ops) / cap) if cap else 0.0,
            "config_load_cycles": lb.config_load_cycles, "pace_cycles": lb["crossbar_read"].cycles_ceil,
            "needs": {k: float(v) for k, v in needs(lb).items()},
            **_stall_fields(L, rates.read_cycles, cycles)}


def _stall_fields(L: LayerState, read_cycles: int, cycles: int) -> dict:
    """stall_<cause>: cycles per PE (mean over the layer's PEs; buffer_full: cycles the layer's
    outputs waited, once per layer); stall_<cause>_share: that over the layer's cycles."""
    raw = _stalls(L, read_cycles)
    pes = max(1, L.n_pes)
    out = {}
    for k, v in raw.items():
        per = v if k == "buffer_full" else v / pes
        out[f"stall_{k}"] = per
        out[f"stall_{k}_share"] = per / cycles if cycles else 0.0
    out["stall_pe_cycles"] = {k: v for k, v in raw.items() if k != "buffer_full"}
    return out


def _bottleneck(rows: list[dict]) -> tuple[int, dict]:
    """(occupancy, bottleneck) of the first layer with the largest occupancy; (0, {}) when none is busy."""
    occ_max, bott = 0, {}
    for row in rows:
        if row["occupancy_cycles"] > occ_max:
            occ_max = row["occupancy_cycles"]
            bott = {"layer": row["name"], "resource": row["resource"], "occupancy_cycles": occ_max,
                    "bound_resource": row["bound_resource"]}
    return occ_max, bott


def _frac(work, cap) -> float:
    return float(Fraction(work) / cap) if cap else 0.0


SERVED = {"input_register": "input_register", "edram": "edram", "tile_bus": "tile_bus", "noc_link": "noc",
          "tile_output_register": "tile_output_register", "tile_shift_add": "tile_shift_add",
          "sigmoid": "nfu_activation", "maxpool": "nfu_pool", "hypertransport": "hypertransport"}
"""Stages the pipeline reserves as servers, and their names in the utilisation report."""


@dataclass(frozen=True)
class Usage:
    """One resource's utilisation over the run's latency: `mean` over the instances the network
    uses (all of them for a chip-level unit), `max` of the busiest one; both at most 1."""

    mean: float
    max: float
    instances: int


def _usage(work: list, rate: Fraction, latency: int) -> Usage:
    cap = rate * latency
    if not work or not cap:
        return Usage(0.0, 0.0, len(work))
    return Usage(_frac(sum(work, Fraction(0)), cap * len(work)), _frac(max(work), cap), len(work))


class _Usage:
    """Utilisation of every resource over `latency` cycles (docs/timing.md, "Report")."""

    def __init__(self, layers: dict[str, LayerState], stages: Stages, res: Resources, latency: int):
        self.layers, self.stages, self.res, self.latency = list(layers.values()), stages, res, latency
        self.tiles = sorted({t for L in self.layers for t in L.lp.tiles})

    def pe_level(self, rates: Rates) -> dict[str, Usage]:
        """Crossbars, ADCs, S+A and the PE registers, per used PE. The registers' work is computed
        here: input register = the DACs' reads + the window writes the pipeline reserved; output
        register = a partial sum written per S+A result and read once per column and window."""
        st, lat = self.stages, self.latency
        ir_w = self.res.work("input_register")  # bits of the window writes
        adc, sa, ir, orr = [], [], [], []
        xbar_busy, xbar_cap, xbar_max = 0, 0, Fraction(0)
        for L in self.layers:
            pw, lp, g = L.pw, L.lp, L.lp.geometry
            conv = pw.per_pe(pw.conv).tolist()
            adc += [Fraction(int(v)) for v in pw.ad_ops.sum(axis=1).tolist()]
            sa += [Fraction(c) for c in conv]
            xbars = (pw.xbar_hi - pw.xbar_lo).tolist()
            for steps, nx in zip(np.diff(pw.offsets).tolist(), xbars, strict=True):
                busy = steps * nx * rates.read_cycles
                xbar_busy, xbar_cap = xbar_busy + busy, xbar_cap + nx * lat
                xbar_max = max(xbar_max, Fraction(busy, max(1, nx * lat)))
            for e, r in enumerate(self._reads(L).tolist()):
                ir.append(r * g.dac_bits + ir_w.get(lp.first_pe + e, 0))
            orr += [st.psum_bits * c * (1 + Fraction(1, pw.cyc)) for c in conv]
        out = {"adc": _usage(adc, rates.adc * rates.adcs, lat),
               "crossbar": Usage(_frac(xbar_busy, xbar_cap), float(xbar_max), len(adc)),
               "shift_add": _usage(sa, rates.shift_add, lat)}
        for name, work in (("input_register", ir), ("output_register", orr)):  # bits
            if name in st:
                out[name] = _usage(work, st[name].rate * st[name].per_pe * 8, lat)
        return out

    @staticmethod
    def _reads(L: LayerState) -> np.ndarray:
        """(PEs,): the crossbar row reads of each PE in the run: per crossbar, its copy's windows x
        input cycles x its rows."""
        lp, g, pw = L.lp, L.lp.geometry, L.pw
        i = np.arange(lp.crossbars, dtype=np.int64)
        t = i % g.crossbars
        rp = (t // g.polarities) % g.row_parts
        rows = np.minimum(g.xbar_rows, g.k - rp * g.xbar_rows)
        k = i // lp.crossbars_per_copy
        windows = np.maximum(0, -((k - pw.n) // lp.copies))
        return np.bincount(i // lp.crossbars_per_pe, weights=windows * pw.cyc * rows,
                           minlength=pw.n_pes).astype(np.int64)

    def served(self) -> dict[str, Usage]:
        """The tile, router and chip units the pipeline reserved: every used tile's (router's) unit."""
        out = {}
        routers = sorted({t // self.res.tiles_per_router for t in self.tiles})
        for stage, name in SERVED.items():
            if not self.res.has(stage) or stage == "input_register":  # a PE unit: `pe_level`
                continue
            work = self.res.work(stage)
            insts = [0] if stage == "hypertransport" else routers if stage == "noc_link" else self.tiles
            insts = sorted(set(insts) | set(work))
            out[name] = _usage([work.get(i, 0) for i in insts], self.res.rate(stage), self.latency)
        return out


def utilisation(layers: dict[str, LayerState], stages: Stages, mapping: NetworkMapping, rates: Rates,
                res: Resources, latency: int) -> dict[str, Usage]:
    """Work over capacity during `latency` cycles, per resource; {} for an empty run."""
    if not latency:
        return {}
    usage = _Usage(layers, stages, res, latency)
    return {**usage.pe_level(rates), **usage.served()}


def stage_table(stages: Stages) -> list[dict]:
    """Every stage's latency, cycles, whether it is multi-cycle, and rate."""
    return [{"name": s.name, "latency_ns": float(s.latency_ns), "cycles": s.latency_cycles,
             "multi_cycle": s.multi_cycle, "rate_per_cycle": float(s.rate), "unit": s.unit} for s in stages.stages]


def collect(layers: dict[str, LayerState], stages: Stages, mapping: NetworkMapping, rates: Rates, res: Resources,
            out_end: int = 0, timeline=None) -> Figures:
    """The report of a finished run (`out_end`: the network output has left the chip); each
    layer's span is added to `timeline` when given."""
    latency = max([0, out_end, *(_latency(L) for L in layers.values())])
    rows = [_layer_row(L, stages, rates) for L in layers.values()]
    if timeline is not None:
        for row in rows:
            if row["windows"]:
                timeline.add(f"layer {row['name']}", row["name"], row["start"], row["cycles"],
                             bound_cycles=row["bound_cycles"])
    occupancy, bottleneck = _bottleneck(rows)
    stalls = _network_stalls(rows, latency)
    use = utilisation(layers, stages, mapping, rates, res, latency)
    return Figures(latency, occupancy, bottleneck, stalls, {k: u.mean for k, u in use.items()}, stage_table(stages),
                   rows, {k: u.max for k, u in use.items()}, clock_check(rows, stages, float(stages.clock.mhz)),
                   moved(res))


def moved(res: Resources) -> dict[str, float]:
    """What every reserved unit did in the run, in its stage's unit (bytes, adds, ops), summed over
    its instances: the amounts the energy model prices for the same units."""
    out = {}
    for stage in SERVED:
        if res.has(stage):
            total = sum(res.work(stage).values())
            out[stage] = total / 8 if res.stages[stage].unit in BYTE_UNITS else float(total)
    return out


def _network_stalls(rows: list[dict], latency: int) -> dict:
    """Per cause: cycles per PE, the mean over every PE of the network (buffer_full: cycles the
    layers' outputs waited, summed), and that as a share of the latency (`<cause>_share`)."""
    pes = max(1, sum(row["pes"] for row in rows))
    out: dict = {}
    for k in STALL_CAUSES:
        v = sum(row["stall_buffer_full"] for row in rows) if k == "buffer_full" else \
            sum(row["stall_pe_cycles"][k] for row in rows) / pes
        out[k] = v
        out[f"{k}_share"] = v / latency if latency else 0.0
    return out
