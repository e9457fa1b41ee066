"""The network pipeline's per-layer state (docs/timing.md, "As implemented").

`build_layer` turns a placed conv2d/linear layer and its A/D-operation trace into a
`LayerState`: its PEs' step inputs flattened for the numba kernel, which PE rounds complete with
each window, and the per-window and per-PE state that the simpy processes of
`isaacsim.timing.network` fill in. `Series` publishes a layer's window ends and releases, and an
edge's arrivals, for the processes that wait on them.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import simpy

from isaacsim.kernels.pe_schedule import COUNTERS
from isaacsim.mapping.placement import LayerPlacement
from isaacsim.mapping.traffic import copy_traffic
from isaacsim.timing.layer import Crossbar, PESteps, Rates
from isaacsim.timing.pe_work import PEWork, SegmentTrace, pe_work
from isaacsim.timing.stages import Stages


class Series:
    """Times published by index (any order); `known` counts the leading published ones, and
    `wait(i)` is an event that fires once index i is among them (None if it already is)."""

    def __init__(self, env: simpy.Environment, n: int):
        self.env, self.t = env, np.zeros(n, np.int64)
        self.set = np.zeros(n, bool)
        self.known = 0
        self._wait: list[tuple[int, int, simpy.Event]] = []
        self._seq = 0

    def publish(self, i: int, t: int) -> None:
        self.t[i], self.set[i] = t, True
        n = len(self.t)
        while self.known < n and self.set[self.known]:
            self.known += 1
        while self._wait and self._wait[0][0] < self.known:
            heapq.heappop(self._wait)[2].succeed()

    def wait(self, i: int) -> simpy.Event | None:
        if i < self.known:
            return None
        ev = self.env.event()
        self._seq += 1
        heapq.heappush(self._wait, (i, self._seq, ev))
        return ev


@dataclass
class LayerState:
    """One conv2d/linear layer in the pipeline: its PEs' inputs and the state of its windows."""

    lp: LayerPlacement
    node: Any
    pw: PEWork
    """Every PE's steps and rounds (`isaacsim.timing.pe_work.PEWork`)."""
    ready: np.ndarray
    end: np.ndarray
    remaining: np.ndarray
    """Per window: PE rounds still to end before the window is done."""
    done: Series
    """Window ends, published once a window's every round has ended."""
    release: Series
    """Output releases (the emit process)."""
    read_state: np.ndarray
    conv_state: np.ndarray
    counters: np.ndarray
    first: np.ndarray
    """Per PE: the latch of its first round (-1 before it)."""
    inputs: list = field(default_factory=list)
    """Edges from the producers (`isaacsim.timing.edges.Edge`)."""
    outputs: list = field(default_factory=list)
    """Edges to the consumers."""
    traffic: tuple = ()
    """Per copy, what one window moves (`isaacsim.mapping.traffic.CopyTraffic`)."""
    nfu: dict = field(default_factory=dict)
    """{NFU / tile-adder stage: work per inference} of the layer's output path."""
    pe_ready: np.ndarray | None = None
    """Per PE: the cycle its pending round's inputs are in its input register."""
    out_end: int = 0
    """The cycle the last released output has left the NFU."""
    input_ready: int = 0
    """The cycle the network input is in the eDRAM of every tile (layers fed by it)."""
    stall_buffer: int = 0
    events: int = 0
    start: int = -1

    @property
    def conv(self) -> np.ndarray:
        """(steps of all PEs,): conversions per step."""
        return self.pw.conv

    @property
    def offsets(self) -> np.ndarray:
        """(PEs + 1,): PE e's steps are work[offsets[e]:offsets[e + 1]]."""
        return self.pw.offsets

    @property
    def cyc(self) -> int:
        """Input cycles (steps) per round."""
        return self.pw.cyc

    @property
    def n_pes(self) -> int:
        return self.pw.n_pes

    @cached_property
    def steps(self) -> tuple[PESteps, ...]:
        """Per PE its `isaacsim.timing.layer.PESteps` (the fine rounds' and the timeline's view; the
        layer must be built with `keep_work`)."""
        pw, lp = self.pw, self.lp
        if pw.work is None:
            raise ValueError(f"layer {lp.name!r}: built without keep_work, so its PE steps are not kept")
        per_copy, x = lp.crossbars_per_copy, lp.geometry.crossbars
        out = []
        for e in range(pw.n_pes):
            xbars = tuple(Crossbar(i // per_copy, i % per_copy // x, i % x)
                          for i in range(int(pw.xbar_lo[e]), int(pw.xbar_hi[e])))
            sl = slice(pw.offsets[e], pw.offsets[e + 1])
            out.append(PESteps(int(pw.tile[e]), int(pw.pe[e]), xbars, pw.windows(e),
                               np.zeros(int(pw.rounds[e]), np.int64), pw.work[sl], pw.conv[sl], pw.cyc))
        return tuple(out)

    @cached_property
    def trigger(self) -> list:
        """Per window n: (PE indices, rounds) whose round completes with window n."""
        ptr, pe, r = self.pw.triggers
        return [(pe[ptr[n]:ptr[n + 1]], r[ptr[n]:ptr[n + 1]]) for n in range(self.pw.n)]

    @cached_property
    def round_windows(self) -> list:
        """Per PE, per round: the windows it processes."""
        return [self.pw.windows(e) for e in range(self.pw.n_pes)]

    @property
    def name(self) -> str:
        return self.lp.name


def stage_cycles(stages: Stages, name: str) -> int:
    """A stage's latency in cycles; 0 when the arch has no such stage."""
    return stages[name].latency_cycles if name in stages else 0


def trace_of(traces, name: str) -> np.ndarray | SegmentTrace:
    """One sample's trace of layer `name` (sample 0 of a (samples, ...) trace); a `SegmentTrace`
    as it is (sample 0 of its data)."""
    if name not in traces:
        raise KeyError(f"no A/D-operation trace for layer {name!r}")
    tr = traces[name]
    if isinstance(tr, SegmentTrace):
        return SegmentTrace(tr.data[0], tr.starts) if tr.data.ndim == 6 else tr
    tr = np.asarray(tr)
    return tr[0] if tr.ndim == 6 else tr


def build_layer(env: simpy.Environment, lp: LayerPlacement, node, trace, stages: Stages,
                rates: Rates, nfu_total: dict[str, int] | None = None, keep_work: bool = False) -> LayerState:
    """A layer's pipeline state before its first window; `nfu_total`: {unit: work per inference}
    of its output path (`isaacsim.mapping.traffic.nfu_work`); `keep_work`: keep each step's A/D
    operations per ADC (`LayerState.steps` needs them)."""
    pw = pe_work(lp, trace, stages, keep_work=keep_work)
    n, n_pes = pw.n, pw.n_pes
    nfu = {u: int(w) for u, w in (nfu_total or {}).items() if w and n}
    return LayerState(lp, node, pw, np.zeros(n, np.int64), np.zeros(n, np.int64), pw.remaining.copy(),
                      Series(env, n), Series(env, n), np.zeros(n_pes, np.int64), np.zeros(n_pes, np.int64),
                      np.zeros((n_pes, len(COUNTERS)), np.int64), np.full(n_pes, -1, np.int64),
                      traffic=copy_traffic(lp, stages.input_bits, stages.psum_bits), nfu=nfu,
                      pe_ready=np.zeros(n_pes, np.int64))
