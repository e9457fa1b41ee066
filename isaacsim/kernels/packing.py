"""Bit-packing of bit-serial input chunks and of weight cell bit-planes into uint64 words over
crossbar rows (numba).

Both packers build each word in a register from up to 64 rows and store it once. The work is
split over threads by `threads.run_chunks` (input vectors; blocks of 64 rows for weights) with
`nogil` chunk kernels, so no parfor pass is compiled.
"""

import numpy as np
from numba import njit

from isaacsim.kernels import threads
from isaacsim.kernels.popcount import popcount64


def pack_input_planes(u, first, count, dac_bits, rows, row_parts, words, n_threads=1):
    """u: int64 (N, K) non-negative codes -> uint64 (N, cycles, row_parts, dac_bits, words).

    Cycle c applies bits first[c] .. first[c] + count[c] - 1 of each code; DAC bit a of row r
    (global row r, partition r // rows) lands in bit (r % rows) % 64 of word (r % rows) // 64.
    n_threads: workers that share the vectors (`threads.run_chunks`).
    """
    u = np.ascontiguousarray(u, np.int64)
    first = np.ascontiguousarray(first, np.int64)
    count = np.ascontiguousarray(count, np.int64)
    out = np.zeros((u.shape[0], first.shape[0], row_parts, dac_bits, words), np.uint64)
    rows, row_parts = int(rows), int(row_parts)

    def chunk(_w: int, lo: int, hi: int) -> None:
        _pack_inputs_chunk(u, first, count, rows, row_parts, out, lo, hi)

    work = max(1, u.shape[1] * int(count.sum()))
    chunks = threads.split(u.shape[0], n_threads, work)
    threads.run_chunks(chunk, chunks, n_threads)
    return out


@njit(cache=True, nogil=True)
def _pack_inputs_chunk(u, first, count, rows, row_parts, out, lo, hi):
    """`pack_input_planes` of vectors lo .. hi - 1 into out (zeros where no row or bit lands)."""
    k = u.shape[1]
    n_cyc, words = first.shape[0], out.shape[4]
    for n in range(lo, hi):
        un = u[n]
        for p in range(row_parts):
            for wd in range(words):
                r0 = p * rows + wd * 64
                r1 = min(r0 + 64, p * rows + rows, k)
                for c in range(n_cyc):
                    for a in range(count[c]):
                        sh = first[c] + a
                        word = np.uint64(0)
                        for r in range(r0, r1):
                            word |= np.uint64((un[r] >> sh) & 1) << np.uint64(r - r0)
                        out[n, c, p, a, wd] = word


def pack_weight_matrix(w, lo, hi, offset, n_pol, n_slices, cell_bits, rows, row_parts, words, n_threads=1):
    """w: integer (K, M) weights -> uint64 cell bit-planes (row_parts, cell_bits, words, n_pol * M *
    n_slices), or None when a weight lies outside lo .. hi (the caller says which).

    Stored magnitude of polarity q (`slicing.stored_magnitudes`): w + offset when n_pol is 1,
    else max(w, 0) (q = 0) and max(-w, 0) (q = 1). Column col = (q * M + m) * n_slices + s holds
    slice s (bits s * cell_bits ..) of output m's magnitude; bit b of row r's cell level lands
    in bit (r % rows) % 64 of word (r % rows) // 64 of partition r // rows, plane b.
    """
    wt = np.ascontiguousarray(np.asarray(w).T, np.int64)  # (M, K): a column's rows side by side
    m_out = wt.shape[0]
    out = np.zeros((row_parts, cell_bits, words, n_pol * m_out * n_slices), np.uint64)
    bad = np.zeros(max(1, int(n_threads)), np.int64)
    args = (int(lo), int(hi), int(offset), int(n_pol), int(n_slices), int(cell_bits), int(rows), int(words))

    def chunk(t: int, b0: int, b1: int) -> None:
        bad[t] += _pack_weights_chunk(wt, *args, out, b0, b1)

    chunks = threads.split(row_parts * words, n_threads, max(1, 64 * n_pol * m_out * n_slices * cell_bits))
    threads.run_chunks(chunk, chunks, n_threads)
    return None if bad.any() else out


@njit(cache=True, nogil=True)
def _pack_weights_chunk(wt, lo, hi, offset, n_pol, n_slices, cell_bits, rows, words, out, b0, b1):
    """`pack_weight_matrix` of row blocks b0 .. b1 - 1 (block p * words + wd: up to 64 rows of
    partition p) into out; returns how many of their weights lie outside lo .. hi. A weight sets
    its magnitude's one bits only (in its polarity's words), found lowest first."""
    m_out, k = wt.shape
    nb = n_slices * cell_bits
    acc = np.zeros(n_pol * nb, np.uint64)  # the words of one output: polarity q, bit j at q * nb + j
    bad = 0
    for blk in range(b0, b1):
        p = blk // words
        wd = blk - p * words
        r0 = p * rows + wd * 64
        r1 = min(r0 + 64, p * rows + rows, k)
        for m in range(m_out):
            row = wt[m]
            acc[:] = 0
            for r in range(r0, r1):
                v = row[r]
                bad += v < lo or v > hi
                base = 0
                if n_pol == 1:
                    mag = v + offset
                elif v >= 0:
                    mag = v
                else:
                    mag = -v
                    base = nb
                bit = np.uint64(1) << np.uint64(r - r0)
                while mag != 0:
                    low = mag & -mag
                    j = popcount64(np.uint64(low - 1))
                    if j < nb:
                        acc[base + j] |= bit
                    mag ^= low
            for q in range(n_pol):
                col = (q * m_out + m) * n_slices
                for j in range(nb):
                    out[p, j % cell_bits, wd, col + j // cell_bits] = acc[q * nb + j]
    return bad
