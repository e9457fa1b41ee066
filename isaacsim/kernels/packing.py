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
