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
from isaacsim.timing.stages import Stages
from isaacsim.timing.state import LayerState

STALL_CAUSES = ("input", "buffer_full", "adc", "shift_add", "read")
"""Stall counters (cycles, summed over a layer's PEs or outputs), docs/timing.md "Report"."""
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


def _latency(L: LayerState) -> int:
    """The cycle L's last output has left its path to every consumer."""
    released = int(L.release.t[-1]) + L.tail if len(L.ready) else 0
    return max([released, *(int(e.arrival.t[-1]) for e in L.outputs)])


def _stalls(L: LayerState, read_cycles: int) -> dict[str, int]:
    """L's stalls by cause (`STALL_CAUSES`)."""
    c = L.counters.sum(axis=0)
    read = np.maximum(0, L.conv_state - L.counters[:, _IDX["convert_busy"]] - L.counters[:, _IDX["input_stall"]]
                      - np.where(L.first >= 0, read_cycles, 0))
    return {"input": int(c[_IDX["input_stall"]]), "buffer_full": int(L.stall_buffer),
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
    ad_ops = int(L.work.sum())
    conversions = int(L.conv.sum())
    lb = layer_bound(L.lp, stages, ad_ops, conversions)
    cycles = end - int(L.start) if n else 0
    cap = len(L.steps) * rates.adcs * rates.adc * cycles
    return {"name": L.name, "cycles": cycles, "bound_cycles": lb.bound_cycles,
            "ratio": cycles / lb.bound_cycles if lb.bound_cycles else None,
            "bound_resource": lb.bottleneck, "start": int(L.start), "end": end,
            "released": int(L.release.t[-1]) if n else 0, "windows": n, "pes": len(L.steps),
            "copies": L.lp.copies, "occupancy_cycles": occupancy, "resource": _resource(L, occ_pe, rates.read_cycles),
            "ad_ops": ad_ops, "conversions": conversions,
            "adc_utilisation": float(Fraction(ad_ops) / cap) if cap else 0.0,
            "config_load_cycles": lb.config_load_cycles,
            **{f"stall_{k}": v for k, v in _stalls(L, rates.read_cycles).items()}}


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


class _Usage:
    """Utilisation of the resources over `latency` cycles (docs/timing.md, "Report")."""

    def __init__(self, layers: dict[str, LayerState], stages: Stages, mapping: NetworkMapping, latency: int):
        self.layers, self.stages, self.mapping, self.latency = list(layers.values()), stages, mapping, latency
        self.pes = sum(len(L.steps) for L in self.layers)
        self.tiles = max(1, mapping.tiles_used)

    def datapath(self, rates: Rates) -> dict[str, float]:
        """ADCs and S+A on the used PEs, the used crossbars."""
        ad_ops = sum(int(L.work.sum()) for L in self.layers)
        conv = sum(int(L.conv.sum()) for L in self.layers)
        xbar_busy = sum(len(s.crossbars) * len(s.conv) * rates.read_cycles for L in self.layers for s in L.steps)
        return {"adc": _frac(ad_ops, self.pes * rates.adcs * rates.adc * self.latency),
                "crossbar": _frac(xbar_busy, max(1, self.mapping.crossbars_used) * self.latency),
                "shift_add": _frac(conv, self.pes * rates.shift_add * self.latency)}

    def transfers(self) -> dict[str, float]:
        """Output bytes on the used tiles' bus and eDRAM, and those crossing tiles on the NoC."""
        edges = [e for L in self.layers for e in L.outputs]
        bus = sum(e.bytes_per_output * len(e.gate) for e in edges if e.same_tile)
        noc = sum(e.bytes_per_output * len(e.gate) for e in edges if not e.same_tile)
        out = {}
        if "tile_bus" in self.stages:
            out["tile_bus"] = _frac(bus + noc, self.tiles * self.stages["tile_bus"].rate * self.latency)
        if "edram" in self.stages:
            out["edram"] = _frac(bus + noc, self.tiles * self.stages["edram"].rate * self.latency)
        if "noc_link" in self.stages:
            out["noc"] = _frac(noc, self.tiles * self.stages["noc_link"].rate * self.latency)
        return out

    def _unit_cap(self, name: str):
        """All units of a tile-level stage over the tiles used, of a PE stage over the PEs, else the chip's."""
        st = self.stages[name]
        if st.level == "tile":
            n = st.per_tile * self.tiles
        else:
            n = st.per_pe * self.pes if st.level == "pe" else st.per_chip
        return n * st.rate * self.latency

    def units(self) -> dict[str, float]:
        """NFU, tile S+A, input registers and HyperTransport: their ops (bytes) against all their units."""
        stages, layers, out = self.stages, self.layers, {}
        outs = {L.name: L.lp.layer.n_vectors * L.lp.layer.out_channels for L in layers}
        if "sigmoid" in stages:  # NFU activations: one op per output element of a layer with an activation
            act = sum(outs[L.name] for L in layers if getattr(L.node, "activation", None))
            out["nfu_activation"] = _frac(act, self._unit_cap("sigmoid"))
        if "maxpool" in stages:  # NFU pooling: one op per element leaving a layer whose output path pools
            pooled = sum(outs[L.name] for L in layers if any(e.pools for e in L.outputs))
            out["nfu_pool"] = _frac(pooled, self._unit_cap("maxpool"))
        if "tile_shift_add" in stages:  # merging partial sums of a copy spread over several PEs
            merges = sum(outs[L.name] * (max(1, -(-L.lp.crossbars_per_copy // L.lp.crossbars_per_pe)) - 1)
                         for L in layers)
            out["tile_shift_add"] = _frac(merges, self._unit_cap("tile_shift_add"))
        if "input_register" in stages:  # every window's input vector is written once into a copy's registers
            in_bytes = sum(Fraction(L.lp.layer.n_vectors * L.lp.geometry.k * L.lp.layer.groups * stages.input_bits, 8)
                           for L in layers)
            out["input_register"] = _frac(in_bytes, self._unit_cap("input_register"))
        if "hypertransport" in stages:
            out["hypertransport"] = 0.0  # one chip: nothing leaves it during an inference
        return out


def utilisation(layers: dict[str, LayerState], stages: Stages, mapping: NetworkMapping, rates: Rates,
                latency: int) -> dict[str, float]:
    """Work over capacity during `latency` cycles, per resource; {} for an empty run."""
    if not latency:
        return {}
    usage = _Usage(layers, stages, mapping, latency)
    return {**usage.datapath(rates), **usage.transfers(), **usage.units()}


def stage_table(stages: Stages) -> list[dict]:
    """Every stage's latency, cycles, whether it is multi-cycle, and rate."""
    return [{"name": s.name, "latency_ns": float(s.latency_ns), "cycles": s.latency_cycles,
             "multi_cycle": s.multi_cycle, "rate_per_cycle": float(s.rate), "unit": s.unit} for s in stages.stages]


def collect(layers: dict[str, LayerState], stages: Stages, mapping: NetworkMapping, rates: Rates,
            timeline=None) -> Figures:
    """The report of a finished run; each layer's span is added to `timeline` when given."""
    latency = max([0, *(_latency(L) for L in layers.values())])
    rows = [_layer_row(L, stages, rates) for L in layers.values()]
    if timeline is not None:
        for row in rows:
            if row["windows"]:
                timeline.add(f"layer {row['name']}", row["name"], row["start"], row["cycles"],
                             bound_cycles=row["bound_cycles"])
    occupancy, bottleneck = _bottleneck(rows)
    stalls = {k: sum(row[f"stall_{k}"] for row in rows) for k in STALL_CAUSES}
    return Figures(latency, occupancy, bottleneck, stalls, utilisation(layers, stages, mapping, rates, latency),
                   stage_table(stages), rows)
