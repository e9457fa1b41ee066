"""The fused layer kernel: bit-serial bit-line samples -> SAR conversion -> shift-and-add.

Samples are generated from bit-packed operands: each input cycle's DAC bit-planes of a row
partition and each column's cell bit-planes are uint64 words over rows, so one sample is
sum over (dac bit a, cell bit b, word) of popcount(x_word & w_word) << (a + b). A sample is
converted by table lookup (the SAR trace over all samples, `sar.sar_table`, expanded per input
cycle to the shifted, signed value the sample adds) and accumulated in its column's partial-sum
register, `psum_bits` wide, two's complement: an add that leaves the register's range wraps and
is counted. After a row partition's cycles the registers are merged (shifted by slice position,
signed by polarity) into int64 outputs.

Per-crossbar counts: each sample's range-2 flag (TRQ's MSB) is summed per (accumulator, row
partition, column), the accumulator chosen per input vector (`vec_acc`: the layer copy that runs
it). The flag rides in the top _CB bits of the column's int64 register word, above the value
(the table entry carries it), so the hot loop does no extra memory access for it; A/D operations
follow from the flags because a conversion's operation count is affine in its flag (ops = base +
step * msb, true of every SAR table). No layer-sized sample array is ever built; work is split
over threads by input vector and the statistics are kept per chunk and reduced afterwards.
"""

import numpy as np
from numba import njit, prange

from isaacsim.kernels.popcount import popcount64

_CB = 8
"""Top bits of a register word that hold the R2-flag count of one row partition's cycles
(at most 127 cycles); the register's value is the sign-extended low 64 - _CB bits."""
_VB = 64 - _CB


def fused_layer(xw, ww, units_lut, ops_lut, msb_lut, vec_acc, n_acc, cyc_shift, cyc_sign, cell_bits, n_slices,
                n_pol, psum_bits, n_threads, col_sign=None):
    """Run one layer; all arguments are arrays or ints.

    xw: uint64 (N, cycles, row_parts, dac_bits, words) packed input bit-planes.
    ww: uint64 (row_parts, cell_bits, words, n_pol * cols_per_polarity) packed cell bit-planes;
        output j's slice s of polarity p is column p * cols_per_polarity + j * n_slices + s.
    units_lut: int64 (max_sample + 1,) decoded value of each sample in base-step units.
    ops_lut, msb_lut: int64 (max_sample + 1,) A/D operations and range-2 flag (TRQ's MSB, else
        0) of each sample (`sar.sar_table`); ops must be affine in msb (ValueError otherwise).
    vec_acc: int64 (N,) accumulator of each input vector, 0 .. n_acc - 1.
    cyc_shift, cyc_sign: int64 (cycles,) shift and sign (+1, or -1 for a signed-input MSB cycle).
    psum_bits: partial-sum register width; 64 means plain int64 (no overflow can be seen). The
        check is skipped when the table and cycles bound every register inside its range.
    n_threads: chunks of input vectors run in parallel (`numba.get_num_threads()`), each with
        its own statistics.
    col_sign: int64 (row_parts, n_cols) of +1, or -1 for a column stored complemented (ISAAC's
        column flip): its register is subtracted when merged. None: all +1.

    Returns (out int64 (N, M) in base-step units, histogram of samples int64 (max_sample + 1,),
    overflow count, ad_ops int64 (n_acc, row_parts, n_cols), r2 int64 (n_acc, row_parts,
    n_cols)): r2[a, p, col] sums msb_lut over the samples of column col in row partition p of the
    input vectors with vec_acc == a, all cycles; ad_ops likewise sums ops_lut.

    It runs the one compiled kernel `fused_layer_traced` also runs, with tracing off, so a run
    compiles the layer kernel once (`_fused`).
    """
    return _fused(xw, ww, units_lut, ops_lut, msb_lut, vec_acc, n_acc, _NO_SLOTS, 0, False, cyc_shift, cyc_sign,
                  cell_bits, n_slices, n_pol, psum_bits, n_threads, _signs(col_sign, ww))[:5]


