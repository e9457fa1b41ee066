"""One layer's cycle-exact schedule on its PEs (docs/timing.md, "One PE's schedule").

`layer_steps(lp, trace, stages, ready)` turns a placed layer and its A/D-operation trace into
each PE's step inputs; `simulate_layer(...)` runs them under simpy in one of two granularities
that must give identical cycles:

- "default": one simpy process per PE; per window it waits for the window's inputs, runs the
  numba recurrence (`isaacsim.kernels.pe_schedule`) over the window's input cycles, and sleeps
  until the window's end: one event per window and PE.
- "fine": one simpy process per crossbar read (per PE step), one per ADC converting its lane's
  samples one job per conversion in column order (job end = the step's latch + ceil(operation
  counter / rate)), and one S+A rate process per PE (result k of a step at the latch +
  ceil(k / rate)). Small layers only: it schedules an event per conversion.

Windows n are dealt to copies round-robin (copy n mod copies) and each copy processes its
windows in order; round r of a PE is the windows r x copies + k of the copies k with crossbars
on it (one window unless two copies share the PE, which then serves them in lock step).
The trace is (groups, N, input_cycles, crossbars_per_group, lanes), or (N, input_cycles,
crossbars_per_group, lanes) for one group: `isaacsim.mvm(..., trace=True)`'s ad_ops_trace, or
one sample of `LayerStats.ad_ops_trace`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import simpy

from isaacsim.kernels.pe_schedule import COUNTERS, pe_schedule
from isaacsim.mapping.placement import LayerPlacement
from isaacsim.timing.stages import Stages

GRANULARITIES = ("default", "fine")


@dataclass(frozen=True)
class Rates:
    """What one PE of the layer does per cycle, as the schedule reads it from the stage table."""

    read_cycles: int
    """L_r: a crossbar read in whole cycles (`crossbar_read.latency_cycles`)."""
    adc: Fraction
    """A/D operations per cycle of one ADC."""
    shift_add: Fraction
    """S+A results per cycle of all the PE's units together."""
    adcs: int
    resolution: int
    early_termination: bool
    output_register: Fraction = Fraction(0)
    """Bits per cycle of the PE's output register port (0: the arch has no such stage)."""
    psum_bits: int = 0

    @classmethod
    def of(cls, stages: Stages) -> Rates:
        adc, sa = stages["adc"], stages["shift_add"]
        orr = stages["output_register"].rate * stages["output_register"].per_pe * 8 \
            if "output_register" in stages else Fraction(0)
        return cls(stages["crossbar_read"].latency_cycles, adc.rate, sa.rate * sa.per_pe,
                   int(adc.per_pe), stages.adc_resolution, stages.early_termination, orr, stages.psum_bits)

    def shift_add_at(self, cyc: int) -> Fraction:
        """S+A results per cycle of one PE in a layer of `cyc` input cycles a window: the S+A
        units' rate, or less when the output register's port cannot keep up with a write per
        result and a read per column and window (psum_bits x (1 + 1 / cyc) bits per result). A
        port sized for the arch's widest layers is too slow for a narrower layer's shorter
        windows, and this is where the schedule feels it."""
        if not self.output_register or not self.psum_bits:
            return self.shift_add
        return min(self.shift_add, self.output_register / (self.psum_bits * (1 + Fraction(1, cyc))))


@dataclass(frozen=True)
class Crossbar:
    """One crossbar of the layer on a PE: its copy, group and index t within the group."""

    copy: int
    group: int
    t: int


@dataclass(frozen=True)
class PESteps:
    """One PE's step inputs: rounds r = 0 .. W-1, each `input_cycles` steps (r, c)."""

    tile: int
    pe: int
    crossbars: tuple[Crossbar, ...]
    """The layer's crossbars on this PE, in slot order."""
    windows: tuple[tuple[int, ...], ...]
    """Layer windows processed in each round."""
    ready: np.ndarray
    """int64 (W,): the round's input-ready cycle (latest of its windows)."""
    work: np.ndarray
    """int64 (W * input_cycles, adcs): A/D operations per step and ADC."""
    conv: np.ndarray
    """int64 (W * input_cycles,): conversions per step."""
    input_cycles: int

    @property
    def step_window(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.windows), dtype=np.int64), self.input_cycles)


