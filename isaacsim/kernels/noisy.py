"""The non-ideal layer kernel: real-valued bit-line samples -> SAR decisions -> shift-and-add.

The exact path (`fused.py`) never runs this. Each bit-line sample is a real value in lossless
LSBs (docs/nonideal.md):

    x = sum_rows v_r * G[r, col] + g_min * sum_rows v_r + offset + sqrt(read^2 * sum_rows v_r^2 + noise^2) * z

v_r the row's DAC level in the cycle, G the conductances in on-steps of the cells of the copy of the
layer that runs the vector (programming variation and stuck-at faults already applied, float32,
`isaacsim.functional.nonideal.conductances`; each copy has its own map), z a
standard normal deviate drawn per read by a counter-based hash (`normal_of`) of the seed, the layer
and (vector, cycle, row partition, column), so the numpy reference computes the same draws. The SAR
decides on x against the thresholds (k - 1/2) D, by default moved onto the R-bit converter's
reference grid half-way between integers (`adc.thresholds`; `real_convert`), its operations follow
the decisions, and the decoded value is shifted and added digitally exactly as in the exact path.
Work is split over the thread pool by chunks of input vectors (`threads.run_chunks`).
"""

import functools
from statistics import NormalDist

import numpy as np
from numba import njit

from isaacsim.kernels import threads
from isaacsim.kernels.fused import _merge
from isaacsim.kernels.popcount import popcount64
from isaacsim.kernels.sar import IDEAL, UNIFORM, _search

TABLE_BITS = 12
"""The normal deviate is one of 2^TABLE_BITS equiprobable quantiles of N(0, 1), picked by a hash."""


def _normal_table() -> np.ndarray:
    n = 1 << TABLE_BITS
    q = np.array([NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)])
    return q / np.sqrt(np.mean(q * q))  # exactly unit variance; symmetric, so mean 0


NORMAL_TABLE = _normal_table()
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def _mix(h):
    """splitmix64's finaliser (uint64 -> uint64)."""
    h = (h ^ (h >> np.uint64(30))) * _M1
    h = (h ^ (h >> np.uint64(27))) * _M2
    return h ^ (h >> np.uint64(31))


@njit(cache=True, inline="always")
def _deviate(key, ctr, table):
    return table[_mix(key + np.uint64(ctr) * _GOLD) >> np.uint64(64 - TABLE_BITS)]


def normal_of(key: int, ctr: np.ndarray) -> np.ndarray:
    """The deviates the kernel draws for counters ctr under stream key (numpy, for the reference)."""
    with np.errstate(over="ignore"):
        h = np.uint64(key) + np.asarray(ctr, np.uint64) * _GOLD
        h = (h ^ (h >> np.uint64(30))) * _M1
        h = (h ^ (h >> np.uint64(27))) * _M2
        h = h ^ (h >> np.uint64(31))
    return NORMAL_TABLE[(h >> np.uint64(64 - TABLE_BITS)).astype(np.int64)]


@njit(cache=True, inline="always")
def _quant(x, step, nbits):
    """The code an n-bit SAR search reaches on x >= 0 (`sar._search`): the largest k in
    0 .. 2^n - 1 with x >= (k - 1/2) step, from the rounded quotient and one check each way."""
    k = np.int64(np.floor(x / step + 0.5))
    if k > 0 and x < (k - 0.5) * step:
        k -= 1
    elif x >= (k + 0.5) * step:
        k += 1
    top = (np.int64(1) << nbits) - 1
    return min(max(k, np.int64(0)), top)


