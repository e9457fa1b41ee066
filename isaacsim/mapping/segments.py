"""Traces summed per PE segment: what the timing model reads of a layer's A/D-operation trace.

A PE segment of a layer is a run of crossbars (index t within a group) that no PE boundary of
any copy and group splits (`pe_segments`). The timing model reads a trace only summed over the
crossbars one PE holds of one copy and group, which are whole segments, so a run that keeps a
trace for timing alone keeps it per segment (`SegmentTrace`, made by the datapath as it runs:
`isaacsim.mvm(..., trace_segments=)`, or from a full trace by `segment_trace`): on ResNet-18 a
quarter of the full trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from isaacsim.mapping.placement import LayerPlacement


@dataclass(frozen=True)
class SegmentTrace:
    """A trace summed over PE segments: `data` int32 (groups, N, input_cycles, segments, lanes),
    segment s covering crossbars starts[s] .. starts[s + 1] - 1 of a group (the last to the end)."""

    data: np.ndarray
    starts: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)


def pe_segments(lp: LayerPlacement) -> np.ndarray:
    """int64: the first crossbar (index t within a group) of each segment: every t at which some
    copy's and group's crossbars pass to the next PE, and 0."""
    per_pe, per_copy, x = lp.crossbars_per_pe, lp.crossbars_per_copy, lp.geometry.crossbars
    base = (np.arange(lp.copies)[:, None] * per_copy + np.arange(lp.layer.groups)[None, :] * x).ravel()
    cut = (-base) % per_pe  # the first t of a group's next PE
    ts = [np.arange(c, x, per_pe) for c in np.unique(cut)]
    return np.unique(np.concatenate([[0], *ts])).astype(np.int64)


def segment_trace(lp: LayerPlacement, trace: np.ndarray, starts: np.ndarray | None = None) -> SegmentTrace:
    """A (groups, N, cycles, crossbars, lanes) trace summed over `starts` (default `pe_segments`)."""
    starts = pe_segments(lp) if starts is None else starts
    tr = np.asarray(trace)
    data = np.add.reduceat(tr, starts, axis=3) if len(starts) < tr.shape[3] else tr
    return SegmentTrace(np.ascontiguousarray(data), starts)


__all__ = ["SegmentTrace", "pe_segments", "segment_trace"]