@dataclass(frozen=True)
class PETiming:
    tile: int
    pe: int
    end: int
    """Cycle the PE finishes its last step."""
    counters: dict[str, int]
    """Cycles by cause (`isaacsim.kernels.pe_schedule.COUNTERS`)."""
    adc_ops: np.ndarray
    """A/D operations per ADC."""


@dataclass(frozen=True)
class LayerTiming:
    """One layer's schedule: total cycles, per-window ends, per-PE counters, ADC utilisation."""

    layer: str
    granularity: str
    cycles: int
    """Last window's end (0 with no windows)."""
    window_end: np.ndarray
    """int64 (N,): cycle window n's last conversion ends, the latest over its copy's PEs
    (before the partial-sum merge, NFU and output transfer, which the network adds)."""
    pes: tuple[PETiming, ...]
    adc_rate: Fraction
    adcs: int
    events: int = 0
    """simpy events processed."""
    counters: dict[str, int] = field(default_factory=dict)
    """Per-PE counters summed over the layer's PEs."""

    @property
    def adc_ops(self) -> int:
        return int(sum(int(p.adc_ops.sum()) for p in self.pes))

    @property
    def adc_utilisation(self) -> float:
        """A/D operations done / what the layer's ADCs could do in `cycles`."""
        cap = len(self.pes) * self.adcs * self.adc_rate * self.cycles
        return float(Fraction(self.adc_ops) / cap) if cap else 0.0

    def as_dict(self) -> dict:
        return {"layer": self.layer, "granularity": self.granularity, "cycles": self.cycles,
                "adc_utilisation": self.adc_utilisation, "counters": dict(self.counters),
                "pes": [{"tile": p.tile, "pe": p.pe, "end": p.end, **p.counters} for p in self.pes]}


def _trace5(lp: LayerPlacement, trace: np.ndarray, lanes: int) -> np.ndarray:
    tr = np.asarray(trace)
    g = lp.geometry
    if tr.ndim == 4 and lp.layer.groups == 1:
        tr = tr[None]
    want = (lp.layer.groups, "N", g.input_cycles, g.crossbars, lanes)
    if tr.ndim != 5 or tr.shape[0] != want[0] or tr.shape[2:] != want[2:]:
        raise ValueError(f"layer {lp.name!r}: trace shape {tr.shape}, want (groups, N, input_cycles, "
                         f"crossbars_per_group, lanes) = {want}")
    if tr.shape[1] < 1:
        raise ValueError(f"layer {lp.name!r}: trace has no windows")
    return tr


def lane_columns(lp: LayerPlacement, adcs: int) -> np.ndarray:
    """int64 (crossbars_per_group, lanes): mapped columns of crossbar t that lane a converts
    (column j of a crossbar goes to lane j mod adcs; lanes = min(adcs, crossbar columns))."""
    g = lp.geometry
    lanes = min(adcs, g.xbar_cols)
    out = np.zeros((g.crossbars, lanes), np.int64)
    for t in range(g.crossbars):
        col_part = t // g.polarities // g.row_parts
        used = min(g.xbar_cols, g.cols_per_polarity - col_part * g.xbar_cols)
        out[t] = np.bincount(np.arange(used) % lanes, minlength=lanes)
    return out


