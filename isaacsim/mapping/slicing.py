"""Bit slicing for the datapath kernels: weights -> packed cell bit-planes, inputs -> packed
bit-serial chunks, and the digital correction of offset-encoded weights (docs/datapath.md).

Rows of a row partition are packed into uint64 words, row r of the partition in bit r % 64 of
word r // 64; rows past K are zero. Column layout follows `MatrixGeometry`: output j's slice s
(LSB slice first) of polarity q is column q * cols_per_polarity + j * n_slices + s.
"""

from __future__ import annotations

import numpy as np

from isaacsim.kernels.packing import pack_input_planes, pack_weight_matrix
from isaacsim.kernels.threads import default_workers
from isaacsim.mapping.geometry import MatrixGeometry


def _as_int_matrix(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {arr.shape}")
    return arr.astype(np.int64, copy=False)  # read only: no copy of an int64 matrix


def input_range(geo: MatrixGeometry) -> tuple[int, int]:
    ki = geo.input_bits
    return (-(2 ** (ki - 1)), 2 ** (ki - 1) - 1) if geo.input_signed else (0, 2**ki - 1)


def weight_range(geo: MatrixGeometry) -> tuple[int, int]:
    lim = 2 ** (geo.weight_bits - 1) - 1
    return -lim, lim


def check_operands(x, w) -> tuple[np.ndarray, np.ndarray]:
    """x (N, K) and w (K, M) as int64, with matching K; ValueError otherwise."""
    x = _as_int_matrix(x, "x")
    w = _as_int_matrix(w, "w")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"x is {x.shape[0]} x {x.shape[1]} but w is {w.shape[0]} x {w.shape[1]}: inner sizes differ")
    return x, w


def _check_range(a: np.ndarray, lo: int, hi: int, what: str) -> None:
    if a.size and (a.min() < lo or a.max() > hi):
        bad = a[(a < lo) | (a > hi)].flat[0]
        raise ValueError(f"{what} must lie in {lo}..{hi}; found {bad}")


