"""One layer's per-PE step inputs as flat arrays, and the traces the timing model reads.

`pe_work(lp, trace, stages)` turns a placed layer and one sample's A/D-operation trace into a
`PEWork`: every PE's steps back to back (A/D operations per step and ADC, conversions per step),
and which windows each PE round serves (docs/timing.md, "One PE's schedule"). Round r of a PE
serves the windows r x copies + k of the copies k with crossbars on it (a contiguous range, as
crossbars are placed copy after copy); a round ends the window with the largest index.

A trace may be kept per PE segment rather than per crossbar (`isaacsim.mapping.segments`): the
timing model reads only those sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from isaacsim.mapping.placement import LayerPlacement
from isaacsim.mapping.segments import SegmentTrace, pe_segments, segment_trace
from isaacsim.timing.stages import Stages


def _ptr(counts) -> np.ndarray:
    """CSR row pointers of rows with `counts` entries."""
    return np.concatenate([[0], np.cumsum(np.asarray(counts, np.int64))]).astype(np.int64)


@dataclass(frozen=True, eq=False)
class PEWork:
    """Every PE's step inputs of one layer (module docstring), PE e's steps at
    offsets[e] .. offsets[e + 1] - 1: rounds[e] rounds of `cyc` steps."""

    n: int
    """Windows of the layer."""
    copies: int
    cyc: int
    xbar_lo: np.ndarray
    xbar_hi: np.ndarray
    """(P,): PE e holds the layer's crossbars xbar_lo[e] .. xbar_hi[e] - 1."""
    k_lo: np.ndarray
    k_hi: np.ndarray
    """(P,): the copies with crossbars on PE e, k_lo[e] .. k_hi[e]."""
    rounds: np.ndarray
    offsets: np.ndarray
    adc: np.ndarray
    """int64 (steps,): the cycles the step's slowest ADC converts, max over ADCs of
    ceil(A/D operations / rate)."""
    sa: np.ndarray
    """int64 (steps,): the cycles the PE's S+A units take for the step's results."""
    conv: np.ndarray
    """int64 (steps,): conversions per step."""
    ad_ops: np.ndarray
    """int64 (PEs, adcs): A/D operations per PE and ADC over the layer."""
    tile: np.ndarray
    pe: np.ndarray
    work: np.ndarray | None = None
    """int64 (steps, adcs): A/D operations per step and ADC (`pe_work(..., keep_work=True)`)."""

    @property
    def n_pes(self) -> int:
        return len(self.rounds)

    @cached_property
    def round_windows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(round_pe, round_r, ptr, windows): per PE round (PE-major), its PE and index, and its
        windows windows[ptr[i]:ptr[i + 1]], in copy order."""
        n_r = len(self.rounds)
        pe = np.repeat(np.arange(n_r, dtype=np.int64), self.rounds)
        r = np.arange(len(pe), dtype=np.int64) - np.repeat(_ptr(self.rounds)[:-1], self.rounds)
        width = (self.k_hi - self.k_lo + 1)[pe]
        idx = np.repeat(np.arange(len(pe), dtype=np.int64), width)
        k = self.k_lo[pe][idx] + np.arange(len(idx), dtype=np.int64) - np.repeat(_ptr(width)[:-1], width)
        w = r[idx] * self.copies + k
        ok = w < self.n
        return pe, r, _ptr(np.bincount(idx[ok], minlength=len(pe))), w[ok]

    @cached_property
    def triggers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ptr, pe, round): the PE rounds window n completes at ptr[n] .. ptr[n + 1] - 1, PE order."""
        pe, r, ptr, wins = self.round_windows
        last = wins[ptr[1:] - 1] if len(pe) else np.zeros(0, np.int64)
        order = np.argsort(last, kind="stable")
        return _ptr(np.bincount(last, minlength=self.n)), pe[order], r[order]

    @cached_property
    def remaining(self) -> np.ndarray:
        """(n,): the PE rounds that serve each window."""
        return np.bincount(self.round_windows[3], minlength=self.n).astype(np.int64)

    def windows(self, e: int) -> tuple[tuple[int, ...], ...]:
        """PE e's rounds' windows."""
        ks = range(int(self.k_lo[e]), int(self.k_hi[e]) + 1)
        return tuple(tuple(r * self.copies + k for k in ks if r * self.copies + k < self.n)
                     for r in range(int(self.rounds[e])))

    def per_pe(self, values: np.ndarray) -> np.ndarray:
        """Per-step `values` (steps, ...) summed per PE."""
        c = np.concatenate([np.zeros((1, *values.shape[1:]), np.int64), np.cumsum(values, axis=0, dtype=np.int64)])
        return c[self.offsets[1:]] - c[self.offsets[:-1]]


