"""Fused layer kernel vs a slow bit-plane reference (numpy matmuls + closed-form ADC), and helpers."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import isaacsim
from isaacsim.adc import CLOSED_FORMS, ADCRegisters
from isaacsim.kernels import fused_layer, popcount64, sar_table
from isaacsim.mapping import slicing
from isaacsim.mapping.geometry import MatrixGeometry


@numba.njit
def _popcounts(a):
    out = np.empty(a.shape[0], np.int64)
    for i in range(a.shape[0]):
        out[i] = popcount64(a[i])
    return out


def test_popcount_intrinsic():
    rng = np.random.default_rng(1)
    a = np.concatenate([rng.integers(0, 2**63, 200, dtype=np.uint64) * np.uint64(2) + np.uint64(1),
                        np.array([0, 1, 2**64 - 1, 2**63], dtype=np.uint64)])
    assert _popcounts(a).tolist() == [bin(int(v)).count("1") for v in a]


def reference_layer(x, w, arch, regs):
    """Obviously-correct datapath: per row partition, polarity, weight slice and input cycle, a
    sample matrix from plain numpy matmuls over (DAC bit, cell bit) planes, the closed-form ADC,
    and psum_bits-wide wrapping registers. Returns (y, sample histogram, overflows)."""
    c, d = arch.crossbar, arch.datapath
    ki, kw, rc, rda = d.input_bits, d.weight_bits, c.cell_bits, c.dac_bits
    if d.weight_encoding == "differential":
        mags, nbits, off = [np.maximum(w, 0), np.maximum(-w, 0)], kw - 1, 0
    else:
        mags, nbits, off = [w + 2 ** (kw - 1)], kw, 2 ** (kw - 1)
    n_slices = -(-nbits // rc)
    u = x & (2**ki - 1)
    if d.input_signed:
        cycles = [(b, min(rda, ki - 1 - b), 1) for b in range(0, ki - 1, rda)] + [(ki - 1, 1, -1)]
    else:
        cycles = [(b, min(rda, ki - b), 1) for b in range(0, ki, rda)]
    max_sample = c.rows * (2**rda - 1) * (2**rc - 1)
    hist = np.zeros(max_sample + 1, np.int64)
    lim = 2 ** min(d.psum_bits - 1, 62)
    y = np.zeros((x.shape[0], w.shape[1]), np.int64)
    ovf = 0
    for r0 in range(0, x.shape[1], c.rows):
        rows = slice(r0, r0 + c.rows)
        for sign_q, mag in zip([1, -1], mags, strict=False):
            for s in range(n_slices):
                cell = (mag[rows] >> (s * rc)) & (2**rc - 1)
                psum = np.zeros_like(y)
                for first, count, sign in cycles:
                    chunk = (u[:, rows] >> first) & (2**count - 1)
                    samp = np.zeros_like(y)
                    for a in range(count):
                        for b in range(rc):
                            samp += (((chunk >> a) & 1) @ ((cell >> b) & 1)) << (a + b)
                    hist += np.bincount(samp.ravel(), minlength=hist.size)
                    units = CLOSED_FORMS[regs.mode](samp, regs)[2]
                    psum = psum + sign * (units << first)
                    if d.psum_bits < 64:
                        ovf += int(((psum >= lim) | (psum < -lim)).sum())
                        psum = (psum + lim) % (2 * lim) - lim
                y += sign_q * (psum << (s * rc))
    step = regs.step
    y = y * int(step) if float(step).is_integer() else y * step
    return y - off * x.sum(axis=1, keepdims=True), hist, ovf


@st.composite
def layer_case(draw):
    rows = draw(st.sampled_from([2, 5, 16, 64, 100, 128, 130]))
    rc = draw(st.sampled_from([1, 2, 4]))
    rda = draw(st.sampled_from([1, 2]))
    signed = draw(st.booleans())
    ki = draw(st.integers(2 if signed else 1, 6))
    kw = draw(st.integers(2, 7))
    arch = isaacsim.load_arch("trq", overrides={
        "crossbar.rows": rows, "crossbar.cols": draw(st.sampled_from([3, 16, 128])),
        "crossbar.cell_bits": rc, "crossbar.dac_bits": rda, "datapath.input_bits": ki,
        "datapath.input_signed": signed, "datapath.weight_bits": kw,
        "datapath.weight_encoding": draw(st.sampled_from(["differential", "offset"])),
        "datapath.psum_bits": draw(st.sampled_from([4, 8, 12, 32, 64])),
        "adc.mode": "ideal", "adc.resolution": 16,
    })
    r = draw(st.integers(3, 12))
    mode = draw(st.sampled_from(["ideal", "uniform", "trq"]))
    if mode == "ideal":
        regs = {"mode": "ideal", "resolution": r}
    elif mode == "uniform":
        regs = {"mode": "uniform", "resolution": r, "bits": draw(st.integers(1, r)),
                "delta": draw(st.sampled_from([1, 2, 3, 0.5, 4]))}
    else:
        n2 = draw(st.integers(1, r))
        regs = {"mode": "trq", "resolution": r, "n_r1": draw(st.integers(0, r)), "n_r2": n2,
                "m": draw(st.integers(0, r - n2)), "delta_r1": draw(st.sampled_from([1, 2, 0.5])),
                "bias": draw(st.integers(0, 2))}
    n = draw(st.integers(1, 5))
    k = draw(st.integers(1, 2 * rows + 3))
    m = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lo, hi = (-(2 ** (ki - 1)), 2 ** (ki - 1) - 1) if signed else (0, 2**ki - 1)
    x = rng.integers(lo, hi + 1, (n, k))
    lim = 2 ** (kw - 1) - 1
    w = rng.integers(-lim, lim + 1, (k, m))
    if draw(st.booleans()):  # edge values
        x[0] = hi
        w[:, 0] = lim
    return arch, ADCRegisters.of(regs), x, w


@settings(max_examples=60, deadline=None)
@given(case=layer_case())
def test_fused_kernel_matches_reference(case):
    arch, regs, x, w = case
    y, stats = isaacsim.mvm(x, w, arch, adc=regs)
    y_ref, hist_ref, ovf_ref = reference_layer(x, w, arch, regs)
    np.testing.assert_array_equal(y, y_ref)
    assert y.dtype == y_ref.dtype
    np.testing.assert_array_equal(stats["sample_hist"], hist_ref)
    assert stats["overflows"] == ovf_ref
    geo = MatrixGeometry.of(*w.shape, arch)
    assert stats["conversions"] == geo.conversions(x.shape[0]) == hist_ref.sum()


@pytest.mark.parametrize("rows", [4, 64, 128, 200])
@pytest.mark.parametrize("psum_bits", [5, 64])
def test_fast_and_generic_paths_agree(rows, psum_bits):
    """1-bit DAC and cells use the kernel's one-pass path for <= 128 rows; compare with the reference."""
    arch = isaacsim.load_arch("trq", overrides={"crossbar.rows": rows, "datapath.psum_bits": psum_bits})
    rng = np.random.default_rng(rows)
    x = rng.integers(0, 256, (7, 2 * rows + 1))
    w = rng.integers(-127, 128, (2 * rows + 1, 9))
    regs = ADCRegisters.of(arch.adc)
    y, stats = isaacsim.mvm(x, w, arch)
    y_ref, hist_ref, ovf_ref = reference_layer(x, w, arch, regs)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(stats["sample_hist"], hist_ref)
    assert stats["overflows"] == ovf_ref and (ovf_ref > 0) == (psum_bits == 5)


