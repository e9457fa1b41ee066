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
- Data moves through shared, rate-limited units (`isaacsim.timing.movement`): a window's
  inputs from its tiles' eDRAM over the tile bus into the PEs' input registers before its first
  read; a released output's partial sums over the tile bus, output register, tile S+A and
  routers, then the NFU, then to every tile of each consumer and into their eDRAM. The network
  input and output cross the off-chip links.
- Each consumer's input buffer is `tile.edram_kb` of its first tile, counted in pixels of its
  input tensor and freed in order (a ring buffer): pixel q is freed when the last window that
  may need it ends, and no earlier pixel is still held.

`simulate_network` runs in phases: each layer's state (`isaacsim.timing.state`), the edges and
input buffers between the layers (`isaacsim.timing.edges`), the simpy processes (here), and the
report figures (`isaacsim.timing.collect`), which `NetworkTiming` holds; docs/timing.md states
the definitions and every simplification.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import simpy

from isaacsim.config.clock import Clock
from isaacsim.config.models import Arch
from isaacsim.kernels.pe_schedule import COUNTERS, pe_rounds
from isaacsim.mapping.placement import NetworkMapping
from isaacsim.mapping.traffic import graph_homes, nfu_work
from isaacsim.timing.collect import collect
from isaacsim.timing.edges import connect_layers, producer_deps
from isaacsim.timing.flat import run_flat
from isaacsim.timing.layer import GRANULARITIES, Rates, fine_round
from isaacsim.timing.movement import Movement
from isaacsim.timing.resources import Resources, write_share
from isaacsim.timing.stages import Stages
from isaacsim.timing.state import LayerState, build_layer, stage_cycles, trace_of


class TimingDeadlock(RuntimeError):
    """The pipeline stopped with windows left: a buffer cannot hold what a join needs."""


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
    utilisation_max: dict = field(default_factory=dict)
    """The busiest instance's utilisation per resource (`utilisation` is the mean over the used ones)."""
    clock_check: dict = field(default_factory=dict)
    """Does the pipeline meet the clock (`isaacsim.timing.verdict.clock_check`)."""
    moved: dict = field(default_factory=dict)
    """{stage: what its units did in the run (bytes, adds, ops)}, for the units the pipeline reserves."""

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
                "utilisation": dict(self.utilisation), "utilisation_max": dict(self.utilisation_max),
                "clock_check": dict(self.clock_check), "moved": dict(self.moved),
                "stages": [dict(s) for s in self.stages],
                "layers": [dict(ly) for ly in self.layers], "events": self.events, "wall_s": self.wall_s,
                "notes": list(self.notes)}