def fused_layer_traced(xw, ww, units_lut, ops_lut, msb_lut, vec_acc, n_acc, col_slot, n_slots, cyc_shift,
                       cyc_sign, cell_bits, n_slices, n_pol, psum_bits, n_threads, col_sign=None):
    """`fused_layer` that also returns each window's A/D-operation trace.

    col_slot: int64 (row_parts, n_cols) where column col of row partition p is converted:
        t * lanes + lane (`MatrixGeometry.column_lanes`); n_slots = crossbars * lanes.

    Returns (out, histogram, overflow count, ad_ops, r2) as `fused_layer`, and trace int32
    (N, cycles, n_slots): trace[n, c, slot] = sum of ops_lut[sample] over the samples of input
    vector n in cycle c that slot converts. The caller bounds an entry (columns per slot x the
    largest ops) inside int32.
    """
    return _fused(xw, ww, units_lut, ops_lut, msb_lut, vec_acc, n_acc, np.ascontiguousarray(col_slot, np.int64),
                  n_slots, True, cyc_shift, cyc_sign, cell_bits, n_slices, n_pol, psum_bits, n_threads,
                  _signs(col_sign, ww))


_NO_SLOTS = np.zeros((0, 0), np.int64)
"""`col_slot` of an untraced call (never read)."""


def _signs(col_sign, ww) -> np.ndarray:
    """int64 (row_parts, n_cols) column signs: the caller's, or all +1."""
    if col_sign is None:
        return np.ones((ww.shape[0], ww.shape[3]), np.int64)
    return np.ascontiguousarray(col_sign, np.int64)


@njit(cache=True, parallel=True)
def _fused(xw, ww, units_lut, ops_lut, msb_lut, vec_acc, n_acc, col_slot, n_slots, traced, cyc_shift, cyc_sign,
           cell_bits, n_slices, n_pol, psum_bits, n_threads, col_sign):
    """`fused_layer` (traced False: the trace returned is empty) and `fused_layer_traced` (traced True)."""
    n_vec, n_cyc, n_parts, n_dac, n_words = xw.shape
    n_cols = ww.shape[3]
    m_out = n_cols // n_pol // n_slices
    n_hist = units_lut.shape[0]
    add_lut = _cycle_table(units_lut, msb_lut, cyc_shift, cyc_sign)
    base, step = _ops_affine(ops_lut, msb_lut)
    _check_acc(vec_acc, n_acc, n_vec)
    n_chunks = max(1, min(n_vec, n_threads))
    hist = np.zeros((n_chunks, n_hist), np.int64)
    ovf = np.zeros((n_chunks, 1), np.int64)
    r2c = np.zeros((n_chunks, n_acc, n_parts, n_cols), np.int64)
    out = np.zeros((n_vec, m_out), np.int64)
    trace = np.zeros((n_vec if traced else 0, n_cyc, n_slots), np.int32)
    ops32 = np.empty(n_hist, np.int32)
    for s in range(n_hist):
        ops32[s] = ops_lut[s]
    wsh = 64 - psum_bits
    check = _may_overflow(units_lut, cyc_shift, cyc_sign, psum_bits)
    fast = n_dac == 1 and cell_bits == 1 and n_words == 2
    for t in prange(n_chunks):
        lo = t * n_vec // n_chunks
        hi = (t + 1) * n_vec // n_chunks
        samp = np.empty(n_cols, np.int64)
        psum = np.empty(n_cols, np.int64)
        h = hist[t]
        n_ovf = 0
        for n in range(lo, hi):
            acc = r2c[t, vec_acc[n]]
            for p in range(n_parts):
                psum[:] = 0
                for c in range(n_cyc):
                    e = add_lut[c]
                    if traced:
                        n_ovf += _traced_cycle(xw, ww, n, c, p, fast, check, col_slot[p], trace[n, c], ops32, samp,
                                               psum, h, e, wsh)
                    elif fast:
                        # one plane pair, two words: sample and convert in a single pass
                        x0 = xw[n, c, p, 0, 0]
                        x1 = xw[n, c, p, 0, 1]
                        w0 = ww[p, 0, 0]
                        w1 = ww[p, 0, 1]
                        if check:
                            for col in range(n_cols):
                                s = np.int64(popcount64(x0 & w0[col])) + np.int64(popcount64(x1 & w1[col]))
                                n_ovf += _convert_add(s, col, psum, h, e, wsh)
                        else:
                            for col in range(n_cols):
                                s = np.int64(popcount64(x0 & w0[col])) + np.int64(popcount64(x1 & w1[col]))
                                h[s] += 1
                                psum[col] += e[s]
                    else:
                        _cycle_samples(xw, ww, n, c, p, samp)
                        for col in range(n_cols):
                            n_ovf += _convert_add(samp[col], col, psum, h, e, wsh)
                _unpack(psum, acc[p])
                _merge(psum, out[n], n_pol, n_slices, cell_bits, col_sign[p])
        ovf[t, 0] = n_ovf
    ad_ops, r2 = _counts(r2c, vec_acc, n_acc, n_cyc, base, step)
    return out, _sum_rows(hist), _sum_rows(ovf)[0], ad_ops, r2, trace


