"""Bit-packing of bit-serial input chunks into uint64 words over crossbar rows (numba)."""

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def pack_input_planes(u, first, count, dac_bits, rows, row_parts, words):
    """u: int64 (N, K) non-negative codes -> uint64 (N, cycles, row_parts, dac_bits, words).

    Cycle c applies bits first[c] .. first[c] + count[c] - 1 of each code; DAC bit a of row r
    (global row r, partition r // rows) lands in bit (r % rows) % 64 of word (r % rows) // 64.
    """
    n_vec, k = u.shape
    n_cyc = first.shape[0]
    out = np.zeros((n_vec, n_cyc, row_parts, dac_bits, words), np.uint64)
    for n in prange(n_vec):
        for r in range(k):
            p = r // rows
            rr = r - p * rows
            wd = rr >> 6
            bit = np.uint64(1) << np.uint64(rr & 63)
            v = u[n, r]
            for c in range(n_cyc):
                for a in range(count[c]):
                    if (v >> (first[c] + a)) & 1:
                        out[n, c, p, a, wd] |= bit
    return out


@njit(cache=True, parallel=True)
def pack_weight_planes(mags, n_slices, cell_bits, rows, row_parts, words):
    """mags: int64 (Q, M, K) non-negative stored magnitudes (one row of K per output column)
    -> uint64 cell bit-planes (row_parts, cell_bits, words, Q * M * n_slices).

    Column col = (q * M + m) * n_slices + s holds slice s (bits s*cell_bits ..) of mags[q, m, :];
    bit b of row r's cell level lands in bit (r % rows) % 64 of word (r % rows) // 64 of
    partition r // rows, plane b. Each word is built in a register and stored once.
    """
    n_pol, m_out, k = mags.shape
    n_cols = n_pol * m_out * n_slices
    out = np.zeros((row_parts, cell_bits, words, n_cols), np.uint64)
    for col in prange(n_cols):
        s = col % n_slices
        qm = col // n_slices
        q = qm // m_out
        m = qm - q * m_out
        for p in range(row_parts):
            for wd in range(words):
                r0 = p * rows + wd * 64
                r1 = min(r0 + 64, p * rows + rows, k)
                for b in range(cell_bits):
                    sh = s * cell_bits + b
                    word = np.uint64(0)
                    for r in range(r0, r1):
                        word |= np.uint64((mags[q, m, r] >> sh) & 1) << np.uint64(r - r0)
                    out[p, b, wd, col] = word
    return out