class _Pipeline:
    """The simpy processes of one run: per layer *compute* (windows in order, their PE rounds)
    and *emit* (outputs in order, held for the consumers' buffers)."""

    def __init__(self, env: simpy.Environment, layers: dict[str, LayerState], stages: Stages, rates: Rates,
                 granularity: str, traces, timeline, move: Movement):
        self.env, self.layers, self.rates, self.timeline, self.move = env, layers, rates, timeline, move
        self.config_load = stage_cycles(stages, "config_load")
        self.read_cycles = rates.read_cycles
        self.fine_traces = {name: trace_of(traces, name) for name in layers} if granularity == "fine" else {}
        self.rounds = self._kernel_rounds if granularity == "default" else self._fine_rounds

    def start(self) -> None:
        for L in self.layers.values():
            self.env.process(self.compute(L))
            self.env.process(self.emit(L))

    def compute(self, L: LayerState):
        """Window n starts at `_ready`, and runs the PE rounds it completes."""
        env = self.env
        if self.config_load:
            yield env.timeout(self.config_load)
        for n in range(len(L.ready)):
            t = yield from self._ready(L, n)
            if t > env.now:
                yield env.timeout(t - env.now)
            L.ready[n] = t
            if L.start < 0:
                L.start = t
            self.move.fetch(L, n, t)
            pes, rounds = L.trigger[n]
            if len(pes):
                ready = L.pe_ready[pes].copy()
                L.pe_ready[pes] = 0
                first, end, adc = self.rounds(L, pes, rounds, ready)
                self._rounds_ended(L, pes, rounds, first, end, adc)

    def _ready(self, L: LayerState, n: int):
        """Wait for, and return, window n's ready cycle: the config load, every producer's last
        input pixel it needs, and the release of its copy's output before last."""
        t = max(self.config_load, L.input_ready)
        for e in L.inputs:
            p = int(e.need[n])
            ev = e.arrival.wait(p)
            if ev is not None:
                yield ev
            t = max(t, int(e.arrival.t[p]))
        held = n - 2 * L.lp.copies
        if held >= 0:  # the copy's output register holds one finished output
            ev = L.release.wait(held)
            if ev is not None:
                yield ev
            t = max(t, int(L.release.t[held]))
        return t

    def _kernel_rounds(self, L: LayerState, pes: np.ndarray, rounds: np.ndarray, ready: np.ndarray):
        """(first latch, end, ADC busy) of the PEs' rounds by the numba kernel, each PE's inputs in
        its register at `ready`; updates L's PE state."""
        return pe_rounds(L.pw.adc, L.pw.sa, L.offsets[pes] + rounds * L.cyc, L.cyc, pes,
                         ready.astype(np.int64), self.read_cycles, L.read_state, L.conv_state, L.counters)

    def _fine_rounds(self, L: LayerState, pes: np.ndarray, rounds: np.ndarray, ready: np.ndarray):
        """As `_kernel_rounds`, by `layer.fine_round` (one event per read and ADC job)."""
        first, end, adc = (np.zeros(len(pes), np.int64) for _ in range(3))
        for k, (e_, r) in enumerate(zip(pes, rounds, strict=True)):
            f, re, ce, cnt, evs = fine_round(L.steps[e_], self.rates, L.lp, self.fine_traces[L.name], int(r),
                                             int(ready[k]), int(L.read_state[e_]), int(L.conv_state[e_]))
            L.read_state[e_], L.conv_state[e_] = re, ce
            L.counters[e_] += [cnt[c] for c in COUNTERS]
            first[k], end[k], adc[k] = f, ce, cnt["adc_busy"]
            L.events += evs
        return first, end, adc

    def _rounds_ended(self, L: LayerState, pes, rounds, first, end, adc) -> None:
        """Each round's windows take its end; a window whose every round has ended is done."""
        for k, (e_, r) in enumerate(zip(pes, rounds, strict=True)):
            if L.first[e_] < 0:
                L.first[e_] = first[k]
            ws = L.round_windows[e_][r]
            for w in ws:
                L.end[w] = max(L.end[w], end[k])
                L.remaining[w] -= 1
                if L.remaining[w] == 0:
                    L.done.publish(w, int(L.end[w]))
            if self.timeline is not None:
                self._record(L, L.steps[e_], int(first[k]), int(end[k]), int(adc[k]), ws)

    def _record(self, L: LayerState, s, first: int, end: int, adc: int, ws) -> None:
        track = f"tile {s.tile} / pe {s.pe}"
        l_r = self.read_cycles
        self.timeline.add(track, L.name, first - l_r, end - first + l_r, windows=list(ws))
        self.timeline.add(track + " / adc", L.name, first, end - first, busy=adc)

    def emit(self, L: LayerState):
        """Output n leaves at max(its window end, output n-1's release, room in every consumer's
        buffer), then takes each output edge's path."""
        env, prev = self.env, 0
        for n in range(len(L.ready)):
            ev = L.done.wait(n)
            if ev is not None:
                yield ev
            base = max(int(L.done.t[n]), prev)
            t = yield from self._room(L, n, base)
            L.stall_buffer += t - base
            if t > env.now:
                yield env.timeout(t - env.now)
            L.release.publish(n, t)
            prev = t
            out = self.move.source(L, n, t)
            src = L.traffic[n % L.lp.copies].last_tile
            for e in L.outputs:
                e.last = max(e.last, self.move.deliver(src, e.dst_tiles, out, e.bits_per_output))
                e.arrival.publish(n, e.last)

    def _room(self, L: LayerState, n: int, t: int):
        """Wait for, and return, the cycle from `t` on at which every consumer has room for output n."""
        for e in L.outputs:
            w = int(e.gate[n])
            if w >= 0:
                C = self.layers[e.dst]
                ev = C.done.wait(w)
                if ev is not None:
                    yield ev
                t = max(t, int(C.done.t[w]))
        return t


def _run(env: simpy.Environment) -> int:
    """Step the simulation until nothing is scheduled; the events it took."""
    events = 0
    while True:
        try:
            env.step()
        except simpy.core.EmptySchedule:
            return events
        events += 1


def _check_finished(layers: dict[str, LayerState]) -> None:
    stuck = [L.name for L in layers.values() if L.release.known < len(L.ready)]
    if stuck:
        raise TimingDeadlock(f"the pipeline stopped with layer(s) {', '.join(stuck)} unfinished: an input buffer "
                             "(tile.edram_kb) is too small for a join's skew")


def _network_io_in(wl, layers: dict[str, LayerState], move: Movement) -> None:
    """Layers fed by the network input get it over the off-chip links before their first window."""
    bits = math.prod(wl.shapes["input"]) * tensor_bits(wl, "input", move.bits)
    memo: dict = {}
    for L in layers.values():
        x = L.node.inputs[0]
        if x == "input" or not producer_deps(wl, x, memo):
            L.input_ready = move.network_input(L, bits)