@njit(cache=True, inline="always")
def _traced_cycle(xw, ww, n, c, p, fast, check, slot, tr, ops32, samp, psum, h, e, wsh):
    """One cycle of input vector n in row partition p, as `_fused`'s untraced path, that also adds
    each sample's A/D operations to its slot's entry of tr; returns the overflows."""
    n_cols = ww.shape[3]
    n_ovf = 0
    if fast:
        x0 = xw[n, c, p, 0, 0]
        x1 = xw[n, c, p, 0, 1]
        w0 = ww[p, 0, 0]
        w1 = ww[p, 0, 1]
        for col in range(n_cols):
            s = np.int64(popcount64(x0 & w0[col])) + np.int64(popcount64(x1 & w1[col]))
            tr[slot[col]] += ops32[s]
            if check:
                n_ovf += _convert_add(s, col, psum, h, e, wsh)
            else:
                h[s] += 1
                psum[col] += e[s]
        return n_ovf
    _cycle_samples(xw, ww, n, c, p, samp)
    for col in range(n_cols):
        s = samp[col]
        tr[slot[col]] += ops32[s]
        n_ovf += _convert_add(s, col, psum, h, e, wsh)
    return n_ovf


@njit(cache=True, inline="always")
def _cycle_samples(xw, ww, n, c, p, samp):
    """Input vector n's samples of row partition p in cycle c, all columns, into samp (generic path)."""
    n_dac, n_words = xw.shape[3], xw.shape[4]
    cell_bits, n_cols = ww.shape[1], ww.shape[3]
    samp[:] = 0
    for a in range(n_dac):
        for b in range(cell_bits):
            sh = a + b
            for wd in range(n_words):
                xv = xw[n, c, p, a, wd]
                if xv == 0:
                    continue
                wrow = ww[p, b, wd]
                for col in range(n_cols):
                    samp[col] += np.int64(popcount64(xv & wrow[col])) << sh


@njit(cache=True, inline="always")
def _merge(psum, out_n, n_pol, n_slices, cell_bits, col_sign):
    """Add one row partition's registers into an output row: shifted by slice, signed by polarity,
    a flipped column's register subtracted (col_sign -1; `mapping.slicing.flip_columns`)."""
    cpp = psum.shape[0] // n_pol
    m_out = cpp // n_slices
    for q in range(n_pol):
        base = q * cpp
        for j in range(m_out):
            acc = np.int64(0)
            for s in range(n_slices):
                col = base + j * n_slices + s
                acc += (psum[col] * col_sign[col]) << (s * cell_bits)
            if q == 0:
                out_n[j] += acc
            else:
                out_n[j] -= acc


@njit(cache=True, inline="always")
def _convert_add(s, col, psum, h, add, wsh):
    """Count sample s and add its entry of this cycle's `_cycle_table` row to column col's
    register word; wrap the value to psum_bits (the R2 count above it is kept); 1 on overflow."""
    h[s] += 1
    v = psum[col] + add[s]
    val = (v << _CB) >> _CB  # the register's value, sign-extended from _VB bits
    wrapped = (val << wsh) >> wsh  # branch-free two's-complement wrap; wsh = 0 for 64 bits
    psum[col] = v + (wrapped - val)
    return np.int64(wrapped != val)


@njit(cache=True, inline="always")
def _unpack(psum, r2_row):
    """After a row partition's cycles: add each column's R2 count to r2_row and leave the value."""
    for col in range(psum.shape[0]):
        v = psum[col]
        val = (v << _CB) >> _CB
        r2_row[col] += (v - val) >> _VB
        psum[col] = val


