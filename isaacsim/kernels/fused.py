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
over threads by chunks of input vectors (`threads.run_chunks`) and the statistics are kept per
worker and reduced afterwards.
"""

import numpy as np
from numba import njit

from isaacsim.kernels import threads
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
        check is skipped in the cycles where the table and the cycles so far bound every register
        inside its range (`_cycle_checks`).
    n_threads: workers that share the input vectors (`threads.run_chunks`: chunks of vectors
        from a work queue), each with its own statistics; a small layer runs on one.
    col_sign: int64 (row_parts, n_cols) of +1, or -1 for a column stored complemented (ISAAC's
        column flip): its register is subtracted when merged. None: all +1.

    Returns (out int64 (N, M) in base-step units, histogram of samples int64 (max_sample + 1,),
    overflow count, ad_ops int64 (n_acc, row_parts, n_cols), r2 int64 (n_acc, row_parts,
    n_cols)): r2[a, p, col] sums msb_lut over the samples of column col in row partition p of the
    input vectors with vec_acc == a, all cycles; ad_ops likewise sums ops_lut.

    It runs the one compiled kernel `fused_layer_traced` also runs, with tracing off, so a run
    compiles the layer kernel once (`_fused_chunk`).
    """
    return _run(xw, ww, units_lut, ops_lut, msb_lut, vec_acc, n_acc, _NO_SLOTS, 0, False, cyc_shift, cyc_sign,
                cell_bits, n_slices, n_pol, psum_bits, n_threads, col_sign)[:5]


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
    return _run(xw, ww, units_lut, ops_lut, msb_lut, vec_acc, n_acc, col_slot, n_slots, True, cyc_shift, cyc_sign,
                cell_bits, n_slices, n_pol, psum_bits, n_threads, col_sign)


_NO_SLOTS = np.zeros((0, 0), np.int64)
"""`col_slot` of an untraced call (never read)."""


def _i64(a) -> np.ndarray:
    return np.ascontiguousarray(a, np.int64)