def as_segments(lp: LayerPlacement, trace, lanes: int) -> SegmentTrace:
    """A layer's trace as a `SegmentTrace` (a full trace: one segment per crossbar), checked."""
    g = lp.geometry
    if isinstance(trace, SegmentTrace):
        st = trace
        tr = st.data
        if tr.ndim == 6:
            tr = tr[0]
    else:
        tr = np.asarray(trace)
        if tr.ndim == 4 and lp.layer.groups == 1:
            tr = tr[None]
        st = None
    segs = g.crossbars if st is None else len(st.starts)
    want = (lp.layer.groups, "N", g.input_cycles, segs, lanes)
    if tr.ndim != 5 or tr.shape[0] != want[0] or tr.shape[2:] != want[2:]:
        what = "segments" if st is not None else "crossbars_per_group"
        raise ValueError(f"layer {lp.name!r}: trace shape {tr.shape}, want (groups, N, input_cycles, "
                         f"{what}, lanes) = {want}")
    if tr.shape[1] < 1:
        raise ValueError(f"layer {lp.name!r}: trace has no windows")
    return SegmentTrace(tr, np.arange(g.crossbars, dtype=np.int64) if st is None else st.starts)


def pe_work(lp: LayerPlacement, trace, stages: Stages, keep_work: bool = False) -> PEWork:
    """Every PE's step inputs (module docstring) from one sample's trace: (groups, N, cycles,
    crossbars, lanes), (N, ...) for one group, or a `SegmentTrace`. The A/D operations per step
    and ADC are reduced to each step's ADC cycles and kept only with `keep_work`."""
    from isaacsim.timing.layer import Rates, lane_columns

    rates = Rates.of(stages)
    cols = lane_columns(lp, rates.adcs)
    st = as_segments(lp, trace, cols.shape[1])
    n, copies, cyc = st.data.shape[1], lp.copies, lp.geometry.input_cycles
    per_pe, per_copy, x = lp.crossbars_per_pe, lp.crossbars_per_copy, lp.geometry.crossbars
    lo = np.arange(lp.n_pes, dtype=np.int64) * per_pe
    hi = np.minimum(lo + per_pe, lp.crossbars)
    k_lo, k_hi = lo // per_copy, (hi - 1) // per_copy
    rounds = np.maximum(0, -((k_lo - n) // copies))  # windows of copy k_lo: len(range(k, n, copies))
    offsets = _ptr(rounds * cyc)
    work = np.zeros((int(offsets[-1]), rates.adcs), np.int64)
    conv = np.zeros(int(offsets[-1]), np.int64)
    seg_cols = np.add.reduceat(cols, st.starts, axis=0)  # (segments, lanes)
    starts_end = np.append(st.starts, x)
    for k in range(copies):
        m = len(range(k, n, copies))
        for grp in range(lp.layer.groups) if m else ():
            base = k * per_copy + grp * x
            for e in range(base // per_pe, (base + x - 1) // per_pe + 1):
                s0, s1 = np.searchsorted(starts_end, [max(0, e * per_pe - base), min(x, (e + 1) * per_pe - base)])
                w = work[offsets[e]:offsets[e] + m * cyc].reshape(m, cyc, rates.adcs)
                if rates.early_termination:
                    part = st.data[grp, k::copies, :, s0:s1, :]
                    w[:, :, :cols.shape[1]] += part[:, :, 0] if s1 - s0 == 1 else part.sum(axis=2, dtype=np.int64)
                else:
                    w[:, :, :cols.shape[1]] += rates.resolution * seg_cols[s0:s1].sum(axis=0)
                conv[offsets[e]:offsets[e] + m * cyc] += int(seg_cols[s0:s1].sum())
    pe_global = lp.first_pe + lo // per_pe
    an, ad = rates.adc.numerator, rates.adc.denominator
    sa_rate = rates.shift_add_at(cyc)
    sn, sd = sa_rate.numerator, sa_rate.denominator
    adc = (-((-work * ad) // an)).max(axis=1, initial=0)
    pw = PEWork(n, copies, cyc, lo, hi, k_lo, k_hi, rounds.astype(np.int64), offsets, adc, -((-conv * sd) // sn), conv,
                np.zeros((lp.n_pes, rates.adcs), np.int64), pe_global // lp.pes_per_tile, pe_global % lp.pes_per_tile,
                work if keep_work else None)
    pw.ad_ops[:] = pw.per_pe(work)
    return pw


__all__ = ["PEWork", "SegmentTrace", "as_segments", "pe_segments", "pe_work", "segment_trace"]