def _network_io_out(wl, mapping: NetworkMapping, layers: dict[str, LayerState], move: Movement) -> int:
    """The cycle the network output has left over the off-chip links (after its layer's last output)."""
    last = wl.nodes[-1].name
    home = graph_homes(wl, mapping).get(last) or mapping.layers[-1].name
    return move.network_output(layers[home].out_end, math.prod(wl.shapes[last]) * tensor_bits(wl, last, move.bits))


def tensor_bits(wl, name: str, default: int) -> int:
    """Bits of one element of tensor `name` (its format's), `default` when it has none."""
    f = getattr(wl, "formats", {}).get(name)
    return int(f.bits) if f is not None else default


ENGINES = ("auto", "numba", "simpy")
NUMBA_MIN_WINDOWS = 5000
"""With engine "auto" and the numba loop not yet compiled (a cold cache), networks of fewer
windows run on simpy: compiling the loop (a few seconds, once) would cost more than it saves."""


def uses_numba(mapping: NetworkMapping, granularity: str = "default", timeline=None, engine: str = "auto") -> bool:
    """Whether `simulate_network` runs the numba loop (`isaacsim.kernels.pipeline`): engine
    "numba", or "auto" at the default granularity without a timeline when the loop is compiled
    already or the network has `NUMBA_MIN_WINDOWS` windows or more. Both engines give the same
    results."""
    if engine != "auto":
        return engine == "numba"
    if granularity != "default" or timeline is not None:
        return False
    if sum(lp.layer.n_vectors for lp in mapping.layers) >= NUMBA_MIN_WINDOWS:
        return True
    from isaacsim.kernels import pipeline as kernel
    from isaacsim.kernels.cache import is_cached

    try:
        return is_cached(kernel.run_pipeline)
    except Exception:  # numba's cache internals changed: say no rather than fail
        return False


def simulate_network(wl, mapping: NetworkMapping, traces, stages: Stages, *, arch: Arch,
                     granularity: str = "default", timeline=None, engine: str = "auto") -> NetworkTiming:
    """One inference of `wl` placed as `mapping` (module docstring). `traces`: {layer: one
    sample's A/D-operation trace}, (groups, N, cycles, crossbars, lanes) or `Result.traces()`'s
    (samples, ...) whose sample 0 is used. `timeline`: an `isaacsim.timing.events.Timeline`.

    engine: "simpy" steps the processes on simpy; "numba" runs the same processes in the event
    loop of `isaacsim.kernels.pipeline` (default granularity, no timeline), cycle-identical and
    far faster; "auto" chooses by `uses_numba`, and falls back to simpy when numba's loop
    reports an int64 overflow."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "numba" and (granularity != "default" or timeline is not None):
        raise ValueError("the numba engine runs the default granularity without a timeline")
    t_wall = time.perf_counter()
    env = simpy.Environment()
    rates = Rates.of(stages)
    nfu = nfu_work(wl, mapping)
    keep = granularity == "fine" or timeline is not None  # their PE views need each step's A/D operations
    layers = {lp.name: build_layer(env, lp, wl.node(lp.name), trace_of(traces, lp.name), stages, rates, nfu[lp.name],
                                   keep_work=keep) for lp in mapping.layers}
    notes = connect_layers(wl, layers, stages, arch, env)
    res = Resources(stages, arch.chip.tiles_per_router,
                    write_share(arch.crossbar.dac_bits, arch.datapath.input_bits, arch.input_cycles), arch.tile.pes)
    res.timeline = timeline
    move = Movement(res, arch.chip.tiles_per_router, stages.input_bits)
    _network_io_in(wl, layers, move)
    events = None
    if uses_numba(mapping, granularity, timeline, engine):
        events = run_flat(layers, res, move, stage_cycles(stages, "config_load"), rates)
    if events is None:
        pipeline = _Pipeline(env, layers, stages, rates, granularity, traces, timeline, move)
        pipeline.start()
        events = _run(env)
    _check_finished(layers)
    out_end = _network_io_out(wl, mapping, layers, move)
    wall = time.perf_counter() - t_wall
    fig = collect(layers, stages, mapping, rates, res, out_end, timeline)
    return NetworkTiming(stages.clock, granularity, fig.latency_cycles, fig.occupancy_cycles, fig.bottleneck,
                         fig.stalls, fig.utilisation, fig.stages, fig.layers,
                         events + sum(L.events for L in layers.values()), wall, notes, fig.utilisation_max,
                         fig.clock_check, fig.moved)
