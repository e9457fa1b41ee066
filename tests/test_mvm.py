"""isaacsim.mvm: the lossless identity y == x @ w (the first golden test), Eq. 3, stats, errors."""

import numpy as np
import pytest

import isaacsim
from isaacsim.mapping.geometry import MatrixGeometry


def small_arch(rc, rda, encoding, signed, **extra):
    over = {
        "crossbar.rows": 16, "crossbar.cols": 8, "crossbar.cell_bits": rc, "crossbar.dac_bits": rda,
        "datapath.weight_encoding": encoding, "datapath.input_signed": signed,
        "datapath.input_bits": 6, "datapath.weight_bits": 5, "datapath.psum_bits": 32,
        "adc.mode": "ideal", "adc.resolution": 16, **extra,
    }
    arch = isaacsim.load_arch("trq", overrides=over)
    return isaacsim.load_arch("trq", overrides={**over, "adc.resolution": arch.lossless_bits})


def operands(arch, n, k, m, seed=0):
    rng = np.random.default_rng(seed)
    d = arch.datapath
    lo, hi = (-(2 ** (d.input_bits - 1)), 2 ** (d.input_bits - 1)) if d.input_signed else (0, 2**d.input_bits)
    lim = 2 ** (d.weight_bits - 1) - 1
    return rng.integers(lo, hi, (n, k)), rng.integers(-lim, lim + 1, (k, m))


@pytest.mark.parametrize("rc", [1, 2, 4])
@pytest.mark.parametrize("rda", [1, 2])
@pytest.mark.parametrize("encoding", ["differential", "offset"])
@pytest.mark.parametrize("signed", [False, True])
def test_lossless_adc_gives_exact_product(rc, rda, encoding, signed):
    arch = small_arch(rc, rda, encoding, signed)
    for n, k, m, seed in [(3, 37, 5, 0), (1, 1, 1, 1), (4, 16, 9, 2)]:
        x, w = operands(arch, n, k, m, seed)
        y, stats = isaacsim.mvm(x, w, arch)
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, x @ w)
        geo = MatrixGeometry.of(k, m, arch)
        assert stats["conversions"] == geo.conversions(n)  # the TRQ paper's Eq. 3
        assert stats["overflows"] == 0
        assert stats["ad_ops"] == stats["conversions"] * arch.adc.resolution


def test_extreme_operands_are_exact():
    arch = small_arch(2, 2, "differential", True)
    x = np.full((2, 40), -32)
    x[1] = 31
    w = np.full((40, 3), 15)
    w[:, 1] = -15
    y, _ = isaacsim.mvm(x, w, arch)
    np.testing.assert_array_equal(y, x @ w)


def test_trq_preset_layer_stats():
    arch = isaacsim.load_arch("trq")
    x, w = operands(arch, 6, 300, 20, seed=4)
    y, s = isaacsim.mvm(x, w, arch)
    geo = MatrixGeometry.of(300, 20, arch)
    assert s["conversions"] == geo.conversions(6) == s["sample_hist"].sum() == s["ops_hist"].sum()
    assert s["r1_conversions"] + s["r2_conversions"] == s["conversions"]
    assert s["ad_ops"] == (s["ops_hist"] * np.arange(len(s["ops_hist"]))).sum()
    assert len(s["ops_hist"]) == arch.adc.resolution + 3
    assert len(s["sample_hist"]) == geo.max_sample + 1
    assert s["ops_per_conversion"] == pytest.approx(s["ad_ops"] / s["conversions"])
    assert s["crossbars"] == geo.crossbars and s["input_cycles"] == 8


def test_trq_eq11_is_lossless_for_small_samples():
    """With at most 15 rows active every sample is below 2^n_r1 = 16: TRQ is exact at 1 + n_r1 ops."""
    arch = isaacsim.load_arch("trq")
    x, w = operands(arch, 5, 15, 7, seed=5)
    y, s = isaacsim.mvm(x, w, arch)
    np.testing.assert_array_equal(y, x @ w)
    assert s["ops_per_conversion"] == 5 and s["r2_conversions"] == 0


def test_adc_override_and_float_step():
    arch = isaacsim.load_arch("trq")
    x, w = operands(arch, 2, 200, 3, seed=6)
    y_ideal, s = isaacsim.mvm(x, w, arch, adc={"mode": "ideal", "resolution": 8})
    np.testing.assert_array_equal(y_ideal, x @ w)
    assert s["r1_conversions"] == 0 and s["adc"] == {"mode": "ideal", "resolution": 8}
    y, _ = isaacsim.mvm(x, w, arch, adc={"mode": "uniform", "resolution": 8, "bits": 7, "delta": 1.5})
    assert y.dtype == np.float64
    y4, s4 = isaacsim.mvm(x, w, arch, adc={"mode": "uniform", "resolution": 8, "bits": 4})
    assert s4["ad_ops"] == 4 * s4["conversions"] and not np.array_equal(y4, x @ w)


