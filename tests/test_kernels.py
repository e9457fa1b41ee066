"""Fused layer kernel vs a slow bit-plane reference (numpy matmuls + closed-form ADC), and helpers."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import isaacsim
from isaacsim.adc import ADCRegisters
from isaacsim.kernels import fused_layer, popcount64, sar_table
from isaacsim.mapping import slicing
from isaacsim.mapping.geometry import MatrixGeometry
from tests.support.datapath import layer_case, reference_layer


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
