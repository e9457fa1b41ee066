"""Analytic lower bound per layer: the busiest resource's work / its rate (docs/timing.md).

For one placed layer (`LayerPlacement` from `place_network`), the stage rates (`build_stages`)
and the layer's A/D operations and conversions for one inference (the caller's counts; a
timing-only estimate may use `estimate_counts`: conversions from `MatrixGeometry.conversions`,
times an assumed ops per conversion), each resource gets

    cycles_r = work_r / capacity_r        (exact Fraction; ceil'd to an int alongside)

and the bound is max_r cycles_r, its resource the bottleneck. Symbols: V input vectors per
inference, c copies, V_c = ceil(V / c) vectors of the busiest copy, I input cycles per vector
(`geometry.input_cycles`), G groups, K x M the group's matrix, P the layer's PEs (all copies,
a partly filled last PE included: it serves only this layer), T the tiles it touches, Ki input
bits, R the ADC resolution. Rates are per unit per cycle (`Stage.rate`).

| resource | work | capacity (per cycle) |
|---|---|---|
| crossbar_read | V_c x I reads per crossbar (1) | crossbar rate (one crossbar) |
| adc | A/D operations; with `adc.early_termination: false`, conversions x R (2) | P x ADCs per PE x ADC rate |
| shift_add | conversions (one ADC result each) | P x S+A units per PE x S+A rate |
| input_register | the DACs' reads + the window writes (3), bytes | P x IR rate |
| output_register | conversions x psum_bits / 8 x (1 + 1 / I): writes + a read per column, window | P x OR rate |
| edram | the window fetches: per window, each tile's distinct input rows x Ki / 8 (3) | T x eDRAM rate |
| tile_bus | the window fetches + the partial sums or outputs into the tile output registers (3) | T x bus rate |
| tile_output_register | those + the partial sums other tiles send to a copy's last tile | T x its rate |
| tile_shift_add | the merges of a copy's partial sums (3), when it spans PEs | T x its rate |
| noc_link | the partial sums other tiles send to a copy's last tile, in byte-hops (3) | T x a router share x its rate |

(1) Every crossbar of a copy reads once per input cycle of each of its vectors; crossbars and
copies run in parallel. (2) Each conversion keeps its full-resolution slot. (3) The amounts of
`isaacsim.mapping.traffic.copy_traffic`, the ones the pipeline reserves and the energy model prices.

Choices, so that the bound stays a lower bound: work is spread evenly over all the units the
layer owns (a real schedule cannot beat that); what a layer's outputs do after its tiles (the
NFU work of the graph's non-crossbar nodes, the transfers to the consumers and their eDRAM
writes) is left out, because it depends on the graph and the neighbouring layers' tiles, which a
`LayerPlacement` does not carry. Config registers are loaded once per layer, not per inference:
`config_load_cycles` reports that cost apart and it is not in the bound.

Network (`network_bound`): `sequential_cycles` = sum of the layers' exact bounds, ceil'd (a
lower bound for one inference run layer after layer); `pipelined_cycles` = the slowest layer's
bound, the steady-state initiation interval of the ISAAC pipeline, and
`throughput_per_s` = clock_hz / that interval, an upper bound on inferences per second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from isaacsim.config.clock import Clock
from isaacsim.mapping.noc import router_hops
from isaacsim.mapping.placement import LayerPlacement, NetworkMapping
from isaacsim.mapping.traffic import copy_traffic
from isaacsim.timing.stages import Stages

Number = int | Fraction


@dataclass(frozen=True)
class ResourceWork:
    """One resource's work for one layer and inference, its capacity and the cycles they imply."""

    resource: str
    """Stage name (`Stages[resource]`)."""
    work: Fraction
    unit: str
    units: Fraction
    """How many units share the work (1 for the crossbar row: work is per crossbar)."""
    capacity: Fraction
    """Work done per cycle by all `units` together."""

    @property
    def cycles(self) -> Fraction:
        return self.work / self.capacity

    @property
    def cycles_ceil(self) -> int:
        return math.ceil(self.cycles)

    def as_dict(self) -> dict:
        return {"resource": self.resource, "work": float(self.work), "unit": self.unit, "units": float(self.units),
                "capacity_per_cycle": float(self.capacity), "cycles": float(self.cycles),
                "cycles_ceil": self.cycles_ceil}


