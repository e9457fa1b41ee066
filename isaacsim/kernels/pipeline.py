"""The network pipeline's event loop in numba: the same processes, waits and reservations as the
simpy model of `isaacsim.timing.network`, stepped in the same order, at kernel speed.

`run_pipeline(a, o, h)` runs every layer's *compute* process (windows in order: wait for the
producers' pixels and the copy's output register, fetch the inputs, run the PE rounds the window
completes) and *emit* process (outputs in order: wait for the window's end and the consumers'
buffer room, release, merge, NFU, deliver). Events are ordered as simpy orders them, (time,
priority, event id): process starts are urgent, timeouts and fired waits normal, and ids are
handed out in the order simpy would create them, so every shared server sees its requests in the
same order and the run is cycle-identical to the simpy model (tests/test_timing_engine.py holds
it to that on random networks).

Every array lives in one int64 arena `a`: segment k (`SEGMENTS[k]`) is a[o[k]:o[k + 1]]
(`isaacsim.timing.flat` packs and unpacks it); `h` is the event heap. One flat arena keeps the
kernels' signatures small, which keeps numba's compile time short. Servers
(`isaacsim.timing.resources.Server`) hold their rate p/q as integers, the tick their last
request ends (in 1/p cycle) and the work done; a product that could leave int64 sets the error
flag, and the caller falls back to the simpy model.
"""

import numpy as np
from numba import njit

SEGMENTS = (
    # per layer
    "win_off", "copies", "n_win", "lc_off", "input_ready", "cyc", "start", "out_end", "ie_ptr", "oe_ptr",
    "nfu_ptr", "cst", "est",
    # per window, PE round trigger, PE, step, PE round
    "w_ready", "w_end", "w_rem", "trig_ptr", "trig_pe", "trig_round", "read_state", "conv_state", "first",
    "pe_ready", "step_off", "pr_off", "counters", "adc", "sa", "rw_ptr", "rw_win",
    # what moves: per copy slot (layer, copy), fetch group, partial, NFU unit
    "fg_ptr", "fg_tile", "fg_bits", "fp_ptr", "fp_pe", "fp_inst", "fp_bits", "pa_ptr", "pa_tile", "pa_bus",
    "pa_adds", "pa_noc", "last_tile", "final_bits", "final_adds", "nfu_stage", "nfu_total",
    # edges
    "ie_edge", "need_off", "need", "arr_ser", "oe_edge", "gate_off", "gate", "e_dst", "e_bits", "e_last",
    "dt_ptr", "dt_tile", "e_lo", "e_hi",
    # series, servers, waits, scalars
    "ser_t", "ser_set", "ser_off", "ser_len", "known", "nwait", "sbase", "rp", "rq", "free", "done",
    "w_ser", "w_idx", "w_seq", "rates", "st",
)
"""The arena's segments, in order (module docstring)."""
(WIN_OFF, COPIES, N_WIN, LC_OFF, INPUT_READY, CYC, START, OUT_END, IE_PTR, OE_PTR, NFU_PTR, CST, EST,
 W_READY, W_END, W_REM, TRIG_PTR, TRIG_PE, TRIG_ROUND, READ_STATE, CONV_STATE, FIRST, PE_READY, STEP_OFF,
 PR_OFF, COUNTERS, ADC, SA, RW_PTR, RW_WIN,
 FG_PTR, FG_TILE, FG_BITS, FP_PTR, FP_PE, FP_INST, FP_BITS, PA_PTR, PA_TILE, PA_BUS, PA_ADDS, PA_NOC,
 LAST_TILE, FINAL_BITS, FINAL_ADDS, NFU_STAGE, NFU_TOTAL,
 IE_EDGE, NEED_OFF, NEED, ARR_SER, OE_EDGE, GATE_OFF, GATE, E_DST, E_BITS, E_LAST, DT_PTR, DT_TILE, E_LO, E_HI,
 SER_T, SER_SET, SER_OFF, SER_LEN, KNOWN, NWAIT, SBASE, RP, RQ, FREE, DONE, W_SER, W_IDX, W_SEQ, RATES,
 ST) = range(len(SEGMENTS))