@njit(cache=True)
def _cycle_table(units_lut, msb_lut, cyc_shift, cyc_sign):
    """int64 (cycles, max_sample + 1): what sample s adds to its column's register word in cycle
    c: the decoded value shifted by the cycle's position and signed, (units_lut[s] << cyc_shift[c])
    * cyc_sign[c], plus msb_lut[s] << _VB.

    Raises ValueError unless the words cannot spill: at most 2^(_CB - 1) - 1 cycles (the count
    field) and every register value and partial sum below 2^(_VB - 2) in magnitude (so the
    value, even unwrapped, sign-extends from _VB bits). The config limits keep both far inside.
    """
    n_cyc = cyc_shift.shape[0]
    if n_cyc >= 1 << (_CB - 1) or msb_lut.shape[0] != units_lut.shape[0]:
        raise ValueError("too many input cycles for the kernel's R2 counters, or msb_lut's length differs")
    top = np.int64(0)
    for s in range(units_lut.shape[0]):
        top = max(top, abs(units_lut[s]))
        if msb_lut[s] < 0 or msb_lut[s] > 1:
            raise ValueError("msb_lut must hold 0 or 1")
    bound = np.int64(0)
    lim = np.int64(1) << (_VB - 2)
    for c in range(n_cyc):
        if cyc_shift[c] < 0 or cyc_shift[c] >= _VB - 2 or top > (lim >> cyc_shift[c]):
            raise ValueError("decoded values too wide for the kernel's register words")
        bound += top << cyc_shift[c]
        if bound >= lim:
            raise ValueError("decoded values too wide for the kernel's register words")
    tab = np.empty((n_cyc, units_lut.shape[0]), np.int64)
    for c in range(n_cyc):
        for s in range(units_lut.shape[0]):
            tab[c, s] = (units_lut[s] << cyc_shift[c]) * cyc_sign[c] + (msb_lut[s] << _VB)
    return tab


@njit(cache=True)
def _check_acc(vec_acc, n_acc, n_vec):
    bad = vec_acc.shape[0] != n_vec or n_acc < 1
    for i in range(vec_acc.shape[0]):
        bad |= vec_acc[i] < 0 or vec_acc[i] >= n_acc
    if bad:
        raise ValueError("vec_acc must hold one accumulator in 0 .. n_acc - 1 per input vector")


@njit(cache=True)
def _ops_affine(ops_lut, msb_lut):
    """(base, step) with ops_lut[s] == base + step * msb_lut[s] for every sample value s: a SAR
    conversion's operations depend only on its range (`sar.sar_convert`). ValueError otherwise."""
    base = np.int64(0)
    top = np.int64(0)
    have_r1 = False
    have_r2 = False
    for s in range(ops_lut.shape[0]):
        if msb_lut[s] == 0 and not have_r1:
            base = ops_lut[s]
            have_r1 = True
        elif msb_lut[s] == 1 and not have_r2:
            top = ops_lut[s]
            have_r2 = True
    step = np.int64(0)
    if not have_r1:
        base = top
    elif have_r2:
        step = top - base
    for s in range(ops_lut.shape[0]):
        if ops_lut[s] != base + step * msb_lut[s]:
            raise ValueError("ops_lut must be affine in msb_lut (ops = base + step * msb)")
    return base, step


@njit(cache=True)
def _counts(r2c, vec_acc, n_acc, n_cyc, base, step):
    """(ad_ops, r2) int64 (n_acc, row_parts, n_cols) from the chunks' R2 counts: a column
    converts each of its accumulator's vectors once per cycle, so its A/D operations are
    base x conversions + step x R2 conversions (`_ops_affine`)."""
    n_chunks, _, n_parts, n_cols = r2c.shape
    r2 = np.zeros((n_acc, n_parts, n_cols), np.int64)
    for t in range(n_chunks):
        for a in range(n_acc):
            for p in range(n_parts):
                for col in range(n_cols):
                    r2[a, p, col] += r2c[t, a, p, col]
    conv = np.zeros(n_acc, np.int64)
    for i in range(vec_acc.shape[0]):
        conv[vec_acc[i]] += n_cyc
    ad_ops = np.empty((n_acc, n_parts, n_cols), np.int64)
    for a in range(n_acc):
        for p in range(n_parts):
            for col in range(n_cols):
                ad_ops[a, p, col] = base * conv[a] + step * r2[a, p, col]
    return ad_ops, r2


@njit(cache=True)
def _may_overflow(units_lut, cyc_shift, cyc_sign, psum_bits):
    """False when no sequence of samples can take a register out of its range (skip the check)."""
    if psum_bits >= 64:
        return False
    top = units_lut[0] if units_lut.shape[0] else np.int64(0)
    for s in range(units_lut.shape[0]):
        top = max(top, units_lut[s])
    up = np.int64(0)
    down = np.int64(0)
    for c in range(cyc_shift.shape[0]):
        if cyc_sign[c] > 0:
            up += top << cyc_shift[c]
        else:
            down += top << cyc_shift[c]
    lim = np.int64(1) << (psum_bits - 1)
    return up > lim - 1 or down > lim


@njit(cache=True)
def _sum_rows(a):
    """int64 (cols,): the sum of a 2-D int64 array's rows (a loop: numba's `sum(axis=0)` takes
    seconds to compile)."""
    out = np.zeros(a.shape[1], np.int64)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[j] += a[i, j]
    return out
