"""The network pipeline's event loop in numba: the same processes, waits and reservations as the
simpy model of `isaacsim.timing.network`, stepped in the same order, at kernel speed.

`run_pipeline` takes the flat arrays `isaacsim.timing.flat` builds and runs every layer's
*compute* process (windows in order: wait for the producers' pixels and the copy's output
register, fetch the inputs, run the PE rounds the window completes) and *emit* process (outputs
in order: wait for the window's end and the consumers' buffer room, release, merge, NFU,
deliver). Events are ordered as simpy orders them, (time, priority, event id): process starts are
urgent, timeouts and fired waits normal, and ids are handed out in the order simpy would create
them, so every shared server sees its requests in the same order and the run is cycle-identical
to the simpy model (tests/test_timing_engine.py holds it to that on random networks).

Servers (`isaacsim.timing.resources.Server`): per server its rate p/q as integers, the tick its
last request ends (`free`, in 1/p cycle) and the work done. A product that could leave int64
sets the error flag and the caller falls back to the simpy model.
"""

import numpy as np
from numba import njit

# st: the loop's scalar state
_HN, _EID, _EVENTS, _SEQ, _NOW, _ERR = range(6)
_URGENT, _NORMAL = 0, 1
_LIM = np.int64(1) << np.int64(62)

# stage ids of the servers (`isaacsim.timing.flat.STAGE_IDS`); NFU units follow
EDRAM, TILE_BUS, INPUT_REGISTER, TILE_OUTPUT_REGISTER, TILE_SHIFT_ADD, NOC_LINK = range(6)

# process phases
_INIT, _NEXT, _INPUTS, _HELD, _BODY, _DONE = range(6)
_ROOM, _RELEASE = 2, 3


@njit(cache=True)
def _less(h, i, j):
    if h[i, 0] != h[j, 0]:
        return h[i, 0] < h[j, 0]
    if h[i, 1] != h[j, 1]:
        return h[i, 1] < h[j, 1]
    return h[i, 2] < h[j, 2]


@njit(cache=True)
def _swap(h, i, j):
    for c in range(4):
        v = h[i, c]
        h[i, c] = h[j, c]
        h[j, c] = v


@njit(cache=True)
def _push(h, st, t, prio, proc):
    """Schedule `proc` (-1: a process's end, which only counts) at cycle t."""
    i = st[_HN]
    st[_HN] += 1
    h[i, 0] = t
    h[i, 1] = prio
    h[i, 2] = st[_EID]
    h[i, 3] = proc
    st[_EID] += 1
    while i > 0:
        parent = (i - 1) // 2
        if not _less(h, i, parent):
            break
        _swap(h, i, parent)
        i = parent


@njit(cache=True)
def _pop(h, st):
    """Remove the first event; (time, process)."""
    t = h[0, 0]
    proc = h[0, 3]
    st[_HN] -= 1
    n = st[_HN]
    if n > 0:
        for c in range(4):
            h[0, c] = h[n, c]
        i = 0
        while True:
            a = 2 * i + 1
            if a >= n:
                break
            b = a + 1
            m = b if b < n and _less(h, b, a) else a
            if not _less(h, m, i):
                break
            _swap(h, i, m)
            i = m
    return t, proc