@njit(cache=True)
def real_convert(x, mode, resolution, n_r1, n_r2, m, bias, step, grid=False):
    """SAR conversion of a real sample x (lossless LSBs): (msb, value in base-step units, A/D
    operations), as `sar.sar_convert` decides on an integer one: x clipped to 0 .. 2^R - 1, the
    comparator taking x >= (k - 1/2) D, TRQ detecting R1 as lo <= x < lo + 2^n_r1 D1; IDEAL rounds
    to the nearest whole LSB (half up). grid (`adc.thresholds: grid`): every threshold sits on the
    R-bit converter's reference grid, half-way between integers (a nominal threshold t becomes
    ceil(t) - 1/2), which is deciding on x rounded half up to a whole LSB."""
    top = float((1 << resolution) - 1)
    if grid:
        x = np.floor(x + 0.5)
    if x < 0.0:
        x = 0.0
    elif x > top:
        x = top
    if mode == IDEAL:
        return 0, np.int64(np.floor(x + 0.5)), resolution
    if mode == UNIFORM:
        return 0, _quant(x, step, n_r2), n_r2
    lo = bias * (1 << m) * step
    nu = 1 if bias == 0 else 2
    if x >= lo and x < lo + (1 << n_r1) * step:
        return 0, bias * (1 << m) + _quant(x - lo, step, n_r1), nu + n_r1
    return 1, _quant(x, step * (1 << m), n_r2) << m, nu + n_r2


@njit(cache=True)
def search_convert(x, mode, resolution, n_r1, n_r2, m, bias, step, grid=False):
    """`real_convert` by the comparison-by-comparison search (`sar._search`): the tests' check.
    grid: each threshold t of the search moved to ceil(t) - 1/2."""
    top = float((1 << resolution) - 1)
    x = min(max(x, 0.0), top)
    if grid:
        return _grid_search(x, mode, resolution, n_r1, n_r2, m, bias, step)
    if mode == IDEAL:
        return 0, np.int64(_search(x, 1.0, resolution)), resolution
    if mode == UNIFORM:
        return 0, np.int64(_search(x, step, n_r2)), n_r2
    lo = bias * (1 << m) * step
    nu = 1 if bias == 0 else 2
    if x >= lo and x < lo + (1 << n_r1) * step:
        return 0, np.int64(bias * (1 << m) + _search(x - lo, step, n_r1)), nu + n_r1
    return 1, np.int64(_search(x, step * (1 << m), n_r2)) << m, nu + n_r2


@njit(cache=True)
def _on_grid(t):
    """A nominal threshold t moved onto the reference grid: ceil(t) - 1/2."""
    return np.ceil(t) - 0.5


@njit(cache=True)
def _grid_bits(x, base, step, nbits):
    """The SAR search of `sar._search`, each trial threshold base + (k - 1/2) step moved onto the grid."""
    code = 0
    for i in range(nbits - 1, -1, -1):
        trial = code | (1 << i)
        if x >= _on_grid(base + (trial - 0.5) * step):
            code = trial
    return code


@njit(cache=True)
def _grid_search(x, mode, resolution, n_r1, n_r2, m, bias, step):
    """`search_convert` with every threshold on the grid, the detection's edges lo and lo + theta
    included (their thresholds: lo - 1/2 and lo + theta - 1/2)."""
    if mode == IDEAL:
        return 0, np.int64(_grid_bits(x, 0.0, 1.0, resolution)), resolution
    if mode == UNIFORM:
        return 0, np.int64(_grid_bits(x, 0.0, step, n_r2)), n_r2
    lo = bias * (1 << m) * step
    nu = 1 if bias == 0 else 2
    if x >= _on_grid(lo) and x < _on_grid(lo + (1 << n_r1) * step):
        return 0, np.int64(bias * (1 << m) + _grid_bits(x, lo, step, n_r1)), nu + n_r1
    return 1, np.int64(_grid_bits(x, 0.0, step * (1 << m), n_r2)) << m, nu + n_r2


MAP_BYTES = 1 << 28
"""The most bytes of copies' conductance maps `noisy_layer` holds at once (256 MiB): a layer whose
copies need more runs its vectors in passes, each over the copies whose maps fit."""


