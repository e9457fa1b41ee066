"""One inference through the inter-layer pipeline (docs/timing.md, "Between layers"), on simpy.

`simulate_network(wl, mapping, traces, stages, arch=...)` runs every conv2d/linear layer's PEs
on the per-PE recurrence of `isaacsim.timing.layer` (the numba kernel per round at the default
granularity, `layer.fine_round` at the fine one), windows in row-major output order, and
connects the layers as ISAAC pipelines them:

- Per layer two simpy processes. The *compute* process takes the windows in order: window n is
  ready when every producer has delivered the input pixels it needs (walking back through
  relu, pools, flatten, add and concat, which run in the producer's output path) and the
  copy's output before last has left (its output register holds one finished output while
  the next window computes); the process
  sleeps until then and runs the rounds of the PEs that this window completes. The *emit*
  process releases outputs in order: output n leaves at max(its window end, output n-1's
  release, the cycle the consumers' buffers have room for it).
- An output then pays its path: the tile S+A merge when a copy spans several PEs, the NFU
  (activation, pooling) and the transfer to the consumer's first tile, over the tile bus on the
  same tile, else over router hops at `noc_link_bits`; transfers on one edge are serialised.
- Each consumer's input buffer is `tile.edram_kb` of its first tile, counted in pixels of its
  input tensor and freed in order (a ring buffer): pixel q is freed when the last window that
  may need it ends, and no earlier pixel is still held.

`NetworkTiming` holds the figures of the report; docs/timing.md states the definitions and
every simplification.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import simpy

from isaacsim.config.clock import Clock
from isaacsim.config.models import Arch
from isaacsim.kernels.pe_schedule import COUNTERS, pe_rounds
from isaacsim.mapping.noc import router_hops
from isaacsim.mapping.placement import LayerPlacement, NetworkMapping
from isaacsim.timing.bounds import layer_bound
from isaacsim.timing.layer import GRANULARITIES, Rates, fine_round, layer_steps
from isaacsim.timing.stages import Stages

STALL_CAUSES = ("input", "buffer_full", "adc", "shift_add", "read")
"""Stall counters (cycles, summed over a layer's PEs or outputs), docs/timing.md "Report"."""
_IDX = {k: i for i, k in enumerate(COUNTERS)}


class TimingDeadlock(RuntimeError):
    """The pipeline stopped with windows left: a buffer cannot hold what a join needs."""


class _Series:
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
class _Edge:
    """Producer layer -> consumer layer through a chain of non-crossbar nodes."""

    src: str
    dst: str
    need: np.ndarray
    """(consumer windows,): the last producer output the consumer's window n needs."""
    gate: np.ndarray
    """(producer outputs,): consumer window whose end frees room for output p (-1: none)."""
    latency: int
    occupancy: int
    bytes_per_output: int
    same_tile: bool
    arrival: _Series | None = None
    last: int = 0
    pools: bool = False
    """The output path runs a pooling op on the NFU."""


def _pixels(shape: tuple[int, ...]) -> int:
    return shape[1] * shape[2] if len(shape) == 3 else 1


def _pool_index(shape_in, shape_out, k, s, p) -> np.ndarray:
    """For each output pixel of a pool, the last input pixel (row-major) its window needs."""
    _, h, w = shape_in
    _, ho, wo = shape_out
    r = np.clip(np.arange(ho) * s[0] - p[0] + k[0] - 1, 0, h - 1)
    c = np.clip(np.arange(wo) * s[1] - p[1] + k[1] - 1, 0, w - 1)
    return (r[:, None] * w + c[None, :]).ravel()


def _pair(v) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _deps(wl, name: str, memo: dict) -> dict[str, tuple[np.ndarray, frozenset]]:
    """{producer layer: (for each pixel of `name`'s output, the last producer output it needs,
    the non-crossbar ops on the way)}; the network input needs nothing (ready at cycle 0)."""
    if name in memo:
        return memo[name]
    if name == "input":
        memo[name] = {}
        return memo[name]
    node = wl.node(name)
    n_out = _pixels(wl.shapes[name])
    if node.op in ("conv2d", "linear"):
        out = {name: (np.arange(n_out, dtype=np.int64), frozenset())}
    else:
        out: dict[str, tuple[np.ndarray, frozenset]] = {}
        for inp in node.inputs:
            for src, (idx, ops) in _deps(wl, inp, memo).items():
                if node.op in ("maxpool", "avgpool"):
                    k = _pair(node.kernel)
                    s = _pair(node.stride) if node.stride is not None else k
                    idx = idx[_pool_index(wl.shapes[inp], wl.shapes[name], k, s, _pair(node.padding))]
                elif n_out != len(idx):  # global_avgpool, flatten, a 1-D concat: everything
                    idx = np.full(n_out, idx.max(), np.int64)
                ops = ops | {node.op}
                if src in out:
                    idx, ops = np.maximum(out[src][0], idx), out[src][1] | ops
                out[src] = (np.maximum.accumulate(idx), ops)
    memo[name] = out
    return out


def _window_needs(lp: LayerPlacement, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """(req, lastwin): the last input pixel window n needs; the last window that may need input
    pixel q, made non-decreasing (pixels are freed in order)."""
    ly = lp.layer
    if ly.kind == "linear" or n_in == 1:
        return np.full(ly.n_vectors, n_in - 1, np.int64), np.zeros(n_in, np.int64)
    (h, w), (ho, wo) = ly.input_hw, ly.output_hw
    k, s, p, d = ly.kernel, ly.stride, ly.padding, ly.dilation
    r = np.clip(np.arange(ho) * s[0] - p[0] + (k[0] - 1) * d[0], 0, h - 1)
    c = np.clip(np.arange(wo) * s[1] - p[1] + (k[1] - 1) * d[1], 0, w - 1)
    req = (r[:, None] * w + c[None, :]).ravel()
    oh = np.minimum(ho - 1, (np.arange(h) + p[0]) // s[0])
    ow = np.minimum(wo - 1, (np.arange(w) + p[1]) // s[1])
    last = np.maximum.accumulate((oh[:, None] * wo + ow[None, :]).ravel())
    return req, last


@dataclass
class _Layer:
    lp: LayerPlacement
    node: Any
    steps: tuple
    work: np.ndarray
    conv: np.ndarray
    offsets: np.ndarray
    cyc: int
    trigger: list
    """Per window n: (PE indices, rounds) whose round completes with window n."""
    round_windows: list
    ready: np.ndarray
    end: np.ndarray
    remaining: np.ndarray
    done: _Series
    release: _Series
    read_state: np.ndarray
    conv_state: np.ndarray
    counters: np.ndarray
    first: np.ndarray
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    tail: int = 0
    stall_buffer: int = 0
    events: int = 0
    start: int = -1

    @property
    def name(self) -> str:
        return self.lp.name


@dataclass(frozen=True)
class NetworkTiming:
    """One inference's pipeline timing (module docstring; docs/timing.md, "Report")."""

    clock: Clock
    granularity: str
    latency_cycles: int
    occupancy_cycles: int
    """The slowest layer's occupancy: the pipelined interval between inferences."""
    bottleneck: dict
    stalls: dict
    utilisation: dict
    stages: list
    layers: list
    events: int
    wall_s: float
    notes: list

    @property
    def latency_s(self) -> float:
        return self.clock.seconds(self.latency_cycles)

    @property
    def throughput_ips(self) -> float:
        return float(self.clock.hz / self.occupancy_cycles) if self.occupancy_cycles else 0.0

    def layer(self, name: str) -> dict:
        for ly in self.layers:
            if ly["name"] == name:
                return ly
        raise KeyError(name)

    def as_dict(self) -> dict:
        return {"clock_hz": float(self.clock.hz), "granularity": self.granularity,
                "latency_cycles": self.latency_cycles, "latency_s": self.latency_s,
                "occupancy_cycles": self.occupancy_cycles, "throughput_ips": self.throughput_ips,
                "bottleneck": dict(self.bottleneck), "stalls": dict(self.stalls),
                "utilisation": dict(self.utilisation), "stages": [dict(s) for s in self.stages],
                "layers": [dict(ly) for ly in self.layers], "events": self.events, "wall_s": self.wall_s,
                "notes": list(self.notes)}


def _trace_of(traces, name: str) -> np.ndarray:
    if name not in traces:
        raise KeyError(f"no A/D-operation trace for layer {name!r}")
    tr = np.asarray(traces[name])
    return tr[0] if tr.ndim == 6 else tr


def _build_layer(env, lp, node, trace, stages, rates) -> _Layer:
    steps = layer_steps(lp, trace, stages)
    cyc = lp.geometry.input_cycles
    n = lp.layer.n_vectors
    sizes = [len(s.conv) for s in steps]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    work = np.concatenate([s.work for s in steps]) if steps else np.zeros((0, rates.adcs), np.int64)
    conv = np.concatenate([s.conv for s in steps]) if steps else np.zeros(0, np.int64)
    trig: list[tuple[list, list]] = [([], []) for _ in range(n)]
    round_windows = []
    remaining = np.zeros(n, np.int64)
    for e, s in enumerate(steps):
        round_windows.append(s.windows)
        for r, ws in enumerate(s.windows):
            trig[max(ws)][0].append(e)
            trig[max(ws)][1].append(r)
            for w in ws:
                remaining[w] += 1
    trigger = [(np.array(p, np.int64), np.array(r, np.int64)) for p, r in trig]
    n_pes = len(steps)
    return _Layer(lp, node, steps, np.ascontiguousarray(work, dtype=np.int64), conv.astype(np.int64), offsets, cyc,
                  trigger, round_windows, np.zeros(n, np.int64), np.zeros(n, np.int64), remaining,
                  _Series(env, n), _Series(env, n), np.zeros(n_pes, np.int64), np.zeros(n_pes, np.int64),
                  np.zeros((n_pes, len(COUNTERS)), np.int64), np.full(n_pes, -1, np.int64))


def _cycles(stages: Stages, name: str) -> int:
    return stages[name].latency_cycles if name in stages else 0


def _transfer(stages: Stages, nbytes: int, hops: int) -> tuple[int, int]:
    """(latency, occupancy) of moving `nbytes` over the tile bus (hops 0) or `hops` router hops."""
    st = stages["tile_bus"] if hops == 0 else stages["noc_link"]
    occ = math.ceil(Fraction(nbytes) / st.rate)
    return (st.latency_cycles if hops == 0 else hops * st.latency_cycles) + occ, occ


def simulate_network(wl, mapping: NetworkMapping, traces, stages: Stages, *, arch: Arch,
                     granularity: str = "default", timeline=None) -> NetworkTiming:
    """One inference of `wl` placed as `mapping` (module docstring). `traces`: {layer: one
    sample's A/D-operation trace}, (groups, N, cycles, crossbars, lanes) or `Result.traces()`'s
    (samples, ...) whose sample 0 is used. `timeline`: an `isaacsim.timing.events.Timeline`."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")
    t_wall = time.perf_counter()
    env = simpy.Environment()
    rates = Rates.of(stages)
    an, ad = rates.adc.numerator, rates.adc.denominator
    sn, sd = rates.shift_add.numerator, rates.shift_add.denominator
    l_r = rates.read_cycles
    cfg = _cycles(stages, "config_load")
    notes: list[str] = []
    layers = {lp.name: _build_layer(env, lp, wl.node(lp.name), _trace_of(traces, lp.name), stages, rates)
              for lp in mapping.layers}
    trace_of = {name: _trace_of(traces, name) for name in layers} if granularity == "fine" else {}
    byte = Fraction(stages.input_bits, 8)
    tpr = arch.chip.tiles_per_router
    edram = arch.tile.edram_kb * 1024
    memo: dict = {}
    for L in layers.values():
        ly, node = L.lp.layer, L.node
        L.tail = (_cycles(stages, "tile_shift_add") if L.lp.crossbars_per_copy > L.lp.crossbars_per_pe else 0) + (
            _cycles(stages, "sigmoid") if getattr(node, "activation", None) else 0)
        x = node.inputs[0]
        n_in = _pixels(wl.shapes[x])
        req, last = _window_needs(L.lp, n_in)
        px_bytes = wl.shapes[x][0] * byte  # one pixel: its channels
        cap = int(edram // px_bytes) if px_bytes else n_in
        firstq = np.searchsorted(last, np.arange(ly.n_vectors), side="left")
        mincap = int((req - firstq + 1).max())
        if cap < mincap:
            notes.append(f"layer {L.name!r}: tile.edram_kb holds {cap} input pixels, fewer than a window needs "
                         f"({mincap}); the buffer is taken as {mincap} pixels")
            cap = mincap
        for src, (idx, ops) in _deps(wl, x, memo).items():
            S = layers[src]
            need_px = idx  # X pixel q -> last S output needed
            qfirst = np.searchsorted(need_px, np.arange(S.lp.layer.n_vectors), side="left")
            gate = np.full(len(qfirst), -1, np.int64)
            ok = (qfirst < n_in) & (qfirst - cap >= 0)
            gate[ok] = last[qfirst[ok] - cap]
            nfu = _cycles(stages, "sigmoid") if ("relu" in ops or "add" in ops) else 0
            nfu += _cycles(stages, "maxpool") if ops & {"maxpool", "avgpool", "global_avgpool"} else 0
            s_tile, d_tile = S.lp.tiles[-1], L.lp.tiles[0]
            hops = router_hops(s_tile, d_tile, tpr)
            nbytes = math.ceil(S.lp.layer.out_channels * byte)
            lat, occ = _transfer(stages, nbytes, hops)
            e = _Edge(src, L.name, idx[req], gate, S.tail + nfu + lat, occ, nbytes, hops == 0,
                      _Series(env, S.lp.layer.n_vectors),
                      pools=bool(ops & {"maxpool", "avgpool", "global_avgpool"}))
            L.inputs.append(e)
            S.outputs.append(e)

    def compute(L: _Layer):
        copies = L.lp.copies
        if cfg:
            yield env.timeout(cfg)
        for n in range(len(L.ready)):
            t = cfg
            for e in L.inputs:
                p = int(e.need[n])
                ev = e.arrival.wait(p)
                if ev is not None:
                    yield ev
                t = max(t, int(e.arrival.t[p]))
            if n >= 2 * copies:  # the copy's output register holds one finished output
                ev = L.release.wait(n - 2 * copies)
                if ev is not None:
                    yield ev
                t = max(t, int(L.release.t[n - 2 * copies]))
            if t > env.now:
                yield env.timeout(t - env.now)
            L.ready[n] = t
            if L.start < 0:
                L.start = t
            pes, rounds = L.trigger[n]
            if not len(pes):
                continue
            if granularity == "default":
                first, end, adc = pe_rounds(L.work, L.conv, L.offsets[pes] + rounds * L.cyc, L.cyc, pes,
                                            np.full(len(pes), t, np.int64), l_r, an, ad, sn, sd,
                                            L.read_state, L.conv_state, L.counters)
            else:
                first, end, adc = (np.zeros(len(pes), np.int64) for _ in range(3))
                for k, (e_, r) in enumerate(zip(pes, rounds, strict=True)):
                    f, re, ce, cnt, evs = fine_round(L.steps[e_], rates, L.lp, trace_of[L.name], int(r), t,
                                                     int(L.read_state[e_]), int(L.conv_state[e_]))
                    L.read_state[e_], L.conv_state[e_] = re, ce
                    L.counters[e_] += [cnt[c] for c in COUNTERS]
                    first[k], end[k], adc[k] = f, ce, cnt["adc_busy"]
                    L.events += evs
            for k, (e_, r) in enumerate(zip(pes, rounds, strict=True)):
                if L.first[e_] < 0:
                    L.first[e_] = first[k]
                ws = L.round_windows[e_][r]
                for w in ws:
                    L.end[w] = max(L.end[w], end[k])
                    L.remaining[w] -= 1
                    if L.remaining[w] == 0:
                        L.done.publish(w, int(L.end[w]))
                if timeline is not None:
                    s = L.steps[e_]
                    track = f"tile {s.tile} / pe {s.pe}"
                    timeline.add(track, L.name, int(first[k]) - l_r, int(end[k] - first[k]) + l_r, windows=list(ws))
                    timeline.add(track + " / adc", L.name, int(first[k]), int(end[k] - first[k]), busy=int(adc[k]))

    def emit(L: _Layer):
        prev = 0
        for n in range(len(L.ready)):
            ev = L.done.wait(n)
            if ev is not None:
                yield ev
            base = t = max(int(L.done.t[n]), prev)
            for e in L.outputs:
                w = int(e.gate[n])
                if w >= 0:
                    C = layers[e.dst]
                    ev = C.done.wait(w)
                    if ev is not None:
                        yield ev
                    t = max(t, int(C.done.t[w]))
            L.stall_buffer += t - base
            if t > env.now:
                yield env.timeout(t - env.now)
            L.release.publish(n, t)
            prev = t
            for e in L.outputs:
                e.last = max(t + e.latency, e.last + e.occupancy)
                e.arrival.publish(n, e.last)

    for L in layers.values():
        env.process(compute(L))
        env.process(emit(L))
    events = 0
    while True:
        try:
            env.step()
        except simpy.core.EmptySchedule:
            break
        events += 1
    stuck = [L.name for L in layers.values() if L.release.known < len(L.ready)]
    if stuck:
        raise TimingDeadlock(f"the pipeline stopped with layer(s) {', '.join(stuck)} unfinished: an input buffer "
                             "(tile.edram_kb) is too small for a join's skew")
    return _report(layers, stages, arch, mapping, granularity, events, time.perf_counter() - t_wall, notes,
                   timeline, l_r)


def _report(layers, stages, arch, mapping, granularity, events, wall, notes, timeline, l_r) -> NetworkTiming:
    rates = Rates.of(stages)
    latency = 0
    rows = []
    stalls = dict.fromkeys(STALL_CAUSES, 0)
    occ_max, bott = 0, None
    for L in layers.values():
        n = len(L.ready)
        end = int(L.end.max()) if n else 0
        latency = max(latency, int(L.release.t[-1]) + L.tail if n else 0,
                      *(int(e.arrival.t[-1]) for e in L.outputs))
        c = L.counters.sum(axis=0)
        pe_end = L.conv_state
        occ_pe = pe_end - L.counters[:, _IDX["input_stall"]]
        occupancy = int(occ_pe.max()) if len(occ_pe) else 0
        conv_busy = L.counters[:, _IDX["convert_busy"]]
        steps = np.diff(L.offsets)
        read_stall = int(np.maximum(0, pe_end - conv_busy - L.counters[:, _IDX["input_stall"]]
                                    - np.where(L.first >= 0, l_r, 0)).sum())
        ad_ops = int(L.work.sum())
        conversions = int(L.conv.sum())
        lb = layer_bound(L.lp, stages, ad_ops, conversions)
        cycles = end - int(L.start) if n else 0
        st = {"input": int(c[_IDX["input_stall"]]), "buffer_full": int(L.stall_buffer),
              "adc": int(c[_IDX["sh_stall"]]), "shift_add": int(c[_IDX["sa_stall"]]), "read": read_stall}
        for k, v in st.items():
            stalls[k] += v
        if len(occ_pe):
            e = int(occ_pe.argmax())
            busy = L.counters[e]
            if conv_busy[e] > steps[e] * l_r:
                res = "adc" if busy[_IDX["adc_busy"]] >= busy[_IDX["sa_busy"]] else "shift_add"
            else:
                res = "crossbar_read"
        else:
            res = "-"
        if occupancy > occ_max:
            occ_max, bott = occupancy, {"layer": L.name, "resource": res, "occupancy_cycles": occupancy,
                                        "bound_resource": lb.bottleneck}
        cap = len(L.steps) * rates.adcs * rates.adc * cycles
        rows.append({"name": L.name, "cycles": cycles, "bound_cycles": lb.bound_cycles,
                     "ratio": cycles / lb.bound_cycles if lb.bound_cycles else None,
                     "bound_resource": lb.bottleneck, "start": int(L.start), "end": end,
                     "released": int(L.release.t[-1]) if n else 0, "windows": n, "pes": len(L.steps),
                     "copies": L.lp.copies, "occupancy_cycles": occupancy, "resource": res,
                     "ad_ops": ad_ops, "conversions": conversions,
                     "adc_utilisation": float(Fraction(ad_ops) / cap) if cap else 0.0,
                     "config_load_cycles": lb.config_load_cycles,
                     **{f"stall_{k}": v for k, v in st.items()}})
        if timeline is not None and n:
            timeline.add(f"layer {L.name}", L.name, int(L.start), cycles, bound_cycles=lb.bound_cycles)
    util = _utilisation(layers, stages, mapping, rates, latency, l_r)
    table = [{"name": s.name, "latency_ns": float(s.latency_ns), "cycles": s.latency_cycles,
              "multi_cycle": s.multi_cycle, "rate_per_cycle": float(s.rate), "unit": s.unit} for s in stages.stages]
    return NetworkTiming(stages.clock, granularity, latency, occ_max, bott or {}, stalls, util, table,
                         rows, events + sum(L.events for L in layers.values()), wall, notes)


def _utilisation(layers, stages, mapping, rates, latency, l_r) -> dict:
    if not latency:
        return {}
    pes = sum(len(L.steps) for L in layers.values())
    tiles = max(1, mapping.tiles_used)
    ad_ops = sum(int(L.work.sum()) for L in layers.values())
    conv = sum(int(L.conv.sum()) for L in layers.values())
    xbar_busy = sum(len(s.crossbars) * len(s.conv) * l_r for L in layers.values() for s in L.steps)
    bus = sum(e.bytes_per_output * len(e.gate) for L in layers.values() for e in L.outputs if e.same_tile)
    noc = sum(e.bytes_per_output * len(e.gate) for L in layers.values() for e in L.outputs if not e.same_tile)

    def frac(work, cap):
        return float(Fraction(work) / cap) if cap else 0.0

    out = {"adc": frac(ad_ops, pes * rates.adcs * rates.adc * latency),
           "crossbar": frac(xbar_busy, max(1, mapping.crossbars_used) * latency),
           "shift_add": frac(conv, pes * rates.shift_add * latency)}
    if "tile_bus" in stages:
        out["tile_bus"] = frac(bus + noc, tiles * stages["tile_bus"].rate * latency)
    if "edram" in stages:
        out["edram"] = frac(bus + noc, tiles * stages["edram"].rate * latency)
    if "noc_link" in stages:
        out["noc"] = frac(noc, tiles * stages["noc_link"].rate * latency)

    def unit_cap(name):  # all units of a tile-level stage over the tiles used, or of a PE stage over the PEs
        st = stages[name]
        n = st.per_tile * tiles if st.level == "tile" else st.per_pe * pes if st.level == "pe" else st.per_chip
        return n * st.rate * latency

    outs = {L.name: L.lp.layer.n_vectors * L.lp.layer.out_channels for L in layers.values()}
    if "sigmoid" in stages:  # NFU activations: one op per output element of a layer with an activation
        act = sum(outs[L.name] for L in layers.values() if getattr(L.node, "activation", None))
        out["nfu_activation"] = frac(act, unit_cap("sigmoid"))
    if "maxpool" in stages:  # NFU pooling: one op per element leaving a layer whose output path pools
        pooled = sum(outs[L.name] for L in layers.values() if any(e.pools for e in L.outputs))
        out["nfu_pool"] = frac(pooled, unit_cap("maxpool"))
    if "tile_shift_add" in stages:  # merging partial sums of a copy spread over several PEs
        merges = sum(outs[L.name] * (max(1, -(-L.lp.crossbars_per_copy // L.lp.crossbars_per_pe)) - 1)
                     for L in layers.values())
        out["tile_shift_add"] = frac(merges, unit_cap("tile_shift_add"))
    if "input_register" in stages:  # every window's input vector is written once into a copy's registers
        in_bytes = sum(Fraction(L.lp.layer.n_vectors * L.lp.geometry.k * L.lp.layer.groups * stages.input_bits, 8)
                       for L in layers.values())
        out["input_register"] = frac(in_bytes, unit_cap("input_register"))
    if "hypertransport" in stages:
        out["hypertransport"] = 0.0  # one chip: nothing leaves it during an inference
    return out