@njit(cache=True)
def _reserve(srv, st, stage, inst, t, work):
    """`Server.reserve` of instance `inst` of `stage` from cycle t; t when there is no such unit."""
    sbase, rp, rq, free, done = srv
    if work == 0 or sbase[stage] < 0:
        return t
    i = sbase[stage] + inst
    p = rp[i]
    q = rq[i]
    if t > _LIM // p or work > _LIM // q:
        st[_ERR] = 1
        return t
    start = t * p
    if free[i] > start:
        start = free[i]
    if start > _LIM - work * q:
        st[_ERR] = 1
        return t
    f = start + work * q
    free[i] = f
    done[i] += work
    return -((-f) // p)


@njit(cache=True)
def _routers(srv, st, tpr, hop, src_tile, lo_r, hi_r, t, bits):
    """One multicast over routers lo_r .. hi_r (they include src_tile's); the arrival cycle."""
    r = src_tile // tpr
    lo = min(lo_r, r)
    hi = max(hi_r, r)
    end = t
    for k in range(lo, hi + 1):
        e = _reserve(srv, st, NOC_LINK, k, t, bits)
        if e > end:
            end = e
    return end + (hi - lo + 1) * hop


@njit(cache=True)
def _publish(ser, h, st, waits, s, i, t):
    """Series s: index i at cycle t; wake, in (index, wait order), the processes now able to go on."""
    ser_t, ser_set, ser_off, ser_len, known, nwait = ser
    w_ser, w_idx, w_seq = waits
    o = ser_off[s]
    ser_t[o + i] = t
    ser_set[o + i] = 1
    k = known[s]
    while k < ser_len[s] and ser_set[o + k]:
        k += 1
    known[s] = k
    while nwait[s] > 0:
        best = -1
        for p in range(w_ser.shape[0]):
            if w_ser[p] == s and w_idx[p] < k:
                if best < 0 or w_idx[p] < w_idx[best] or (w_idx[p] == w_idx[best] and w_seq[p] < w_seq[best]):
                    best = p
        if best < 0:
            break
        w_ser[best] = -1
        nwait[s] -= 1
        _push(h, st, st[_NOW], _NORMAL, best)


@njit(cache=True)
def _wait(ser, st, waits, proc, s, i):
    """True (and proc registered as waiting) unless index i of series s is already known."""
    if i < ser[4][s]:
        return False
    w_ser, w_idx, w_seq = waits
    w_ser[proc] = s
    w_idx[proc] = i
    w_seq[proc] = st[_SEQ]
    st[_SEQ] += 1
    ser[5][s] += 1
    return True


@njit(cache=True)
def _series_t(ser, s, i):
    """The published cycle of index i of series s."""
    return ser[0][ser[2][s] + i]


@njit(cache=True)
def _fetch(srv, st, fetch, pe_ready, lc, t):
    """Window inputs of copy-slot lc from cycle t into the PEs' input registers."""
    fg_ptr, fg_tile, fg_bits, fp_ptr, fp_pe, fp_inst, fp_bits = fetch
    for g in range(fg_ptr[lc], fg_ptr[lc + 1]):
        tile = fg_tile[g]
        a = _reserve(srv, st, EDRAM, tile, t, fg_bits[g])
        b = _reserve(srv, st, TILE_BUS, tile, t, fg_bits[g])
        end = a if a > b else b
        for j in range(fp_ptr[g], fp_ptr[g + 1]):
            r = _reserve(srv, st, INPUT_REGISTER, fp_inst[j], end, fp_bits[j])
            if r > pe_ready[fp_pe[j]]:
                pe_ready[fp_pe[j]] = r


@njit(cache=True)
def _round(pes, adc_c, sa_c, rates, e, step0, cyc, ready):
    """One PE round of `cyc` steps from step `step0` (`isaacsim.kernels.pe_schedule.pe_rounds`
    for one call), its inputs in the register at `ready`; (first latch, end)."""
    read_state, conv_state, counters = pes[0], pes[1], pes[2]
    l_r = rates[0]
    prev_read = read_state[e]
    prev_conv = conv_state[e]
    first = np.int64(0)
    for j in range(cyc):
        i = step0 + j
        latch = prev_read + l_r
        if prev_conv > latch:
            counters[e, 3] += prev_conv - latch
            latch = prev_conv
        if j == 0:
            r = ready + l_r
            if r > latch:
                counters[e, 4] += r - latch
                latch = r
            first = latch
        adc = adc_c[i]
        sa = sa_c[i]
        busy = adc if adc > sa else sa
        counters[e, 0] += adc
        counters[e, 1] += sa
        counters[e, 2] += busy
        if sa > adc:
            counters[e, 5] += sa - adc
        prev_read = latch
        prev_conv = latch + busy
    read_state[e] = prev_read
    conv_state[e] = prev_conv
    return first, prev_conv


@njit(cache=True)
def _body(ly, n, t, lay, wins, pes, adc_c, sa_c, rates, trig, rwin, fetch, srv, ser, h, st, waits):
    """Window n of layer ly starts at t: inputs, the PE rounds it completes, windows done."""
    win_off, copies, lc_off, done_ser = lay[0], lay[2], lay[4], lay[6]
    w_ready, w_end, w_rem, start = wins
    read_state, conv_state, counters, first_pe, pe_ready, step_off, pr_off = pes
    trig_ptr, trig_pe, trig_round = trig
    rw_ptr, rw_win = rwin
    wi = win_off[ly] + n
    w_ready[wi] = t
    if start[ly] < 0:
        start[ly] = t
    _fetch(srv, st, fetch, pe_ready, lc_off[ly] + n % copies[ly], t)
    a, b = trig_ptr[wi], trig_ptr[wi + 1]
    ready = np.empty(b - a, np.int64)
    for k in range(a, b):
        ready[k - a] = pe_ready[trig_pe[k]]
        pe_ready[trig_pe[k]] = 0
    cyc = lay[8][ly]
    for k in range(a, b):
        e = trig_pe[k]
        r = trig_round[k]
        first, end = _round(pes, adc_c, sa_c, rates, e, step_off[e] + r * cyc, cyc, ready[k - a])
        if first_pe[e] < 0:
            first_pe[e] = first
        q = pr_off[e] + r
        for j in range(rw_ptr[q], rw_ptr[q + 1]):
            w = win_off[ly] + rw_win[j]
            if end > w_end[w]:
                w_end[w] = end
            w_rem[w] -= 1
            if w_rem[w] == 0:
                _publish(ser, h, st, waits, done_ser[ly], rw_win[j], w_end[w])


@njit(cache=True)
def _source(ly, n, t, lay, srv, st, rates, part, nfu, out_end):
    """Output n of layer ly, released at t, through its merges and the NFU; the cycle it is ready."""
    copies, lc_off, n_win = lay[2], lay[4], lay[3]
    pa_ptr, pa_tile, pa_bus, pa_adds, pa_noc, last_tile, final_bits, final_adds = part
    nfu_ptr, nfu_stage, nfu_total = nfu
    tpr, hop = rates[1], rates[2]
    lc = lc_off[ly] + n % copies[ly]
    last = last_tile[lc]
    arrive = t
    for j in range(pa_ptr[lc], pa_ptr[lc + 1]):
        tile = pa_tile[j]
        a = _reserve(srv, st, TILE_BUS, tile, t, pa_bus[j])
        b = _reserve(srv, st, TILE_OUTPUT_REGISTER, tile, t, pa_bus[j])
        a = a if a > b else b
        a = _reserve(srv, st, TILE_SHIFT_ADD, tile, a, pa_adds[j])
        if pa_noc[j]:
            a = _routers(srv, st, tpr, hop, tile, last // tpr, last // tpr, a, pa_noc[j])
        if a > arrive:
            arrive = a
    arrive = _reserve(srv, st, TILE_OUTPUT_REGISTER, last, arrive, final_bits[lc])
    done = _reserve(srv, st, TILE_SHIFT_ADD, last, arrive, final_adds[lc])
    nw = n_win[ly]
    for j in range(nfu_ptr[ly], nfu_ptr[ly + 1]):
        tot = nfu_total[j]
        done = _reserve(srv, st, nfu_stage[j], last, done, (n + 1) * tot // nw - n * tot // nw)
    if done > out_end[ly]:
        out_end[ly] = done
    return done, last


@njit(cache=True)
def _deliver(srv, st, rates, src, dt_tile, a, b, lo_r, hi_r, t, bits):
    """`bits` from tile src at t into the eDRAM of tiles dt_tile[a:b] (routers lo_r .. hi_r); the
    cycle the last write ends."""
    tpr, hop = rates[1], rates[2]
    local = False
    remote = False
    for j in range(a, b):
        if dt_tile[j] == src:
            local = True
        else:
            remote = True
    on_bus = _reserve(srv, st, TILE_BUS, src, t, bits) if local else t
    over_noc = _routers(srv, st, tpr, hop, src, lo_r, hi_r, t, bits) if remote else t
    end = t
    for j in range(a, b):
        d = dt_tile[j]
        e = _reserve(srv, st, EDRAM, d, on_bus if d == src else over_noc, bits)
        if e > end:
            end = e
    return end


@njit(cache=True)
def _compute(ly, proc, lay, wins, pes, adc_c, sa_c, rates, trig, rwin, fetch, srv, ser, h, st, waits, cst, edges):
    """Resume layer l's compute process until it waits, sleeps or ends."""
    copies, n_win, input_ready, rel_ser = lay[2], lay[3], lay[5], lay[7]
    ie_ptr, ie_edge, need_off, need, arr_ser = edges[0], edges[1], edges[2], edges[3], edges[4]
    config_load = rates[3]
    now = st[_NOW]
    phase = cst[0, ly]
    if phase == _INIT:
        if config_load:
            cst[0, ly] = _NEXT
            _push(h, st, now + config_load, _NORMAL, proc)
            return
        phase = _NEXT
    while True:
        n = cst[1, ly]
        if phase == _NEXT:
            if n == n_win[ly]:
                cst[0, ly] = _DONE
                _push(h, st, now, _NORMAL, -1)
                return
            cst[2, ly] = max(config_load, input_ready[ly])
            cst[3, ly] = ie_ptr[ly]
            phase = _INPUTS
        if phase == _INPUTS:
            while cst[3, ly] < ie_ptr[ly + 1]:
                e = ie_edge[cst[3, ly]]
                p = need[need_off[e] + n]
                if _wait(ser, st, waits, proc, arr_ser[e], p):
                    cst[0, ly] = _INPUTS
                    return
                cst[2, ly] = max(cst[2, ly], _series_t(ser, arr_ser[e], p))
                cst[3, ly] += 1
            phase = _HELD
        if phase == _HELD:
            held = n - 2 * copies[ly]
            if held >= 0:
                if _wait(ser, st, waits, proc, rel_ser[ly], held):
                    cst[0, ly] = _HELD
                    return
                cst[2, ly] = max(cst[2, ly], _series_t(ser, rel_ser[ly], held))
            if cst[2, ly] > now:
                cst[0, ly] = _BODY
                _push(h, st, cst[2, ly], _NORMAL, proc)
                return
            phase = _BODY
        if phase == _BODY:
            _body(ly, n, cst[2, ly], lay, wins, pes, adc_c, sa_c, rates, trig, rwin, fetch, srv, ser, h, st, waits)
            cst[1, ly] = n + 1
            phase = _NEXT
        if st[_ERR]:
            return


@njit(cache=True)
def _emit(ly, proc, lay, srv, ser, h, st, waits, est, edges, rates, part, nfu, out_end):
    """Resume layer l's emit process until it waits, sleeps or ends."""
    n_win, done_ser, rel_ser = lay[3], lay[6], lay[7]
    arr_ser, oe_ptr, oe_edge, gate_off, gate, e_dst = edges[4], edges[5], edges[6], edges[7], edges[8], edges[9]
    e_bits, e_last, dt_ptr, dt_tile, e_lo, e_hi = edges[10], edges[11], edges[12], edges[13], edges[14], edges[15]
    now = st[_NOW]
    phase = est[0, ly]
    if phase == _INIT:
        phase = _NEXT
    while True:
        n = est[1, ly]
        if phase == _NEXT:
            if n == n_win[ly]:
                est[0, ly] = _DONE
                _push(h, st, now, _NORMAL, -1)
                return
            if _wait(ser, st, waits, proc, done_ser[ly], n):
                est[0, ly] = _NEXT
                return
            base = max(_series_t(ser, done_ser[ly], n), est[5, ly])
            est[2, ly] = base
            est[3, ly] = base
            est[4, ly] = oe_ptr[ly]
            phase = _ROOM
        if phase == _ROOM:
            while est[4, ly] < oe_ptr[ly + 1]:
                e = oe_edge[est[4, ly]]
                w = gate[gate_off[e] + n]
                if w >= 0:
                    if _wait(ser, st, waits, proc, done_ser[e_dst[e]], w):
                        est[0, ly] = _ROOM
                        return
                    est[2, ly] = max(est[2, ly], _series_t(ser, done_ser[e_dst[e]], w))
                est[4, ly] += 1
            est[6, ly] += est[2, ly] - est[3, ly]
            if est[2, ly] > now:
                est[0, ly] = _RELEASE
                _push(h, st, est[2, ly], _NORMAL, proc)
                return
            phase = _RELEASE
        if phase == _RELEASE:
            t = est[2, ly]
            _publish(ser, h, st, waits, rel_ser[ly], n, t)
            est[5, ly] = t
            out, src = _source(ly, n, t, lay, srv, st, rates, part, nfu, out_end)
            for j in range(oe_ptr[ly], oe_ptr[ly + 1]):
                e = oe_edge[j]
                d = _deliver(srv, st, rates, src, dt_tile, dt_ptr[e], dt_ptr[e + 1], e_lo[e], e_hi[e], out,
                             e_bits[e])
                if d > e_last[e]:
                    e_last[e] = d
                _publish(ser, h, st, waits, arr_ser[e], n, e_last[e])
            est[1, ly] = n + 1
            phase = _NEXT
        if st[_ERR]:
            return


@njit(cache=True)
def run_pipeline(lay, wins, pes, adc_c, sa_c, rates, trig, rwin, fetch, srv, ser, edges, part, nfu, out_end):
    """Run every layer's compute and emit process to the end (module docstring). Returns
    (events, error): the events simpy would have processed, and 1 when an int64 product could
    overflow (the results are then void). Layer l's compute is process 2l, its emit 2l + 1."""
    n_lay = lay[0].shape[0]
    n_proc = 2 * n_lay
    h = np.zeros((3 * n_proc + 8, 4), np.int64)
    st = np.zeros(6, np.int64)
    waits = (np.full(n_proc, -1, np.int64), np.zeros(n_proc, np.int64), np.zeros(n_proc, np.int64))
    cst = np.zeros((4, n_lay), np.int64)
    est = np.zeros((7, n_lay), np.int64)
    for p in range(n_proc):
        _push(h, st, 0, _URGENT, p)
    while st[_HN] > 0 and not st[_ERR]:
        t, proc = _pop(h, st)
        st[_EVENTS] += 1
        st[_NOW] = t
        if proc < 0:
            continue
        ly = proc // 2
        if proc % 2 == 0:
            _compute(ly, proc, lay, wins, pes, adc_c, sa_c, rates, trig, rwin, fetch, srv, ser, h, st, waits, cst,
                     edges)
        else:
            _emit(ly, proc, lay, srv, ser, h, st, waits, est, edges, rates, part, nfu, out_end)
    return st[_EVENTS], st[_ERR], est[6]
