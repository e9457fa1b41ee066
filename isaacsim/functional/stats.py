"""Per-layer statistics of a run through the datapath: `LayerStats`, one per conv2d/linear layer.

The batch loop (`isaacsim.functional.batches`) adds every `isaacsim.mvm` call's counts into one
accumulator per layer and batch, and merges a batch's accumulators once the batch completes.
`LayerStats.summary()` is a layer's entry in the run summary; the histograms (`sample_hist`,
`ops_hist`), the A/D-operation traces (`ad_ops_trace`) and the per-crossbar counts (`xbar_ad_ops`,
`xbar_r2`) stay on the object for the timing, energy and calibration models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from isaacsim.adc.kinds import kind
from isaacsim.mapping.placement import LayerPlacement


def ratio(num: int, den: int) -> float | None:
    """num / den, None when den is 0."""
    return num / den if den else None


@dataclass
class LayerStats:
    """Accumulated ADC / S+A statistics of one conv2d or linear layer over all its mvm calls."""

    name: str
    op: str
    k: int
    m: int
    groups: int
    crossbars: int
    copies: int
    pes: int
    tiles: int
    adc: dict[str, Any]
    xbars_per_group: int = 0
    """Crossbars of one group's matrix in one copy (`MatrixGeometry.crossbars`)."""
    precision: dict[str, Any] = field(default_factory=dict)
    """The layer's own widths and what they cost: weight_bits, input_bits, input_signed, slices
    (per weight and polarity) and input_cycles (`MatrixGeometry`)."""
    conversions: int = 0
    ad_ops: int = 0
    r1_conversions: int = 0
    r2_conversions: int = 0
    overflows: int = 0
    mvm_calls: int = 0
    n_vectors: int = 0
    """Input vectors through one group's matrix, summed over groups (B * Ho * Wo * groups)."""
    sample_hist: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Raw bit-line samples by value (length max_sample + 1)."""
    ops_hist: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Conversions by A/D-operation count (length resolution + 3)."""
    ad_ops_trace: np.ndarray | None = None
    """A/D operations per window, cycle, crossbar and ADC lane of the run's first samples
    (`simulate(..., traces=N)`; None when off): int32 (samples, groups, vectors, input_cycles,
    crossbars_per_group, lanes); `isaacsim.mvm`'s ad_ops_trace per sample and group, vectors =
    Ho * Wo (1 for linear). docs/datapath.md, "ADC operation traces"."""
    trace_segments: np.ndarray | None = None
    """When set, the traces are summed over these crossbar segments (`isaacsim.mapping.segments.pe_segments`)
    and kept in `timing_trace` instead of `ad_ops_trace`: the timing model's input, several times
    smaller."""
    timing_trace: Any = None
    """A `isaacsim.mapping.segments.SegmentTrace` of the first samples, (samples, groups, vectors,
    input_cycles, segments, lanes), when `trace_segments` is set."""
    xbar_ad_ops: np.ndarray = field(init=False, repr=False)
    """A/D operations (detection comparisons included) of every crossbar of the layer, summed
    over all simulated samples: int64 (copies, groups, xbars_per_group); flattened, entry i is
    crossbar `LayerPlacement.crossbar_index` i. Windows go to copies round-robin (window n of a
    sample to copy n % copies). Sums to ad_ops. docs/datapath.md, "Per-crossbar counts"."""
    xbar_r2: np.ndarray = field(init=False, repr=False)
    """TRQ range-2 conversions per crossbar, as xbar_ad_ops (zeros for other modes); sums to
    r2_conversions."""

    def __post_init__(self) -> None:
        shape = (self.copies, self.groups, self.xbars_per_group)
        self.xbar_ad_ops = np.zeros(shape, np.int64)
        self.xbar_r2 = np.zeros(shape, np.int64)

    @classmethod
    def of(cls, lp: LayerPlacement) -> LayerStats:
        ly = lp.layer
        g = lp.geometry
        precision = {**g.bits, "slices": g.n_slices, "input_cycles": g.input_cycles}
        return cls(ly.name, ly.kind, ly.k, ly.m, ly.groups, lp.crossbars, lp.copies, lp.n_pes,
                   len(lp.tiles), lp.adc.to_dict(), xbars_per_group=g.crossbars, precision=precision)

    def empty_like(self) -> LayerStats:
        return LayerStats(self.name, self.op, self.k, self.m, self.groups, self.crossbars, self.copies,
                          self.pes, self.tiles, dict(self.adc), xbars_per_group=self.xbars_per_group,
                          precision=dict(self.precision), trace_segments=self.trace_segments)

    @staticmethod
    def _add_hist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.size < b.size:
            a = np.pad(a, (0, b.size - a.size))
        out = a.astype(np.int64, copy=True)
        out[: b.size] += b
        return out

    def add_call(self, stats: dict[str, Any], calls: int = 1, group: int = 0) -> None:
        """Add one `isaacsim.mvm` call's statistics (calls=0: the rest of a product split in two);
        group: the conv group whose matrix it ran, for the per-crossbar counts (whose copies are
        the call's vector_copy values)."""
        xb = {k: np.asarray(stats[k], np.int64) for k in ("crossbar_ad_ops", "crossbar_r2")}
        for k, a in xb.items():
            if a.ndim != 2 or a.shape[0] > self.copies or a.shape[1] != self.xbars_per_group:
                raise ValueError(f"layer {self.name!r}: {k} of shape {a.shape} does not fit "
                                 f"{self.copies} copies x {self.xbars_per_group} crossbars")
        self.xbar_ad_ops[: xb["crossbar_ad_ops"].shape[0], group] += xb["crossbar_ad_ops"]
        self.xbar_r2[: xb["crossbar_r2"].shape[0], group] += xb["crossbar_r2"]
        self.conversions += int(stats["conversions"])
        self.ad_ops += int(stats["ad_ops"])
        self.r1_conversions += int(stats["r1_conversions"])
        self.r2_conversions += int(stats["r2_conversions"])
        self.overflows += int(stats["overflows"])
        self.n_vectors += int(stats["n_vectors"])
        self.mvm_calls += calls
        self.sample_hist = self._add_hist(self.sample_hist, np.asarray(stats["sample_hist"], np.int64))
        self.ops_hist = self._add_hist(self.ops_hist, np.asarray(stats["ops_hist"], np.int64))

    def add_trace(self, group: int, samples: int, trace: np.ndarray) -> None:
        """Store one group's `mvm` ad_ops_trace (samples * vectors, cycles, crossbars, lanes) of
        this accumulator's samples; groups arrive in order 0 .. groups - 1."""
        tr = trace.reshape(samples, -1, *trace.shape[1:])
        if self.trace_segments is not None:  # summed over segments already (mvm's trace_segments)
            from isaacsim.mapping.segments import SegmentTrace

            if self.timing_trace is None:
                data = np.zeros((samples, self.groups, *tr.shape[1:]), np.int32)
                self.timing_trace = SegmentTrace(data, self.trace_segments)
            self.timing_trace.data[:, group] = tr
            return
        if self.ad_ops_trace is None:
            self.ad_ops_trace = np.zeros((samples, self.groups, *tr.shape[1:]), np.int32)
        self.ad_ops_trace[:, group] = tr

    def merge(self, other: LayerStats) -> None:
        """Add another accumulator of the same layer (a completed batch) into this one."""
        for k in ("conversions", "ad_ops", "r1_conversions", "r2_conversions", "overflows",
                  "mvm_calls", "n_vectors"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.sample_hist = self._add_hist(self.sample_hist, other.sample_hist)
        self.ops_hist = self._add_hist(self.ops_hist, other.ops_hist)
        self.xbar_ad_ops = self.xbar_ad_ops + other.xbar_ad_ops
        self.xbar_r2 = self.xbar_r2 + other.xbar_r2
        if self.timing_trace is None:  # only the first samples keep one: the first batch's
            self.timing_trace = other.timing_trace
        if other.ad_ops_trace is not None:  # a later batch's samples follow this one's
            self.ad_ops_trace = (other.ad_ops_trace if self.ad_ops_trace is None
                                 else np.concatenate([self.ad_ops_trace, other.ad_ops_trace]))

    @property
    def ops_per_conversion(self) -> float | None:
        return ratio(self.ad_ops, self.conversions)

    @property
    def r1_share(self) -> float | None:
        """Fraction of conversions in range R1 of a two-range ADC such as TRQ (None for other kinds)."""
        return ratio(self.r1_conversions, self.conversions) if kind(self.adc["mode"]).has_ranges else None

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name, "op": self.op, "k": self.k, "m": self.m, "groups": self.groups,
            "crossbars": self.crossbars, "copies": self.copies, "pes": self.pes, "tiles": self.tiles,
            **self.precision, "adc": dict(self.adc),
            "conversions": self.conversions, "ad_ops": self.ad_ops,
            "ops_per_conversion": self.ops_per_conversion,
            "r1_conversions": self.r1_conversions, "r2_conversions": self.r2_conversions,
            "r1_share": self.r1_share, "overflows": self.overflows,
            "mvm_calls": self.mvm_calls, "n_vectors": self.n_vectors,
        }


__all__ = ["LayerStats", "ratio"]