def test_kernel_threads_do_not_change_results():
    arch = isaacsim.load_arch("trq", overrides={"datapath.psum_bits": 9})
    geo = MatrixGeometry.of(300, 5, arch)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (9, 300))
    w = rng.integers(-127, 128, (300, 5))
    xw, sh, sg = slicing.pack_inputs(x, geo)
    ww = slicing.pack_weights(w, geo)
    _, msb, lut, ops = sar_table(geo.max_sample, *ADCRegisters.of(arch.adc).kernel_args())
    acc = np.arange(9) % 2
    runs = [fused_layer(xw, ww, lut, ops, msb, acc, 2, sh, sg, 1, geo.n_slices, 2, 9, t) for t in (1, 2, 4, 9, 20)]
    for r in runs[1:]:
        for a, b in zip(r, runs[0], strict=True):
            np.testing.assert_array_equal(a, b)


def test_packed_inputs_unpack_to_the_chunks():
    arch = isaacsim.load_arch("trq", overrides={"crossbar.rows": 70, "crossbar.dac_bits": 2,
                                                "datapath.input_signed": True})
    geo = MatrixGeometry.of(150, 1, arch)
    x = np.random.default_rng(0).integers(-128, 128, (3, 150))
    packed, shift, sign = slicing.pack_inputs(x, geo)
    bits = np.unpackbits(packed.view(np.uint8), axis=-1, bitorder="little")  # (N, C, P, A, W*64)
    rows = bits.reshape(*bits.shape[:4], -1)[..., :70]
    planes = rows.transpose(0, 1, 3, 2, 4).reshape(3, geo.input_cycles, 2, -1)[..., :150]
    chunks = planes[:, :, 0] + 2 * planes[:, :, 1].astype(np.int64)
    assert sign.tolist() == [1, 1, 1, 1, -1] and shift.tolist() == [0, 2, 4, 6, 7]
    np.testing.assert_array_equal((sign[None, :, None] * (chunks << shift[None, :, None])).sum(1), x)


@pytest.mark.filterwarnings("ignore::isaacsim.ConfigWarning")  # lossy ADC is irrelevant here
@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(1, 300), m=st.integers(1, 9), rows=st.sampled_from([3, 64, 70, 128, 200]),
    cell_bits=st.sampled_from([1, 2, 3, 4]), wbits=st.sampled_from([2, 4, 8, 9]),
    encoding=st.sampled_from(["differential", "offset"]), seed=st.integers(0, 2**16),
)
def test_numba_weight_packing_matches_numpy_reference(k, m, rows, cell_bits, wbits, encoding, seed):
    """slicing.pack_weights (numba) == pack_weights_reference (cell_values + np.packbits)."""
    arch = isaacsim.load_arch("trq", overrides={
        "crossbar.rows": rows, "crossbar.cell_bits": cell_bits, "datapath.weight_bits": wbits,
        "datapath.weight_encoding": encoding})
    geo = MatrixGeometry.of(k, m, arch)
    hi = 2 ** (wbits - 1) - 1
    w = np.random.default_rng(seed).integers(-hi, hi + 1, (k, m))
    w[:, 0] = hi  # a full-scale column and a zero column when there is room
    if m > 1:
        w[:, -1] = 0
    got = slicing.pack_weights(w, geo)
    ref = slicing.pack_weights_reference(w, geo)
    assert got.dtype == ref.dtype == np.uint64
    np.testing.assert_array_equal(got, ref)