def _map_passes(g, vec_acc, n_vec):
    """(maps float32 (k, row_parts, rows, n_cols), slot int64 (n_vec,)) for each pass of
    `noisy_layer`: vector n reads maps[slot[n]] and is skipped where slot[n] is -1. A map array
    is one pass; `CopyMaps` is drawn lazily, copy by copy, for the copies that run vectors only
    (one map for all when `CopyMaps.shared`), each read from its `MapCache` where kept there."""
    if hasattr(g, "draw") and g.shared:  # every copy's map is the same: one map for all
        g = g.draw([0])[0]
    if not hasattr(g, "draw"):
        g = np.ascontiguousarray(g, np.float32)
        if g.ndim == 3:
            yield g[None], np.zeros(n_vec, np.int64)
            return
        if n_vec and vec_acc.max() >= g.shape[0]:
            raise ValueError(f"a vector runs on copy {int(vec_acc.max())}, but g holds {g.shape[0]} maps")
        yield g, vec_acc
        return
    used, slot = np.unique(vec_acc, return_inverse=True)
    per = max(1, MAP_BYTES // max(g.copy_bytes, 1))
    for first in range(0, max(len(used), 1), per):  # no vectors: one empty pass
        s = slot - first
        s[(s < 0) | (s >= per)] = -1
        yield g.draw(used[first:first + per]), np.ascontiguousarray(s, np.int64)


def noisy_layer(xw, g, adc_args, noise_args, vec_acc, n_acc, cyc_shift, cyc_sign, cell_bits, n_slices, n_pol,
                psum_bits, max_sample, n_threads, col_sign=None, col_slot=None, n_slots=0):
    """Run one layer with real-valued samples; arguments as `fused.fused_layer`, except:

    g: the cell conductances in on-steps of the copies of the layer (`nonideal.conductances`):
        a `nonideal.CopyMaps`, drawn for the copies in vec_acc only, at most `MAP_BYTES` of maps
        at a time; or float32 (n_acc, row_parts, rows, n_cols), vector n reading g[vec_acc[n]];
        or float32 (row_parts, rows, n_cols), one map every vector reads.
    adc_args: `ADCRegisters.kernel_args()`. noise_args: `Noise.kernel_args` (key uint64, first
        vector, g_min, read_sigma, offset_lsb, noise_lsb, grid: bool). col_slot / n_slots: the
        trace's slots (None: no trace).

    Returns (out int64 (N, M) in base-step units, sample histogram int64 (max_sample + 1,) of
    the real samples rounded half up and clipped, overflows, ad_ops and r2 int64 (n_acc,
    row_parts, n_cols), ops histogram int64 (resolution + 3,), trace int32 (N, cycles, n_slots)).
    """
    xw = np.ascontiguousarray(xw, np.uint64)
    vec_acc = np.ascontiguousarray(vec_acc, np.int64)
    n_vec, n_cyc, n_parts = xw.shape[:3]
    passes = _map_passes(g, vec_acc, n_vec)
    g, slot = next(passes)
    n_cols = g.shape[3]
    col_sign = np.ones((n_parts, n_cols), np.int64) if col_sign is None else np.ascontiguousarray(col_sign, np.int64)
    traced = col_slot is not None
    col_slot = np.zeros((n_parts, n_cols), np.int64) if col_slot is None else np.ascontiguousarray(col_slot, np.int64)
    chunks = threads.split(n_vec, n_threads, n_cyc * n_parts * n_cols)
    n_w = threads.workers_for(chunks, n_threads)
    hist = np.zeros((n_w, int(max_sample) + 1), np.int64)
    ovf = np.zeros(n_w, np.int64)
    r2 = np.zeros((n_w, int(n_acc), n_parts, n_cols), np.int64)
    out = np.zeros((n_vec, n_cols // int(n_pol) // int(n_slices)), np.int64)
    trace = np.zeros((n_vec if traced else 0, n_cyc, int(n_slots)), np.int32)
    mode, res, n_r1, n_r2, m, bias = (int(a) for a in adc_args[:6])
    step = float(adc_args[6])
    ops0, ops1 = _range_ops(mode, res, n_r1, n_r2, bias)
    key, first, g_min, read_sigma, offset, noise, grid = noise_args
    q, u_tab, m_tab = decision_table(mode, res, n_r1, n_r2, m, bias, step, bool(grid))
    sh = np.ascontiguousarray(cyc_shift, np.int64)
    sg = np.ascontiguousarray(cyc_sign, np.int64)

    def chunk(g, slot, w: int, lo: int, hi: int) -> None:
        ovf[w] += _noisy_chunk(xw, g, slot, vec_acc, sh, sg, mode, res, n_r1, n_r2, m, bias, step, q, u_tab, m_tab,
                               ops0, ops1 - ops0,
                               np.uint64(key), int(first), float(g_min), float(read_sigma), float(offset),
                               float(noise), NORMAL_TABLE, 64 - int(psum_bits), int(n_pol), int(n_slices),
                               int(cell_bits), col_sign, col_slot, traced, lo, hi, out, hist[w], r2[w], trace)

    while g is not None:
        threads.run_chunks(functools.partial(chunk, g, slot), chunks, n_threads)
        del g, slot  # one pass's maps held at a time
        g, slot = next(passes, (None, None))
    r2 = r2.sum(axis=0)
    conv = np.bincount(vec_acc, minlength=int(n_acc)).astype(np.int64) * n_cyc
    ad_ops = ops0 * conv[:, None, None] + (ops1 - ops0) * r2
    n_r2_all = int(r2.sum())
    ops_hist = np.zeros(res + 3, np.int64)
    ops_hist[ops0] += n_vec * n_cyc * n_parts * n_cols - n_r2_all
    ops_hist[ops1] += n_r2_all
    return out, hist.sum(axis=0), np.int64(ovf.sum()), ad_ops, r2, ops_hist, trace


def decision_table(mode, res, n_r1, n_r2, m, bias, step, grid=False, max_q=8):
    """(q, units, msb): when every comparator threshold is a multiple of 2^-q (q <= max_q; a step
    D with D 2^(q-1) whole; with grid thresholds always, at q = 1), a real sample x decides as the
    point floor(x 2^q) / 2^q does, so the kernel looks its (msb, units) up at j = floor(x 2^q)
    clipped to 0 .. (2^R - 1) 2^q, the tables here (`real_convert` at each point). Otherwise
    (-1, empty, empty): the kernel converts each x."""
    for q in range(1, max_q + 1):
        if grid or float(step * 2 ** (q - 1)).is_integer():
            pts = np.arange(((1 << res) - 1) * (1 << q) + 1, dtype=np.float64) / (1 << q)
            msb, units = _table(pts, mode, res, n_r1, n_r2, m, bias, float(step), bool(grid))
            return q, units, msb
    return -1, np.zeros(1, np.int64), np.zeros(1, np.int64)


@njit(cache=True)
def _table(pts, mode, res, n_r1, n_r2, m, bias, step, grid):
    msb = np.empty(pts.shape[0], np.int64)
    units = np.empty(pts.shape[0], np.int64)
    for i in range(pts.shape[0]):
        msb[i], units[i], _ = real_convert(pts[i], mode, res, n_r1, n_r2, m, bias, step, grid)
    return msb, units


def _range_ops(mode, res, n_r1, n_r2, bias):
    """A/D operations of a conversion in range 1 and in range 2 (`real_convert`)."""
    if mode == IDEAL:
        return res, res
    if mode == UNIFORM:
        return n_r2, n_r2
    nu = 1 if bias == 0 else 2
    return nu + n_r1, nu + n_r2


@njit(cache=True, inline="always")
def _rows(xw, n, c, p, rows, lev):
    """The driven rows of (vector n, cycle c, partition p) into rows / lev (their DAC levels);
    returns (count, sum of levels, sum of squared levels)."""
    n_dac, n_words = xw.shape[3], xw.shape[4]
    k = 0
    for wd in range(n_words):
        any_bits = np.uint64(0)
        for a in range(n_dac):
            any_bits |= xw[n, c, p, a, wd]
        while any_bits:
            low = any_bits & (~any_bits + np.uint64(1))
            b = np.int64(popcount64(low - np.uint64(1)))
            any_bits ^= low
            v = 0
            for a in range(n_dac):
                v += np.int64((xw[n, c, p, a, wd] >> np.uint64(b)) & np.uint64(1)) << a
            rows[k] = wd * 64 + b
            lev[k] = v
            k += 1
    s1 = 0
    s2 = 0
    for i in range(k):
        s1 += lev[i]
        s2 += lev[i] * lev[i]
    return k, s1, s2


@njit(cache=True, inline="always")
def _accumulate(gp, rows, lev, k, acc):
    """acc = the float32 sum of lev[i] x gp[rows[i]] over the k driven rows, four rows at a time:
    acc += (v0 g0 + v1 g1) + (v2 g2 + v3 g3), then the rest one by one (the order the reference keeps)."""
    acc[:] = 0
    n_cols = acc.shape[0]
    i = 0
    while i + 4 <= k:
        g0, g1, g2, g3 = gp[rows[i]], gp[rows[i + 1]], gp[rows[i + 2]], gp[rows[i + 3]]
        v0, v1 = np.float32(lev[i]), np.float32(lev[i + 1])
        v2, v3 = np.float32(lev[i + 2]), np.float32(lev[i + 3])
        for col in range(n_cols):
            acc[col] += (v0 * g0[col] + v1 * g1[col]) + (v2 * g2[col] + v3 * g3[col])
        i += 4
    while i < k:
        gr = gp[rows[i]]
        v = np.float32(lev[i])
        for col in range(n_cols):
            acc[col] += v * gr[col]
        i += 1


@njit(cache=True, nogil=True)
def _noisy_chunk(xw, g, slot, vec_acc, cyc_shift, cyc_sign, mode, res, n_r1, n_r2, m, bias, step, q, u_tab, m_tab, ops0,
                 d_ops, key, first,
                 g_min, read_sigma, offset, noise, table, wsh, n_pol, n_slices, cell_bits, col_sign, col_slot, traced,
                 lo, hi, out, h, r2_w, trace):
    """Input vectors lo .. hi - 1 (`noisy_layer`) whose map is in g (vector n reads g[slot[n]]; -1:
    another pass's); one worker's counts (sample histogram, R2 conversions per column; A/D
    operations are ops0 + d_ops x msb). Returns the overflows."""
    n_cyc, n_parts = xw.shape[1], xw.shape[2]
    n_rows, n_cols = g.shape[2], g.shape[3]
    acc = np.empty(n_cols, np.float32)
    xs = np.empty(n_cols, np.float64)
    scale = np.float64(1 << max(q, 0))
    j_top = u_tab.shape[0] - 1
    psum = np.empty(n_cols, np.int64)
    rows = np.empty(n_rows + 64, np.int64)
    lev = np.empty(n_rows + 64, np.int64)
    top = h.shape[0] - 1
    n_ovf = 0
    for n in range(lo, hi):
        if slot[n] < 0:
            continue
        gn = g[slot[n]]
        a_r2 = r2_w[vec_acc[n]]
        for p in range(n_parts):
            psum[:] = 0
            for c in range(n_cyc):
                k, s1, s2 = _rows(xw, n, c, p, rows, lev)
                _accumulate(gn[p], rows, lev, k, acc)
                base = g_min * s1 + offset
                sd = np.sqrt(read_sigma * read_sigma * s2 + noise * noise)
                ctr0 = ((first + n) * n_cyc + c) * n_parts + p
                shc = cyc_shift[c]
                sgc = cyc_sign[c]
                for col in range(n_cols):
                    xs[col] = np.float64(acc[col]) + base
                if sd > 0.0:
                    for col in range(n_cols):
                        xs[col] += sd * _deviate(key, ctr0 * n_cols + col, table)
                for col in range(n_cols):
                    x = xs[col]
                    s = np.int64(np.floor(x + 0.5))
                    h[min(max(s, 0), top)] += 1
                    if q >= 0:  # every threshold a multiple of 2^-q: the decisions by table
                        j = min(max(np.int64(np.floor(x * scale)), 0), j_top)
                        msb, units = m_tab[j], u_tab[j]
                    else:
                        msb, units, _ = real_convert(x, mode, res, n_r1, n_r2, m, bias, step)
                    a_r2[p, col] += msb
                    if traced:
                        trace[n, c, col_slot[p, col]] += ops0 + d_ops * msb
                    v = psum[col] + (units << shc) * sgc
                    wrapped = (v << wsh) >> wsh
                    n_ovf += np.int64(wrapped != v)
                    psum[col] = wrapped
            _merge(psum, out[n], n_pol, n_slices, cell_bits, col_sign[p])
    return n_ovf