def n_words(geo: MatrixGeometry) -> int:
    """uint64 words per row partition; at least 2, as the fused kernel has a two-word fast path."""
    return max(2, -(-geo.xbar_rows // 64))


def _pack_rows(bits: np.ndarray, geo: MatrixGeometry) -> np.ndarray:
    """bits (..., K) of 0/1 -> uint64 (..., row_parts, words) packed over each partition's rows."""
    words = n_words(geo)
    pad_k = geo.row_parts * geo.xbar_rows
    full = np.zeros((*bits.shape[:-1], geo.row_parts, words * 64), np.uint8)
    padded = np.zeros((*bits.shape[:-1], pad_k), np.uint8)
    padded[..., : geo.k] = bits
    full[..., : geo.xbar_rows] = padded.reshape(*bits.shape[:-1], geo.row_parts, geo.xbar_rows)
    packed = np.packbits(full, axis=-1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False)


def input_cycles(geo: MatrixGeometry) -> list[tuple[int, int, int]]:
    """(first bit, bit count, sign) of each input cycle, LSB first; a signed input's sign bit last."""
    mag = geo.input_bits - 1 if geo.input_signed else geo.input_bits
    rda = geo.dac_bits
    cyc = [(lo, min(rda, mag - lo), 1) for lo in range(0, mag, rda)]
    if geo.input_signed:
        cyc.append((geo.input_bits - 1, 1, -1))
    assert len(cyc) == geo.input_cycles
    return cyc


def pack_inputs(x: np.ndarray, geo: MatrixGeometry):
    """Inputs (N, K) -> (planes uint64 (N, cycles, row_parts, dac_bits, words), shift, sign).

    shift[c] and sign[c] (int64) place cycle c's result: value = sum_c sign[c] * chunk_c << shift[c].
    Signed inputs are taken in two's complement over Ki bits.
    """
    lo, hi = input_range(geo)
    _check_range(x, lo, hi, f"{'signed' if geo.input_signed else 'unsigned'} {geo.input_bits}-bit inputs")
    u = np.ascontiguousarray(x & (2**geo.input_bits - 1))
    cyc = input_cycles(geo)
    first = np.array([c[0] for c in cyc], np.int64)
    count = np.array([c[1] for c in cyc], np.int64)
    packed = pack_input_planes(u, first, count, geo.dac_bits, geo.xbar_rows, geo.row_parts, n_words(geo),
                               default_workers())
    shift = np.array([c[0] for c in cyc], np.int64)
    sign = np.array([c[2] for c in cyc], np.int64)
    return packed, shift, sign


def stored_magnitudes(w: np.ndarray, geo: MatrixGeometry) -> np.ndarray:
    """Unsigned values stored per polarity, (polarities, K, M): max(w,0), max(-w,0) or w + 2^(Kw-1)."""
    lo, hi = weight_range(geo)
    _check_range(w, lo, hi, f"{geo.weight_bits}-bit signed symmetric weights")
    if geo.encoding == "differential":
        return np.stack([np.maximum(w, 0), np.maximum(-w, 0)])
    return (w + offset(geo))[None]


def offset(geo: MatrixGeometry) -> int:
    """The offset added to every weight under offset encoding (0 for differential)."""
    return 2 ** (geo.weight_bits - 1) if geo.encoding == "offset" else 0


def cell_values(w: np.ndarray, geo: MatrixGeometry) -> np.ndarray:
    """Cell levels (K, polarities * cols_per_polarity), in the kernels' column order."""
    mags = stored_magnitudes(w, geo)
    ns, rc = geo.n_slices, geo.cell_bits
    slices = np.stack([(mags >> (s * rc)) & (2**rc - 1) for s in range(ns)], axis=-1)  # (Q, K, M, S)
    return slices.transpose(1, 0, 2, 3).reshape(geo.k, geo.mapped_cols)


def pack_weights(w: np.ndarray, geo: MatrixGeometry) -> np.ndarray:
    """Weights (K, M) -> packed cell bit-planes uint64 (row_parts, cell_bits, words, mapped_cols).

    The numba packer works straight from the weights (the stored magnitudes of `stored_magnitudes`
    taken on the fly, the range checked as it goes), so no magnitude or (K, mapped_cols) cell array
    is built; tests/test_kernels.py holds it to `pack_weights_reference`.
    """
    lo, hi = weight_range(geo)
    planes = pack_weight_matrix(w, lo, hi, offset(geo), geo.polarities, geo.n_slices, geo.cell_bits, geo.xbar_rows,
                                geo.row_parts, n_words(geo), default_workers())
    if planes is None:  # a weight out of range: say which
        _check_range(w, lo, hi, f"{geo.weight_bits}-bit signed symmetric weights")
    return planes


def pack_weights_reference(w: np.ndarray, geo: MatrixGeometry) -> np.ndarray:
    """The same packing in plain numpy via `cell_values` (slow, obviously correct; for tests)."""
    cells = cell_values(w, geo)
    planes = np.stack([((cells >> b) & 1).T for b in range(geo.cell_bits)])  # (B, cols, K)
    packed = _pack_rows(planes.astype(np.uint8), geo)  # (B, cols, P, W)
    return np.ascontiguousarray(packed.transpose(2, 0, 3, 1))


def flip_columns(planes: np.ndarray, geo: MatrixGeometry) -> tuple[np.ndarray, np.ndarray]:
    """ISAAC's column flip on packed cell planes (row_parts, cell_bits, words, cols): every column
    of a row partition whose cells sum to more than half of (its rows x the largest cell level)
    is stored complemented, cell c -> (2^cell_bits - 1) - c over the partition's rows. Returns
    (planes, flipped bool (row_parts, cols)); `flip_correction` undoes it digitally."""
    counts = np.bitwise_count(planes).sum(axis=2, dtype=np.int64)  # (P, B, C)
    sums = (counts << np.arange(geo.cell_bits, dtype=np.int64)[None, :, None]).sum(axis=1)  # (P, C)
    rows = np.minimum(geo.xbar_rows, geo.k - np.arange(geo.row_parts) * geo.xbar_rows)
    flipped = 2 * sums > rows[:, None] * (2**geo.cell_bits - 1)
    valid = _pack_rows(np.ones(geo.k, np.uint8), geo)  # (P, W): the partition's rows
    flip_words = np.where(flipped[:, None, None, :], valid[:, None, :, None], np.uint64(0))
    return np.ascontiguousarray(planes ^ flip_words), flipped


def flip_correction(x: np.ndarray, flipped: np.ndarray, geo: MatrixGeometry) -> np.ndarray:
    """(N, M): what S+A adds for the flipped columns, whose registers it subtracts: a flipped
    column's true value is (2^cell_bits - 1) x the sum of the partition's inputs - its samples'.
    Per output, summed over its flipped columns with their slice weight and polarity sign."""
    ns, cb, cpp = geo.n_slices, geo.cell_bits, geo.cols_per_polarity
    col = np.arange(geo.mapped_cols)
    weight = (1 << ((col % cpp) % ns * cb)) * np.where(col // cpp == 0, 1, -1) * (2**cb - 1)
    per_out = np.zeros((geo.row_parts, geo.m), np.int64)
    np.add.at(per_out, (slice(None), (col % cpp) // ns), flipped * weight[None, :])
    pad = np.zeros((x.shape[0], geo.row_parts * geo.xbar_rows), np.int64)
    pad[:, : geo.k] = x
    part_sums = pad.reshape(x.shape[0], geo.row_parts, geo.xbar_rows).sum(axis=2)  # (N, P)
    return part_sums @ per_out


def offset_correction(x: np.ndarray, geo: MatrixGeometry) -> np.ndarray:
    """What S+A subtracts digitally under offset encoding: 2^(Kw-1) * sum(x), shaped (N, 1)."""
    return offset(geo) * x.sum(axis=1, keepdims=True)