N_COUNTERS = 6
"""Counters per PE (`isaacsim.kernels.pe_schedule.COUNTERS`)."""
CST_FIELDS = 4
"""Per layer compute state: phase, window, ready cycle, input edge."""
EST_FIELDS = 7
"""Per layer emit state: phase, output, release cycle, base cycle, output edge, previous release,
buffer stall."""
ST_FIELDS = 6
_HN, _EID, _EVENTS, _SEQ, _NOW, _ERR = range(ST_FIELDS)
"""Scalars: heap size, next event id, events processed, next wait id, now, error."""
R_READ, R_TPR, R_HOP, R_CONFIG = range(4)
"""The `rates` segment: read cycles, tiles per router, router hop cycles, config load cycles."""
EDRAM, TILE_BUS, INPUT_REGISTER, TILE_OUTPUT_REGISTER, TILE_SHIFT_ADD, NOC_LINK = range(6)
"""Stage ids of the servers (`isaacsim.timing.flat.FIXED_STAGES`); NFU units follow."""

_URGENT, _NORMAL = 0, 1
_LIM = np.int64(1) << np.int64(62)
_INIT, _NEXT, _INPUTS, _HELD, _BODY, _DONE = range(6)
_ROOM, _RELEASE = 2, 3


@njit(cache=True)
def _push(a, o, h, t, prio, proc):
    """Schedule process `proc` (-1: a process's end, which only counts) at cycle t; events are
    ordered by (time, priority, id)."""
    s = o[ST]
    i = a[s + _HN]
    a[s + _HN] += 1
    eid = a[s + _EID]
    a[s + _EID] += 1
    while i > 0:
        parent = (i - 1) // 2
        pt, pp = h[parent, 0], h[parent, 1]
        if pt < t or (pt == t and (pp < prio or (pp == prio and h[parent, 2] < eid))):
            break
        for c in range(4):
            h[i, c] = h[parent, c]
        i = parent
    h[i, 0] = t
    h[i, 1] = prio
    h[i, 2] = eid
    h[i, 3] = proc


@njit(cache=True)
def _pop(a, o, h):
    """Remove the first event; (time, process)."""
    s = o[ST]
    t0, proc = h[0, 0], h[0, 3]
    a[s + _HN] -= 1
    n = a[s + _HN]
    if n > 0:  # sift the last entry down from the root
        t, prio, eid, p = h[n, 0], h[n, 1], h[n, 2], h[n, 3]
        i = 0
        while True:
            m = 2 * i + 1
            if m >= n:
                break
            if m + 1 < n and (h[m + 1, 0] < h[m, 0] or (h[m + 1, 0] == h[m, 0] and (
                    h[m + 1, 1] < h[m, 1] or (h[m + 1, 1] == h[m, 1] and h[m + 1, 2] < h[m, 2])))):
                m += 1
            mt, mp = h[m, 0], h[m, 1]
            if not (mt < t or (mt == t and (mp < prio or (mp == prio and h[m, 2] < eid)))):
                break
            for c in range(4):
                h[i, c] = h[m, c]
            i = m
        h[i, 0], h[i, 1], h[i, 2], h[i, 3] = t, prio, eid, p
    return t0, proc