def _run(xw, ww, units_lut, ops_lut, msb_lut, vec_acc, n_acc, col_slot, n_slots, traced, cyc_shift, cyc_sign,
         cell_bits, n_slices, n_pol, psum_bits, n_threads, col_sign):
    """`fused_layer` (traced False: the trace returned is empty) and `fused_layer_traced` (traced True):
    the tables and checks (`_setup`), the vectors in chunks over the workers (`_fused_chunk`), each
    worker's statistics summed."""
    xw = np.ascontiguousarray(xw, np.uint64)
    ww = np.ascontiguousarray(ww, np.uint64)
    vec_acc = _i64(vec_acc)
    n_acc = int(n_acc)
    n_vec, n_cyc, n_parts = xw.shape[:3]
    n_cols = ww.shape[3]
    col_sign = np.ones((ww.shape[0], n_cols), np.int64) if col_sign is None else _i64(col_sign)
    add_lut, ops32, base, step, check = _setup(_i64(units_lut), _i64(ops_lut), _i64(msb_lut), vec_acc, n_acc, n_vec,
                                               _i64(cyc_shift), _i64(cyc_sign), int(psum_bits))
    chunks = threads.split(n_vec, n_threads, n_cyc * n_parts * n_cols)
    n_w = threads.workers_for(chunks, n_threads)
    hist = np.zeros((n_w, add_lut.shape[1]), np.int64)
    ovf = np.zeros(n_w, np.int64)
    r2c = np.zeros((n_w, n_acc, n_parts, n_cols), np.int64)
    out = np.zeros((n_vec, n_cols // int(n_pol) // int(n_slices)), np.int64)
    trace = np.zeros((n_vec if traced else 0, n_cyc, int(n_slots)), np.int32)
    col_slot = _i64(col_slot)
    wsh = 64 - int(psum_bits)

    def chunk(w: int, lo: int, hi: int) -> None:
        ovf[w] += _fused_chunk(xw, ww, add_lut, ops32, vec_acc, col_slot, traced, check, wsh, int(n_pol),
                               int(n_slices), int(cell_bits), col_sign, lo, hi, out, hist[w], r2c[w], trace)

    threads.run_chunks(chunk, chunks, n_threads)
    ad_ops, r2 = _counts(r2c, vec_acc, n_acc, n_cyc, base, step)
    return out, hist.sum(axis=0), np.int64(ovf.sum()), ad_ops, r2, trace


def _setup(units_lut, ops_lut, msb_lut, vec_acc, n_acc, n_vec, cyc_shift, cyc_sign, psum_bits):
    """(`_cycle_table`, ops_lut as int32, `_ops_affine`'s base and step, `_cycle_checks`), after
    `_check_acc`; ValueError on a bad table or accumulator. Small tables: plain numpy."""
    add_lut = _cycle_table(units_lut, msb_lut, cyc_shift, cyc_sign)
    base, step = _ops_affine(ops_lut, msb_lut)
    _check_acc(vec_acc, n_acc, n_vec)
    return add_lut, ops_lut.astype(np.int32), base, step, _cycle_checks(units_lut, cyc_shift, cyc_sign, psum_bits)


@njit(cache=True, nogil=True)
def _fused_chunk(xw, ww, add_lut, ops32, vec_acc, col_slot, traced, check, wsh, n_pol, n_slices, cell_bits,
                 col_sign, lo, hi, out, h, r2w, trace):
    """Input vectors lo .. hi - 1 of the layer: their output rows (and trace rows when traced);
    sample counts added to h, R2 counts to r2w (n_acc, row_parts, n_cols): one worker's.
    Returns the overflows. Runs without the GIL, so workers run it side by side."""
    n_cyc, n_parts, n_dac, n_words = xw.shape[1:]
    n_cols = ww.shape[3]
    samp = np.empty(n_cols, np.int64)
    psum = np.empty(n_cols, np.int64)
    fast = n_dac == 1 and cell_bits == 1 and n_words == 2
    n_ovf = 0
    for n in range(lo, hi):
        acc = r2w[vec_acc[n]]
        for p in range(n_parts):
            psum[:] = 0
            for c in range(n_cyc):
                e = add_lut[c]
                if traced:
                    n_ovf += _traced_cycle(xw, ww, n, c, p, fast, check[c], col_slot[p], trace[n, c], ops32, samp,
                                           psum, h, e, wsh)
                elif fast:
                    # one plane pair, two words: sample and convert in a single pass
                    x0 = xw[n, c, p, 0, 0]
                    x1 = xw[n, c, p, 0, 1]
                    w0 = ww[p, 0, 0]
                    w1 = ww[p, 0, 1]
                    for col in range(n_cols):  # samples first: a loop the compiler vectorises
                        samp[col] = np.int64(popcount64(x0 & w0[col])) + np.int64(popcount64(x1 & w1[col]))
                    if check[c]:
                        for col in range(n_cols):
                            n_ovf += _convert_add(samp[col], col, psum, h, e, wsh)
                    else:
                        for col in range(n_cols):
                            s = samp[col]
                            h[s] += 1
                            psum[col] += e[s]
                else:
                    _cycle_samples(xw, ww, n, c, p, samp)
                    for col in range(n_cols):
                        n_ovf += _convert_add(samp[col], col, psum, h, e, wsh)
            _unpack(psum, acc[p])
            _merge(psum, out[n], n_pol, n_slices, cell_bits, col_sign[p])
    return n_ovf


@njit(cache=True, inline="always")
def _traced_cycle(xw, ww, n, c, p, fast, check, slot, tr, ops32, samp, psum, h, e, wsh):
    """One cycle of input vector n in row partition p, as `_fused_chunk`'s untraced path, that also adds
    each sample's A/D operations to its slot's entry of tr; returns the overflows."""
    n_cols = ww.shape[3]
    n_ovf = 0
    if fast:  # as the untraced path: the samples in a loop the compiler vectorises, then converted
        x0 = xw[n, c, p, 0, 0]
        x1 = xw[n, c, p, 0, 1]
        w0 = ww[p, 0, 0]
        w1 = ww[p, 0, 1]
        for col in range(n_cols):
            samp[col] = np.int64(popcount64(x0 & w0[col])) + np.int64(popcount64(x1 & w1[col]))
        if check:
            for col in range(n_cols):
                n_ovf += _convert_add(samp[col], col, psum, h, e, wsh)
        else:
            for col in range(n_cols):
                s = samp[col]
                h[s] += 1
                psum[col] += e[s]
        for col in range(n_cols):
            tr[slot[col]] += ops32[samp[col]]
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
    if msb_lut.size and (msb_lut.min() < 0 or msb_lut.max() > 1):
        raise ValueError("msb_lut must hold 0 or 1")
    top = int(np.abs(units_lut).max()) if units_lut.size else 0
    bound = 0
    lim = 1 << (_VB - 2)
    for sh in cyc_shift.tolist():
        if sh < 0 or sh >= _VB - 2 or top > (lim >> sh):
            raise ValueError("decoded values too wide for the kernel's register words")
        bound += top << sh
        if bound >= lim:
            raise ValueError("decoded values too wide for the kernel's register words")
    return np.ascontiguousarray((units_lut[None, :] << cyc_shift[:, None]) * cyc_sign[:, None]
                                + (msb_lut[None, :] << _VB))


def _check_acc(vec_acc, n_acc, n_vec):
    bad = vec_acc.shape[0] != n_vec or n_acc < 1
    if bad or (vec_acc.size and (vec_acc.min() < 0 or vec_acc.max() >= n_acc)):
        raise ValueError("vec_acc must hold one accumulator in 0 .. n_acc - 1 per input vector")


def _ops_affine(ops_lut, msb_lut):
    """(base, step) with ops_lut[s] == base + step * msb_lut[s] for every sample value s: a SAR
    conversion's operations depend only on its range (`sar.sar_convert`). ValueError otherwise."""
    r1 = np.flatnonzero(msb_lut == 0)
    r2 = np.flatnonzero(msb_lut == 1)
    top = int(ops_lut[r2[0]]) if r2.size else 0
    base, step = (int(ops_lut[r1[0]]), 0) if r1.size else (top, 0)
    if r1.size and r2.size:
        step = top - base
    if np.any(ops_lut != base + step * msb_lut):
        raise ValueError("ops_lut must be affine in msb_lut (ops = base + step * msb)")
    return base, step


def _counts(r2c, vec_acc, n_acc, n_cyc, base, step):
    """(ad_ops, r2) int64 (n_acc, row_parts, n_cols) from the workers' R2 counts: a column
    converts each of its accumulator's vectors once per cycle, so its A/D operations are
    base x conversions + step x R2 conversions (`_ops_affine`)."""
    r2 = r2c.sum(axis=0)
    conv = np.bincount(vec_acc, minlength=n_acc).astype(np.int64) * n_cyc
    return base * conv[:, None, None] + step * r2, r2


def _cycle_checks(units_lut, cyc_shift, cyc_sign, psum_bits):
    """bool (cycles,): True for cycle c when some sequence of samples in cycles 0 .. c could take a
    register out of its range (the registers start each row partition at 0 and cycles run in
    order, so the cycles before the first True add without the check: none can wrap)."""
    checks = np.zeros(cyc_shift.shape[0], np.bool_)
    if psum_bits >= 64:
        return checks
    top = int(units_lut.max()) if units_lut.size else 0
    lim = 1 << (psum_bits - 1)
    up = down = 0
    for c, (sh, sg) in enumerate(zip(cyc_shift.tolist(), cyc_sign.tolist(), strict=True)):
        if sg > 0:
            up += top << sh
        else:
            down += top << sh
        checks[c] = up > lim - 1 or down > lim
    return checks
