"""The fused layer kernel: bit-serial bit-line samples -> SAR conversion -> shift-and-add.

Samples are generated from bit-packed operands: each input cycle's DAC bit-planes of a row
partition and each column's cell bit-planes are uint64 words over rows, so one sample is
sum over (dac bit a, cell bit b, word) of popcount(x_word & w_word) << (a + b). A sample is
converted by table lookup (the table is the SAR trace over all samples, `sar.sar_table`) and
accumulated in its column's partial-sum register, `psum_bits` wide, two's complement: an add
that leaves the register's range wraps and is counted. After a row partition's cycles the
registers are merged (shifted by slice position, signed by polarity) into int64 outputs.
No layer-sized sample array is ever built; work is split over threads by input vector and the
statistics are kept per chunk and reduced afterwards.
"""

import numpy as np
from numba import njit, prange

from isaacsim.kernels.popcount import popcount64


@njit(cache=True, parallel=True)
def fused_layer(xw, ww, units_lut, cyc_shift, cyc_sign, cell_bits, n_slices, n_pol, psum_bits, n_threads):
    """Run one layer; all arguments are arrays or ints.

    xw: uint64 (N, cycles, row_parts, dac_bits, words) packed input bit-planes.
    ww: uint64 (row_parts, cell_bits, words, n_pol * cols_per_polarity) packed cell bit-planes;
        output j's slice s of polarity p is column p * cols_per_polarity + j * n_slices + s.
    units_lut: int64 (max_sample + 1,) decoded value of each sample in base-step units.
    cyc_shift, cyc_sign: int64 (cycles,) shift and sign (+1, or -1 for a signed-input MSB cycle).
    psum_bits: partial-sum register width; 64 means plain int64 (no overflow can be seen). The
        check is skipped when the table and cycles bound every register inside its range.
    n_threads: chunks of input vectors run in parallel (`numba.get_num_threads()`), each with
        its own statistics.

    Returns (out int64 (N, M) in base-step units, histogram of samples int64 (max_sample + 1,),
    overflow count).
    """
    n_vec, n_cyc, n_parts, n_dac, n_words = xw.shape
    n_cols = ww.shape[3]
    cpp = n_cols // n_pol
    m_out = cpp // n_slices
    n_hist = units_lut.shape[0]
    n_chunks = max(1, min(n_vec, n_threads))
    hist = np.zeros((n_chunks, n_hist), np.int64)
    ovf = np.zeros(n_chunks, np.int64)
    out = np.zeros((n_vec, m_out), np.int64)
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
            for p in range(n_parts):
                psum[:] = 0
                for c in range(n_cyc):
                    s_sh = cyc_shift[c]
                    sgn = cyc_sign[c]
                    if fast:
                        # one plane pair, two words: sample and convert in a single pass
                        x0 = xw[n, c, p, 0, 0]
                        x1 = xw[n, c, p, 0, 1]
                        w0 = ww[p, 0, 0]
                        w1 = ww[p, 0, 1]
                        if check:
                            for col in range(n_cols):
                                s = np.int64(popcount64(x0 & w0[col])) + np.int64(popcount64(x1 & w1[col]))
                                n_ovf += _convert_add(s, col, psum, h, units_lut, s_sh, sgn, wsh)
                        else:
                            for col in range(n_cols):
                                s = np.int64(popcount64(x0 & w0[col])) + np.int64(popcount64(x1 & w1[col]))
                                h[s] += 1
                                psum[col] += (units_lut[s] << s_sh) * sgn
                        continue
                    _cycle_samples(xw, ww, n, c, p, samp)
                    for col in range(n_cols):
                        n_ovf += _convert_add(samp[col], col, psum, h, units_lut, s_sh, sgn, wsh)
                _merge(psum, out[n], n_pol, n_slices, cell_bits)
        ovf[t] = n_ovf
    return out, hist.sum(axis=0), ovf.sum()