@dataclass(frozen=True)
class LayerBound:
    """The per-layer analytic lower bound: every resource's cycles, the max and its resource."""

    layer: str
    resources: tuple[ResourceWork, ...]
    ad_ops: Fraction
    """A/D operations charged to the ADCs (conversions x R when early termination is off)."""
    conversions: int
    config_load_cycles: int
    """Loading the layer's ADC/S+A config registers, once per layer (not in the bound)."""

    def __getitem__(self, resource: str) -> ResourceWork:
        for r in self.resources:
            if r.resource == resource:
                return r
        raise KeyError(f"no resource {resource!r}; resources: {', '.join(r.resource for r in self.resources)}")

    @property
    def bound(self) -> Fraction:
        """Exact bound in cycles: the largest resource's work / capacity."""
        return max(r.cycles for r in self.resources)

    @property
    def bound_cycles(self) -> int:
        return math.ceil(self.bound)

    @property
    def bottleneck(self) -> str:
        """The busiest resource (the first in table order on a tie)."""
        return max(self.resources, key=lambda r: r.cycles).resource

    def as_dict(self) -> dict:
        return {"layer": self.layer, "bound_cycles": self.bound_cycles, "bound": float(self.bound),
                "bottleneck": self.bottleneck, "ad_ops": float(self.ad_ops), "conversions": self.conversions,
                "config_load_cycles": self.config_load_cycles,
                "resources": [r.as_dict() for r in self.resources]}


def _count(value: Number, what: str, layer: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, Fraction)) or value < 0:
        raise ValueError(f"layer {layer!r}: {what} must be a non-negative int or Fraction, got {value!r}")
    return Fraction(value)


def estimate_counts(lp: LayerPlacement, ops_per_conversion: Number | float) -> tuple[Fraction, int]:
    """(A/D operations, conversions) of one inference from geometry alone (Eq. 3 x an assumed ops each)."""
    conversions = lp.layer.groups * lp.geometry.conversions(lp.layer.n_vectors)
    opc = ops_per_conversion if isinstance(ops_per_conversion, (int, Fraction)) else Fraction(repr(ops_per_conversion))
    return conversions * Fraction(opc), conversions


def layer_bound(lp: LayerPlacement, stages: Stages, ad_ops: Number, conversions: int) -> LayerBound:
    """The analytic lower bound of layer `lp` for one inference (module docstring: formulas)."""
    ops = _count(ad_ops, "ad_ops", lp.name)
    conv = _count(conversions, "conversions", lp.name)
    if conv.denominator != 1:
        raise ValueError(f"layer {lp.name!r}: conversions must be an integer, got {conversions!r}")
    if not stages.early_termination:
        ops = conv * stages.adc_resolution
    g = lp.geometry
    pes, tiles = Fraction(lp.n_pes), Fraction(len(lp.tiles))
    mv = _movement(lp, stages)

    def per(stage: str, units: Fraction) -> tuple[Fraction, Fraction]:
        s = stages[stage]
        n = units * s.count
        return n, n * s.rate

    rows = [ResourceWork("crossbar_read", Fraction(lp.vectors_per_copy * g.input_cycles), "reads per crossbar",
                         Fraction(1), stages["crossbar_read"].rate)]
    psum = Fraction(stages.psum_bits, 8)
    for name, work, unit, units in (
        ("adc", ops, "A/D ops", pes),
        ("shift_add", conv, "results", pes),
        ("input_register", mv["ir"], "bytes", pes),
        ("output_register", conv * psum * (1 + Fraction(1, g.input_cycles)), "bytes", pes),
        ("edram", mv["fetch"], "bytes", tiles),
        ("tile_bus", mv["fetch"] + mv["partials"], "bytes", tiles),
        ("tile_output_register", mv["partials"] + mv["final"], "bytes", tiles),
        ("tile_shift_add", mv["adds"], "adds", tiles),
        ("noc_link", mv["noc"], "byte-hops", tiles),
    ):
        if name in stages and (work or name in ALWAYS):
            n, cap = per(name, units)
            rows.append(ResourceWork(name, work, unit, n, cap))
    cfg = stages["config_load"].latency_cycles if "config_load" in stages else 0
    return LayerBound(lp.name, tuple(rows), ops, int(conv), cfg)