@njit(cache=True)
def _reserve(a, o, stage, inst, t, work):
    """`Server.reserve` of instance `inst` of `stage` from cycle t; t when there is no such unit."""
    base = a[o[SBASE] + stage]
    if work == 0 or base < 0:
        return t
    i = base + inst
    p = a[o[RP] + i]
    q = a[o[RQ] + i]
    if t > _LIM // p or work > _LIM // q:
        a[o[ST] + _ERR] = 1
        return t
    start = t * p
    f0 = a[o[FREE] + i]
    if f0 > start:
        start = f0
    if start > _LIM - work * q:
        a[o[ST] + _ERR] = 1
        return t
    f = start + work * q
    a[o[FREE] + i] = f
    a[o[DONE] + i] += work
    return -((-f) // p)


@njit(cache=True)
def _routers(a, o, src_tile, lo_r, hi_r, t, bits):
    """One multicast over routers lo_r .. hi_r and src_tile's; the arrival cycle."""
    tpr = a[o[RATES] + R_TPR]
    r = src_tile // tpr
    lo = min(lo_r, r)
    hi = max(hi_r, r)
    end = t
    for k in range(lo, hi + 1):
        e = _reserve(a, o, NOC_LINK + 0 * k, k, t, bits)
        if e > end:
            end = e
    return end + (hi - lo + 1) * a[o[RATES] + R_HOP]


@njit(cache=True)
def _publish(a, o, h, s, i, t):
    """Series s: index i at cycle t; wake, in (index, wait order), the processes now able to go on."""
    off = a[o[SER_OFF] + s]
    a[o[SER_T] + off + i] = t
    a[o[SER_SET] + off + i] = 1
    k = a[o[KNOWN] + s]
    n = a[o[SER_LEN] + s]
    while k < n and a[o[SER_SET] + off + k]:
        k += 1
    a[o[KNOWN] + s] = k
    n_proc = o[W_SER + 1] - o[W_SER]
    while a[o[NWAIT] + s] > 0:
        best = -1
        for p in range(n_proc):
            if a[o[W_SER] + p] == s and a[o[W_IDX] + p] < k:
                if best < 0 or a[o[W_IDX] + p] < a[o[W_IDX] + best] or (
                        a[o[W_IDX] + p] == a[o[W_IDX] + best] and a[o[W_SEQ] + p] < a[o[W_SEQ] + best]):
                    best = p
        if best < 0:
            break
        a[o[W_SER] + best] = -1
        a[o[NWAIT] + s] -= 1
        _push(a, o, h, a[o[ST] + _NOW], _NORMAL + 0 * best, best)


@njit(cache=True)
def _wait(a, o, proc, s, i):
    """True (and proc registered as waiting) unless index i of series s is already known."""
    if i < a[o[KNOWN] + s]:
        return False
    a[o[W_SER] + proc] = s
    a[o[W_IDX] + proc] = i
    a[o[W_SEQ] + proc] = a[o[ST] + _SEQ]
    a[o[ST] + _SEQ] += 1
    a[o[NWAIT] + s] += 1
    return True


@njit(cache=True)
def _fetch(a, o, lc, t):
    """Window inputs of copy slot lc from cycle t: per tile an eDRAM read streamed over its bus,
    then into each PE's input register; each PE's `pe_ready` takes the cycle its rows are in."""
    for g in range(a[o[FG_PTR] + lc], a[o[FG_PTR] + lc + 1]):
        tile = a[o[FG_TILE] + g]
        bits = a[o[FG_BITS] + g]
        end = max(_reserve(a, o, EDRAM + 0 * g, tile, t, bits), _reserve(a, o, TILE_BUS + 0 * g, tile, t, bits))
        for j in range(a[o[FP_PTR] + g], a[o[FP_PTR] + g + 1]):
            r = _reserve(a, o, INPUT_REGISTER + 0 * j, a[o[FP_INST] + j], end, a[o[FP_BITS] + j])
            pe = o[PE_READY] + a[o[FP_PE] + j]
            if r > a[pe]:
                a[pe] = r


@njit(cache=True)
def _window(a, o, h, ly, n, t):
    """Window n of layer ly starts at t: its inputs from each tile's eDRAM over the bus into the
    PEs' input registers, the PE rounds it completes (`isaacsim.kernels.pe_schedule.pe_rounds`,
    one call each), and the windows those rounds finish."""
    wi = a[o[WIN_OFF] + ly] + n
    a[o[W_READY] + wi] = t
    if a[o[START] + ly] < 0:
        a[o[START] + ly] = t
    _fetch(a, o, a[o[LC_OFF] + ly] + n % a[o[COPIES] + ly], t)
    lo, hi = a[o[TRIG_PTR] + wi], a[o[TRIG_PTR] + wi + 1]
    ready = np.empty(hi - lo, np.int64)
    for k in range(lo, hi):
        e = o[PE_READY] + a[o[TRIG_PE] + k]
        ready[k - lo] = a[e]
        a[e] = 0
    cyc = a[o[CYC] + ly]
    l_r = a[o[RATES] + R_READ]
    for k in range(lo, hi):
        e = a[o[TRIG_PE] + k]
        r = a[o[TRIG_ROUND] + k]
        step0 = a[o[STEP_OFF] + e] + r * cyc
        c0 = o[COUNTERS] + e * N_COUNTERS
        prev_read = a[o[READ_STATE] + e]
        prev_conv = a[o[CONV_STATE] + e]
        for j in range(cyc):  # the PE's read / convert recurrence over the round's steps
            latch = prev_read + l_r
            if prev_conv > latch:
                a[c0 + 3] += prev_conv - latch
                latch = prev_conv
            if j == 0:
                if ready[k - lo] + l_r > latch:
                    a[c0 + 4] += ready[k - lo] + l_r - latch
                    latch = ready[k - lo] + l_r
                if a[o[FIRST] + e] < 0:
                    a[o[FIRST] + e] = latch
            adc = a[o[ADC] + step0 + j]
            sa = a[o[SA] + step0 + j]
            busy = adc if adc > sa else sa
            a[c0] += adc
            a[c0 + 1] += sa
            a[c0 + 2] += busy
            if sa > adc:
                a[c0 + 5] += sa - adc
            prev_read = latch
            prev_conv = latch + busy
        a[o[READ_STATE] + e] = prev_read
        a[o[CONV_STATE] + e] = prev_conv
        q = a[o[PR_OFF] + e] + r
        for j in range(a[o[RW_PTR] + q], a[o[RW_PTR] + q + 1]):
            w = a[o[RW_WIN] + j]
            gw = a[o[WIN_OFF] + ly] + w
            if prev_conv > a[o[W_END] + gw]:
                a[o[W_END] + gw] = prev_conv
            a[o[W_REM] + gw] -= 1
            if a[o[W_REM] + gw] == 0:
                _publish(a, o, h, ly, w, a[o[W_END] + gw])


@njit(cache=True)
def _compute(a, o, h, ly, proc):
    """Resume layer ly's compute process until it waits, sleeps or ends."""
    c = o[CST] + ly * CST_FIELDS
    now = a[o[ST] + _NOW]
    config_load = a[o[RATES] + R_CONFIG]
    phase = a[c]
    if phase == _INIT:
        phase = _NEXT
        if config_load:
            a[c] = _NEXT
            _push(a, o, h, now + config_load, _NORMAL + 0 * ly, proc)
            return
    while not a[o[ST] + _ERR]:
        n = a[c + 1]
        if phase == _NEXT:
            if n == a[o[N_WIN] + ly]:
                a[c] = _DONE
                _push(a, o, h, now, _NORMAL + 0 * ly, -1 + 0 * ly)
                return
            a[c + 2] = max(config_load, a[o[INPUT_READY] + ly])
            a[c + 3] = a[o[IE_PTR] + ly]
            phase = _INPUTS
        if phase == _INPUTS:
            while a[c + 3] < a[o[IE_PTR] + ly + 1]:
                e = a[o[IE_EDGE] + a[c + 3]]
                p = a[o[NEED] + a[o[NEED_OFF] + e] + n]
                s = a[o[ARR_SER] + e]
                if _wait(a, o, proc, s, p):
                    a[c] = _INPUTS
                    return
                a[c + 2] = max(a[c + 2], a[o[SER_T] + a[o[SER_OFF] + s] + p])
                a[c + 3] += 1
            phase = _HELD
        if phase == _HELD:
            held = n - 2 * a[o[COPIES] + ly]
            if held >= 0:
                s = (o[N_WIN + 1] - o[N_WIN]) + ly  # the release series of ly
                if _wait(a, o, proc, s, held):
                    a[c] = _HELD
                    return
                a[c + 2] = max(a[c + 2], a[o[SER_T] + a[o[SER_OFF] + s] + held])
            if a[c + 2] > now:
                a[c] = _BODY
                _push(a, o, h, a[c + 2], _NORMAL + 0 * ly, proc)
                return
            phase = _BODY
        if phase == _BODY:
            _window(a, o, h, ly, n, a[c + 2])
            a[c + 1] = n + 1
            phase = _NEXT


@njit(cache=True)
def _release(a, o, h, ly, n, t):
    """Output n of layer ly leaves at t: the release; its partial sums over each tile's bus into
    the output register, the tile merges, the routers to the copy's last tile, its merge and the
    NFU; then, per output edge, into the eDRAM of every consumer tile (over the source tile's bus
    or one multicast over the routers), and the edge's arrival."""
    _publish(a, o, h, (o[N_WIN + 1] - o[N_WIN]) + ly, n, t)
    lc = a[o[LC_OFF] + ly] + n % a[o[COPIES] + ly]
    src = a[o[LAST_TILE] + lc]
    tpr = a[o[RATES] + R_TPR]
    arrive = t
    for j in range(a[o[PA_PTR] + lc], a[o[PA_PTR] + lc + 1]):
        tile = a[o[PA_TILE] + j]
        bus = a[o[PA_BUS] + j]
        x = max(_reserve(a, o, TILE_BUS + 0 * j, tile, t, bus),
                _reserve(a, o, TILE_OUTPUT_REGISTER + 0 * j, tile, t, bus))
        x = _reserve(a, o, TILE_SHIFT_ADD + 0 * j, tile, x, a[o[PA_ADDS] + j])
        if a[o[PA_NOC] + j]:
            x = _routers(a, o, tile, src // tpr, src // tpr, x, a[o[PA_NOC] + j])
        if x > arrive:
            arrive = x
    arrive = _reserve(a, o, TILE_OUTPUT_REGISTER + 0 * lc, src, arrive, a[o[FINAL_BITS] + lc])
    out = _reserve(a, o, TILE_SHIFT_ADD + 0 * lc, src, arrive, a[o[FINAL_ADDS] + lc])
    nw = a[o[N_WIN] + ly]
    for j in range(a[o[NFU_PTR] + ly], a[o[NFU_PTR] + ly + 1]):
        tot = a[o[NFU_TOTAL] + j]
        out = _reserve(a, o, a[o[NFU_STAGE] + j], src, out, (n + 1) * tot // nw - n * tot // nw)
    if out > a[o[OUT_END] + ly]:
        a[o[OUT_END] + ly] = out
    for i in range(a[o[OE_PTR] + ly], a[o[OE_PTR] + ly + 1]):
        e = a[o[OE_EDGE] + i]
        lo, hi = a[o[DT_PTR] + e], a[o[DT_PTR] + e + 1]
        bits = a[o[E_BITS] + e]
        local = False
        remote = False
        for j in range(lo, hi):
            if a[o[DT_TILE] + j] == src:
                local = True
            else:
                remote = True
        on_bus = _reserve(a, o, TILE_BUS + 0 * e, src, out, bits) if local else out
        over_noc = _routers(a, o, src, a[o[E_LO] + e], a[o[E_HI] + e], out, bits) if remote else out
        end = out
        for j in range(lo, hi):
            d = a[o[DT_TILE] + j]
            x = _reserve(a, o, EDRAM + 0 * j, d, on_bus if d == src else over_noc, bits)
            if x > end:
                end = x
        if end > a[o[E_LAST] + e]:
            a[o[E_LAST] + e] = end
        _publish(a, o, h, a[o[ARR_SER] + e], n, a[o[E_LAST] + e])


@njit(cache=True)
def _emit(a, o, h, ly, proc):
    """Resume layer ly's emit process until it waits, sleeps or ends."""
    c = o[EST] + ly * EST_FIELDS
    now = a[o[ST] + _NOW]
    phase = a[c]
    if phase == _INIT:
        phase = _NEXT
    while not a[o[ST] + _ERR]:
        n = a[c + 1]
        if phase == _NEXT:
            if n == a[o[N_WIN] + ly]:
                a[c] = _DONE
                _push(a, o, h, now, _NORMAL + 0 * ly, -1 + 0 * ly)
                return
            if _wait(a, o, proc, ly, n):
                a[c] = _NEXT
                return
            base = max(a[o[SER_T] + a[o[SER_OFF] + ly] + n], a[c + 5])
            a[c + 2] = base
            a[c + 3] = base
            a[c + 4] = a[o[OE_PTR] + ly]
            phase = _ROOM
        if phase == _ROOM:
            while a[c + 4] < a[o[OE_PTR] + ly + 1]:
                e = a[o[OE_EDGE] + a[c + 4]]
                w = a[o[GATE] + a[o[GATE_OFF] + e] + n]
                if w >= 0:
                    s = a[o[E_DST] + e]  # the consumer's done series
                    if _wait(a, o, proc, s, w):
                        a[c] = _ROOM
                        return
                    a[c + 2] = max(a[c + 2], a[o[SER_T] + a[o[SER_OFF] + s] + w])
                a[c + 4] += 1
            a[c + 6] += a[c + 2] - a[c + 3]
            if a[c + 2] > now:
                a[c] = _RELEASE
                _push(a, o, h, a[c + 2], _NORMAL + 0 * ly, proc)
                return
            phase = _RELEASE
        if phase == _RELEASE:
            a[c + 5] = a[c + 2]
            _release(a, o, h, ly, n, a[c + 2])
            a[c + 1] = n + 1
            phase = _NEXT


@njit(cache=True)
def run_pipeline(a, o, h):
    """Run every layer's compute (process 2 ly) and emit (2 ly + 1) to the end (module docstring).
    Series: done of layer ly is ly, its release layers + ly; an edge's arrivals are in `arr_ser`.
    Returns (events processed, error): error 1 when an int64 product could overflow (the arena
    is then void)."""
    n_proc = 2 * (o[N_WIN + 1] - o[N_WIN])
    s = o[ST]
    for p in range(n_proc):
        _push(a, o, h, 0 * p, _URGENT + 0 * p, p)
    while a[s + _HN] > 0 and not a[s + _ERR]:
        t, proc = _pop(a, o, h)
        a[s + _EVENTS] += 1
        a[s + _NOW] = t
        if proc < 0:
            continue
        if proc % 2 == 0:
            _compute(a, o, h, proc // 2, proc)
        else:
            _emit(a, o, h, proc // 2, proc)
    return a[s + _EVENTS], a[s + _ERR]