def layer_steps(lp: LayerPlacement, trace: np.ndarray, stages: Stages,
                ready: np.ndarray | None = None) -> tuple[PESteps, ...]:
    """Every PE's step inputs (module docstring); `ready` (N,) defaults to all windows at 0.
    `trace` may also be a `isaacsim.timing.pe_work.SegmentTrace`."""
    from isaacsim.timing.pe_work import pe_work

    pw = pe_work(lp, trace, stages, keep_work=True)
    n = pw.n
    ready = np.zeros(n, np.int64) if ready is None else np.asarray(ready, np.int64)
    if ready.shape != (n,) or (ready < 0).any():
        raise ValueError(f"layer {lp.name!r}: ready must be ({n},) cycles >= 0, got shape {ready.shape}")
    per_copy, x = lp.crossbars_per_copy, lp.geometry.crossbars
    out = []
    for e in range(pw.n_pes):
        lo, hi = int(pw.xbar_lo[e]), int(pw.xbar_hi[e])
        xbars = tuple(Crossbar(i // per_copy, i % per_copy // x, i % x) for i in range(lo, hi))
        ks = np.arange(pw.k_lo[e], pw.k_hi[e] + 1, dtype=np.int64)
        rounds = int(pw.rounds[e])
        cand = np.arange(rounds)[:, None] * lp.copies + ks[None, :]  # r*copies + k
        r_ready = np.where(cand < n, ready[np.minimum(cand, max(n - 1, 0))], -1).max(axis=1, initial=0) \
            if rounds else np.zeros(0, np.int64)
        sl = slice(pw.offsets[e], pw.offsets[e + 1])
        out.append(PESteps(int(pw.tile[e]), int(pw.pe[e]), xbars, pw.windows(e), r_ready, pw.work[sl], pw.conv[sl],
                           pw.cyc))
    return tuple(out)


def _ints(r: Fraction) -> tuple[int, int]:
    return r.numerator, r.denominator


def simulate_layer(lp: LayerPlacement, trace: np.ndarray, stages: Stages, ready: np.ndarray | None = None,
                   granularity: str = "default") -> LayerTiming:
    """The layer's schedule on its PEs (module docstring), every window's inputs ready at `ready`."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")
    rates = Rates.of(stages)
    steps = layer_steps(lp, trace, stages, ready)
    n = _trace5(lp, trace, min(rates.adcs, lp.geometry.xbar_cols)).shape[1]
    ready = np.zeros(n, np.int64) if ready is None else np.asarray(ready, np.int64)
    env = simpy.Environment()
    ready_ev = [env.timeout(int(r), value=int(r)) for r in ready]
    window_end = np.zeros(n, np.int64)
    run = _default if granularity == "default" else _fine
    results = [run(env, s, rates, ready_ev, lp, trace) if s.windows else None for s in steps]
    events = _run(env)
    pes = []
    for s, res in zip(steps, results, strict=True):
        if res is None:  # a PE of a copy with no window (more copies than windows)
            pes.append(PETiming(s.tile, s.pe, 0, dict.fromkeys(COUNTERS, 0), s.work.sum(axis=0)))
            continue
        ends, counters = res["window_end"], res["counters"]
        for ws, end in zip(s.windows, ends, strict=True):
            for w in ws:
                window_end[w] = max(window_end[w], end)
        pes.append(PETiming(s.tile, s.pe, int(ends.max()), counters, s.work.sum(axis=0)))
    total = {k: sum(p.counters[k] for p in pes) for k in COUNTERS}
    return LayerTiming(lp.name, granularity, int(window_end.max()), window_end, tuple(pes), rates.adc,
                       rates.adcs, events, total)


def _run(env: simpy.Environment) -> int:
    events = 0
    while True:
        try:
            env.step()
        except simpy.core.EmptySchedule:
            return events
        events += 1


def _default(env, s: PESteps, rates: Rates, ready_ev, lp, trace) -> dict:
    """One process per PE: per round, wait for its inputs, run the kernel, sleep to its end."""
    cyc = s.input_cycles
    res = {"window_end": np.zeros(len(s.windows), np.int64), "counters": dict.fromkeys(COUNTERS, 0)}
    an, ad = _ints(rates.adc)
    sn, sd = _ints(rates.shift_add_at(cyc))
    zero = np.zeros(cyc, np.int64)

    def proc():
        read_end = conv_end = 0
        for r, ws in enumerate(s.windows):
            got = yield simpy.AllOf(env, [ready_ev[w] for w in ws])
            ready = np.array([max(got.values())], np.int64)
            sl = slice(r * cyc, (r + 1) * cyc)
            re, ce, we, cnt = pe_schedule(s.work[sl], s.conv[sl], zero, ready, rates.read_cycles,
                                          an, ad, sn, sd, read_end, conv_end)
            for k, v in zip(COUNTERS, cnt, strict=True):
                res["counters"][k] += int(v)
            read_end, conv_end = int(re[-1]), int(ce[-1])
            yield env.timeout(int(we[0]) - env.now)
            res["window_end"][r] = env.now

    env.process(proc())
    return res


def _jobs(s: PESteps, rates: Rates, cols: np.ndarray, tr: np.ndarray, copies: int, r: int, c: int,
          a: int) -> list[int]:
    """ADC a's conversions in step (r, c), in column order (crossbar slot, then column): A/D
    operations each. The trace keeps a lane's sum per crossbar, not per column; it is spread over
    the lane's columns (the first ones one more), which moves no job end but the last, whose
    end is the sum's."""
    jobs: list[int] = []
    if a >= cols.shape[1]:
        return jobs
    for x in s.crossbars:
        n = r * copies + x.copy
        if n not in s.windows[r]:
            continue
        m = int(cols[x.t, a])
        if not rates.early_termination:
            jobs += [rates.resolution] * m
        elif m:
            q, rem = divmod(int(tr[x.group, n, c, x.t, a]), m)
            jobs += [q + 1] * rem + [q] * (m - rem)
    return jobs


def _fine(env, s: PESteps, rates: Rates, ready_ev, lp, trace) -> dict:
    """Reads, ADC jobs and S+A results as simpy events (module docstring)."""
    cyc, n_steps = s.input_cycles, len(s.conv)
    cols = lane_columns(lp, rates.adcs)
    tr = _trace5(lp, trace, cols.shape[1])
    an, ad = _ints(rates.adc)
    sn, sd = _ints(rates.shift_add_at(cyc))
    latch = [env.event() for _ in range(n_steps)]
    adc_done = [[env.event() for _ in range(rates.adcs)] for _ in range(n_steps)]
    sa_done = [env.event() for _ in range(n_steps)]
    conv_done = [simpy.AllOf(env, [*adc_done[i], sa_done[i]]) for i in range(n_steps)]
    read_end = np.zeros(n_steps, np.int64)
    adc_end = np.zeros(n_steps, np.int64)
    sa_end = np.zeros(n_steps, np.int64)

    def read(i):
        if i:
            yield latch[i - 1]
        if i % cyc == 0:
            yield simpy.AllOf(env, [ready_ev[w] for w in s.windows[i // cyc]])
        yield env.timeout(rates.read_cycles)
        if i:
            yield conv_done[i - 1]
        read_end[i] = env.now
        latch[i].succeed()

    def adc(a):
        for i in range(n_steps):
            yield latch[i]
            start, counter = env.now, 0
            for ops in _jobs(s, rates, cols, tr, lp.copies, i // cyc, i % cyc, a):
                counter += ops
                yield env.timeout(start + -(-counter * ad // an) - env.now)
            adc_end[i] = max(adc_end[i], env.now)
            adc_done[i][a].succeed()

    def shift_add():
        for i in range(n_steps):
            yield latch[i]
            start = env.now
            for k in range(1, int(s.conv[i]) + 1):
                yield env.timeout(start + -(-k * sd // sn) - env.now)
            sa_end[i] = env.now
            sa_done[i].succeed()

    for i in range(n_steps):
        env.process(read(i))
    for a in range(rates.adcs):
        env.process(adc(a))
    env.process(shift_add())
    res = {"window_end": np.zeros(len(s.windows), np.int64), "counters": dict.fromkeys(COUNTERS, 0)}

    def collect():  # after the PE's last step: counters from the recorded event times
        yield conv_done[-1]
        conv_end = np.maximum(np.maximum(adc_end, sa_end), read_end)
        res["window_end"][:] = conv_end[cyc - 1::cyc]
        res["counters"].update(_counters_from_times(read_end, adc_end, sa_end, s, rates))

    env.process(collect())
    return res


def _counters_from_times(read_end, adc_end, sa_end, s: PESteps, rates: Rates, read_end0: int = 0,
                         conv_end0: int = 0) -> dict[str, int]:
    """The kernel's counters, measured from the fine model's event times."""
    c = dict.fromkeys(COUNTERS, 0)
    prev_read, prev_conv = read_end0, conv_end0
    for i in range(len(read_end)):
        adc, sa = int(adc_end[i] - read_end[i]), int(sa_end[i] - read_end[i])
        base = prev_read + rates.read_cycles
        c["sh_stall"] += max(0, prev_conv - base)
        c["input_stall"] += int(read_end[i]) - max(base, prev_conv)
        c["adc_busy"] += adc
        c["sa_busy"] += sa
        c["convert_busy"] += max(adc, sa)
        c["sa_stall"] += max(0, sa - adc)
        prev_read, prev_conv = int(read_end[i]), int(read_end[i]) + max(adc, sa)
    return c


def fine_round(s: PESteps, rates: Rates, lp: LayerPlacement, trace: np.ndarray, r: int, ready: int,
               read_end0: int = 0, conv_end0: int = 0) -> tuple[int, int, int, dict[str, int], int]:
    """Round r of one PE in the fine granularity, on its own simpy environment: a read process
    per step, one process per ADC (one job per conversion) and one S+A rate process, from the
    PE's carried state (read_end0, conv_end0), the round's inputs ready at `ready`. The network
    pipeline calls it in place of the kernel. Returns (first latch, read_end, conv_end of the
    round's last step, counters, simpy events)."""
    env = simpy.Environment()
    cyc = s.input_cycles
    cols = lane_columns(lp, rates.adcs)
    tr = _trace5(lp, trace, cols.shape[1])
    an, ad = _ints(rates.adc)
    sn, sd = _ints(rates.shift_add_at(cyc))
    latch = [env.event() for _ in range(cyc)]
    adc_done = [[env.event() for _ in range(rates.adcs)] for _ in range(cyc)]
    sa_done = [env.event() for _ in range(cyc)]
    conv_done = [simpy.AllOf(env, [*adc_done[j], sa_done[j]]) for j in range(cyc)]
    read_end = np.zeros(cyc, np.int64)
    adc_end = np.zeros(cyc, np.int64)
    sa_end = np.zeros(cyc, np.int64)

    def read(j):
        if j:
            yield latch[j - 1]
        else:
            yield env.timeout(max(read_end0, ready))
        yield env.timeout(rates.read_cycles)
        if j:
            yield conv_done[j - 1]
        elif env.now < conv_end0:
            yield env.timeout(conv_end0 - env.now)
        read_end[j] = env.now
        latch[j].succeed()

    def adc(a):
        for j in range(cyc):
            yield latch[j]
            start, counter = env.now, 0
            for ops in _jobs(s, rates, cols, tr, lp.copies, r, j, a):
                counter += ops
                yield env.timeout(start + -(-counter * ad // an) - env.now)
            adc_end[j] = max(adc_end[j], env.now)
            adc_done[j][a].succeed()

    def shift_add():
        for j in range(cyc):
            yield latch[j]
            start = env.now
            for k in range(1, int(s.conv[r * cyc + j]) + 1):
                yield env.timeout(start + -(-k * sd // sn) - env.now)
            sa_end[j] = env.now
            sa_done[j].succeed()

    for j in range(cyc):
        env.process(read(j))
    for a in range(rates.adcs):
        env.process(adc(a))
    env.process(shift_add())
    events = _run(env)
    conv_end = np.maximum(np.maximum(adc_end, sa_end), read_end)
    counters = _counters_from_times(read_end, adc_end, sa_end, s, rates, read_end0, conv_end0)
    return int(read_end[0]), int(read_end[-1]), int(conv_end[-1]), counters, events