@njit(cache=True, parallel=True)
def fused_layer_traced(xw, ww, units_lut, ops_lut, col_slot, n_slots, cyc_shift, cyc_sign, cell_bits,
                       n_slices, n_pol, psum_bits, n_threads):
    """`fused_layer` that also returns each window's A/D-operation trace.

    ops_lut: int64 (max_sample + 1,) A/D operations of each sample (`sar.sar_table`).
    col_slot: int64 (row_parts, n_cols) where column col of row partition p is converted:
        t * lanes + lane (`MatrixGeometry.column_lanes`); n_slots = crossbars * lanes.

    Returns (out, histogram, overflow count) as `fused_layer`, and trace int32
    (N, cycles, n_slots): trace[n, c, slot] = sum of ops_lut[sample] over the samples of input
    vector n in cycle c that slot converts. The caller bounds an entry (columns per slot x the
    largest ops) inside int32.
    """
    n_vec, n_cyc, n_parts, n_dac, n_words = xw.shape
    n_cols = ww.shape[3]
    m_out = n_cols // n_pol // n_slices
    n_hist = units_lut.shape[0]
    n_chunks = max(1, min(n_vec, n_threads))
    hist = np.zeros((n_chunks, n_hist), np.int64)
    ovf = np.zeros(n_chunks, np.int64)
    out = np.zeros((n_vec, m_out), np.int64)
    trace = np.zeros((n_vec, n_cyc, n_slots), np.int32)
    ops32 = ops_lut.astype(np.int32)
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
            for p in range(n_parts):
                psum[:] = 0
                slot = col_slot[p]
                for c in range(n_cyc):
                    tr = trace[n, c]
                    s_sh = cyc_shift[c]
                    sgn = cyc_sign[c]
                    if fast:
                        x0 = xw[n, c, p, 0, 0]
                        x1 = xw[n, c, p, 0, 1]
                        w0 = ww[p, 0, 0]
                        w1 = ww[p, 0, 1]
                        for col in range(n_cols):
                            s = np.int64(popcount64(x0 & w0[col])) + np.int64(popcount64(x1 & w1[col]))
                            tr[slot[col]] += ops32[s]
                            if check:
                                n_ovf += _convert_add(s, col, psum, h, units_lut, s_sh, sgn, wsh)
                            else:
                                h[s] += 1
                                psum[col] += (units_lut[s] << s_sh) * sgn
                        continue
                    _cycle_samples(xw, ww, n, c, p, samp)
                    for col in range(n_cols):
                        s = samp[col]
                        tr[slot[col]] += ops32[s]
                        n_ovf += _convert_add(s, col, psum, h, units_lut, s_sh, sgn, wsh)
                _merge(psum, out[n], n_pol, n_slices, cell_bits)
        ovf[t] = n_ovf
    return out, hist.sum(axis=0), ovf.sum(), trace


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
def _merge(psum, out_n, n_pol, n_slices, cell_bits):
    """Add one row partition's registers into an output row: shifted by slice, signed by polarity."""
    cpp = psum.shape[0] // n_pol
    m_out = cpp // n_slices
    for q in range(n_pol):
        base = q * cpp
        for j in range(m_out):
            acc = np.int64(0)
            for s in range(n_slices):
                acc += psum[base + j * n_slices + s] << (s * cell_bits)
            if q == 0:
                out_n[j] += acc
            else:
                out_n[j] -= acc


@njit(cache=True, inline="always")
def _convert_add(s, col, psum, h, units_lut, s_sh, sgn, wsh):
    """Count sample s, decode it, add it (shifted, signed) to column col's register; 1 on overflow."""
    h[s] += 1
    v = psum[col] + ((units_lut[s] << s_sh) * sgn)
    wrapped = (v << wsh) >> wsh  # branch-free two's-complement wrap; wsh = 0 for 64 bits
    psum[col] = wrapped
    return np.int64(wrapped != v)


@njit(cache=True)
def _may_overflow(units_lut, cyc_shift, cyc_sign, psum_bits):
    """False when no sequence of samples can take a register out of its range (skip the check)."""
    if psum_bits >= 64:
        return False
    top = units_lut.max()
    up = np.int64(0)
    down = np.int64(0)
    for c in range(cyc_shift.shape[0]):
        if cyc_sign[c] > 0:
            up += top << cyc_shift[c]
        else:
            down += top << cyc_shift[c]
    lim = np.int64(1) << (psum_bits - 1)
    return up > lim - 1 or down > lim