def test_overflow_is_counted_and_wraps():
    arch = isaacsim.load_arch("trq", overrides={"datapath.psum_bits": 8, "adc.mode": "ideal"})
    x = np.full((1, 128), 255)
    w = np.ones((128, 1), np.int64)
    y, s = isaacsim.mvm(x, w, arch)
    assert s["overflows"] > 0
    assert y[0, 0] != 255 * 128


@pytest.mark.parametrize("x, w, msg", [
    (np.array([[256]]), np.array([[1]]), "unsigned 8-bit inputs"),
    (np.array([[-1]]), np.array([[1]]), "unsigned 8-bit inputs"),
    (np.array([[1]]), np.array([[-128]]), "8-bit signed symmetric weights"),
    (np.array([[1.0]]), np.array([[1]]), "integer array"),
    (np.array([[1, 2]]), np.array([[1]]), "inner sizes differ"),
    (np.array([1, 2]), np.array([[1], [2]]), "2-D"),
])
def test_operand_errors(x, w, msg):
    with pytest.raises(ValueError, match=msg):
        isaacsim.mvm(x, w, isaacsim.load_arch("trq"))


# ---------------------------------------------------------------- ISAAC's column flip


def flip_reference(w, geo):
    """Cell levels (K, mapped_cols) after ISAAC's column flip, and the flipped (row part, column)
    pairs, straight from `cell_values`: a column's cells in a row partition summing to more than
    half of rows x the largest level are complemented."""
    from isaacsim.mapping.slicing import cell_values

    cells = cell_values(w, geo).copy()
    top = 2**geo.cell_bits - 1
    flipped = np.zeros((geo.row_parts, geo.mapped_cols), bool)
    for p in range(geo.row_parts):
        rows = slice(p * geo.xbar_rows, min((p + 1) * geo.xbar_rows, geo.k))
        n = rows.stop - rows.start
        for col in range(geo.mapped_cols):
            if 2 * cells[rows, col].sum() > n * top:
                flipped[p, col] = True
                cells[rows, col] = top - cells[rows, col]
    return cells, flipped


def pack_cells(cells, geo):
    """Cell levels (K, cols) -> planes (row_parts, cell_bits, words, cols), as `pack_weights_reference`."""
    from isaacsim.mapping.slicing import _pack_rows

    planes = np.stack([((cells >> b) & 1).T for b in range(geo.cell_bits)])
    return np.ascontiguousarray(_pack_rows(planes.astype(np.uint8), geo).transpose(2, 0, 3, 1))


@pytest.mark.parametrize("rc", [1, 2])
@pytest.mark.parametrize("rda", [1, 2])
@pytest.mark.parametrize("encoding", ["differential", "offset"])
@pytest.mark.parametrize("signed", [False, True])
def test_column_flip_is_exact_and_halves_the_largest_sample(rc, rda, encoding, signed):
    """With the flip, a lossless ADC (one bit fewer) still gives x @ w exactly; the planes equal
    the cell-level reference; no sample exceeds max DAC level x floor(rows x max cell / 2)."""
    from isaacsim.mapping.slicing import flip_columns, pack_weights

    arch = small_arch(rc, rda, encoding, signed, **{"datapath.column_flip": True})
    plain = small_arch(rc, rda, encoding, signed)
    assert arch.max_sample == (2**rda - 1) * (16 * (2**rc - 1) // 2) and arch.lossless_bits <= plain.lossless_bits
    for n, k, m, seed in [(3, 37, 5, 0), (4, 16, 9, 2), (2, 40, 3, 5)]:
        x, w = operands(arch, n, k, m, seed)
        w[:, 0] = w.max() if encoding == "offset" else 2 ** (arch.datapath.weight_bits - 1) - 1  # heavy column
        y, stats = isaacsim.mvm(x, w, arch)
        np.testing.assert_array_equal(y, x @ w)
        assert len(stats["sample_hist"]) == arch.max_sample + 1
        geo = MatrixGeometry.of(k, m, arch)
        planes, flipped = flip_columns(pack_weights(w, geo), geo)
        cells, want = flip_reference(w, geo)
        assert want.any()
        np.testing.assert_array_equal(flipped, want)
        np.testing.assert_array_equal(planes, pack_cells(cells, geo))


def test_isaac_preset_is_lossless_with_its_flip_and_clips_without():
    """ISAAC's 8-bit ADC: exact with the column flip; heavy columns overflow 255 without it."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        over = {"datapath.input_bits": 8, "datapath.weight_bits": 8, "datapath.psum_bits": 32}
        isaac = isaacsim.load_arch("isaac", overrides=over)
        no_flip = isaacsim.load_arch("isaac", overrides={**over, "datapath.column_flip": False})
    rng = np.random.default_rng(3)
    x = np.full((2, 256), 255)
    w = rng.integers(100, 128, (256, 4))  # offset cells near the top: every column over half
    y, _ = isaacsim.mvm(x, w, isaac)
    np.testing.assert_array_equal(y, x @ w)
    y2, stats = isaacsim.mvm(x, w, no_flip)
    assert not np.array_equal(y2, x @ w) and stats["sample_hist"][256:].sum() > 0