ALWAYS = frozenset({"adc", "shift_add", "input_register", "output_register", "edram", "tile_bus"})
"""Resources listed even when the layer gives them no work."""


def _movement(lp: LayerPlacement, stages: Stages) -> dict[str, Fraction]:
    """The layer's data movement for one inference (`isaacsim.mapping.traffic`): window fetches
    (eDRAM reads = bus bytes), input-register bytes (the DACs' reads and the window writes),
    partial sums onto the bus, into the last tile's output register, their merges and byte-hops."""
    g = lp.geometry
    n_k = [len(range(k, lp.layer.n_vectors, lp.copies)) for k in range(lp.copies)]
    out = dict.fromkeys(("fetch", "ir", "partials", "final", "adds", "noc"), Fraction(0))
    tpr = _tiles_per_router(stages)
    for n, tr in zip(n_k, copy_traffic(lp, stages.input_bits, stages.psum_bits), strict=True):
        out["fetch"] += Fraction(n * sum(f.bits for f in tr.fetch), 8)
        out["ir"] += Fraction(n * sum(b for f in tr.fetch for b in f.ir_bits), 8)
        out["partials"] += Fraction(n * sum(p.bus_bits for p in tr.partials), 8)
        out["final"] += Fraction(n * tr.final_bits, 8)
        out["adds"] += n * (tr.final_adds + sum(p.adds for p in tr.partials))
        out["noc"] += Fraction(n * sum(p.noc_bits * router_hops(p.tile, tr.last_tile, tpr) for p in tr.partials), 8)
    t = np.arange(lp.crossbars) % g.crossbars
    rows = np.minimum(g.xbar_rows, g.k - ((t // g.polarities) % g.row_parts) * g.xbar_rows)
    reads = np.array(n_k, np.int64)[np.arange(lp.crossbars) // lp.crossbars_per_copy] * g.input_cycles
    out["ir"] += int((reads * rows).sum()) * Fraction(g.dac_bits, 8)
    return out


def _tiles_per_router(stages: Stages) -> int:
    """Tiles sharing one router: the inverse of the router stage's count per tile."""
    return int(1 / stages["noc_link"].count) if "noc_link" in stages else 1


@dataclass(frozen=True)
class NetworkBound:
    """Per-layer bounds of a placed network and the network-level figures they imply."""

    layers: tuple[LayerBound, ...]
    clock: Clock

    @property
    def sequential(self) -> Fraction:
        return sum((lb.bound for lb in self.layers), Fraction(0))

    @property
    def sequential_cycles(self) -> int:
        """Lower bound for one inference run layer after layer (no overlap)."""
        return math.ceil(self.sequential)

    @property
    def pipelined(self) -> Fraction:
        return max(lb.bound for lb in self.layers)

    @property
    def pipelined_cycles(self) -> int:
        """The slowest layer's bound: the pipelined steady-state interval between inferences."""
        return math.ceil(self.pipelined)

    @property
    def bottleneck_layer(self) -> str:
        return max(self.layers, key=lambda lb: lb.bound).layer

    @property
    def throughput_per_s(self) -> float:
        """Upper bound on pipelined inferences per second: clock / the slowest layer's bound."""
        return float(self.clock.hz / self.pipelined)

    def as_dict(self) -> dict:
        return {"sequential_cycles": self.sequential_cycles, "pipelined_cycles": self.pipelined_cycles,
                "bottleneck_layer": self.bottleneck_layer, "throughput_per_s": self.throughput_per_s,
                "layers": [lb.as_dict() for lb in self.layers]}


def network_bound(mapping: NetworkMapping, stages: Stages,
                  counts: Mapping[str, tuple[Number, int]]) -> NetworkBound:
    """Bounds of every placed layer; `counts` maps each layer name to (A/D operations, conversions)."""
    missing = [lp.name for lp in mapping.layers if lp.name not in counts]
    if missing:
        raise KeyError(f"no (ad_ops, conversions) for layer(s) {', '.join(missing)}")
    return NetworkBound(tuple(layer_bound(lp, stages, *counts[lp.name]) for lp in mapping.layers), stages.clock)
