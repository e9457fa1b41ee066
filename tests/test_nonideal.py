"""The non-ideal datapath (docs/nonideal.md): a plain numpy reference held to the kernel, the
statistics of each noise source, the seed, and the ideal defaults taking the exact path."""

from __future__ import annotations

import json

import numpy as np
import pytest

import isaacsim
from isaacsim.adc.registers import ADCRegisters
from isaacsim.functional import mvm as mvm_mod
from isaacsim.functional.mvm import PackedWeights, mvm
from isaacsim.functional.nonideal import CopyMaps, Noise, conductances, levels
from isaacsim.kernels import noisy as noisy_mod
from isaacsim.kernels.noisy import NORMAL_TABLE, noisy_layer, normal_of, real_convert, search_convert
from isaacsim.kernels.sar import TRQ, UNIFORM, sar_convert
from isaacsim.mapping import slicing

ALL_ON = {"program_sigma": 0.05, "read_sigma": 0.04, "stuck_at_gmin": 0.01, "stuck_at_gmax": 0.01,
          "on_off_ratio": 50.0, "offset_lsb": 0.3, "noise_lsb": 0.5}
SMALL = {"crossbar.rows": 64, "crossbar.cols": 32}


def _arch(preset="trq", **over):
    return isaacsim.load_arch(preset, {**SMALL, **over})


def _dac_levels(xw):
    """int64 (N, cycles, row_parts, words * 64): each row's DAC level from packed input planes."""
    bits = (xw[..., None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)  # (N, C, P, A, W, 64)
    n, c, p, a, w, _ = bits.shape
    bits = bits.reshape(n, c, p, a, w * 64).astype(np.int64)
    return sum(bits[:, :, :, i] << i for i in range(a))


def _sum_rows(gp, rows, lev):
    """The kernel's float32 sum of lev x gp[rows], four rows at a time, in its order."""
    acc = np.zeros(gp.shape[1], np.float32)
    k = len(rows)
    f = [np.float32(v) for v in lev]
    i = 0
    while i + 4 <= k:
        acc = acc + ((f[i] * gp[rows[i]] + f[i + 1] * gp[rows[i + 1]])
                     + (f[i + 2] * gp[rows[i + 2]] + f[i + 3] * gp[rows[i + 3]]))
        i += 4
    for j in range(i, k):
        acc = acc + f[j] * gp[rows[j]]
    return acc


def reference(x, w, arch, noise, vector_copy=None, **bits):
    """The noisy datapath written out plainly: (y, hist, r2 per (copy, row partition, column),
    overflows). Vector n runs on copy vector_copy[n] (default 0) and reads that copy's map."""
    pw = PackedWeights.of(w, arch, **bits)
    geo = pw.geometry
    regs = ADCRegisters.of(arch.adc)
    args = regs.kernel_args()
    x = np.asarray(x, np.int64)
    vector_copy = np.zeros(len(x), np.int64) if vector_copy is None else np.asarray(vector_copy)
    copies = int(vector_copy.max()) + 1
    g = [conductances(pw.planes, geo.cell_bits, noise, copy=c) for c in range(copies)]
    xw, shift, sign = slicing.pack_inputs(x, geo)
    lev = _dac_levels(xw)
    n_vec, n_cyc, n_parts = xw.shape[:3]
    n_cols = g[0].shape[2]
    g_min = noise.g_min(geo.cell_bits)
    key = noise.read_key()
    wrap = 1 << (arch.datapath.psum_bits - 1)
    col_sign = np.ones((n_parts, n_cols), np.int64) if pw.flipped is None else np.where(pw.flipped, -1, 1)
    out = np.zeros((n_vec, geo.m), np.int64)
    hist = np.zeros(geo.max_sample + 1, np.int64)
    r2 = np.zeros((copies, n_parts, n_cols), np.int64)
    ovf = 0
    for n in range(n_vec):
        cp = vector_copy[n]
        for p in range(n_parts):
            psum = np.zeros(n_cols, np.int64)
            for c in range(n_cyc):
                rows = np.flatnonzero(lev[n, c, p])
                v = lev[n, c, p, rows]
                xs = _sum_rows(g[cp][p], rows, v).astype(np.float64) + (g_min * int(v.sum()) + noise.offset_lsb)
                sd = np.sqrt(noise.read_sigma ** 2 * int((v * v).sum()) + noise.noise_lsb ** 2)
                if sd > 0:
                    ctr = (((noise.first_vector + n) * n_cyc + c) * n_parts + p) * n_cols + np.arange(n_cols)
                    xs = xs + sd * normal_of(key, ctr)
                hist += np.bincount(np.clip(np.floor(xs + 0.5).astype(np.int64), 0, geo.max_sample),
                                    minlength=hist.size)
                for col in range(n_cols):
                    msb, units, _ = search_convert(xs[col], *args, noise.thresholds == "grid")
                    r2[cp, p, col] += msb
                    val = psum[col] + (int(units) << int(shift[c])) * int(sign[c])
                    wrapped = (val + wrap) % (2 * wrap) - wrap
                    ovf += wrapped != val
                    psum[col] = wrapped
            for q in range(geo.polarities):
                for j in range(geo.m):
                    cols = q * geo.cols_per_polarity + j * geo.n_slices + np.arange(geo.n_slices)
                    s = int(sum((int(psum[cc]) * int(col_sign[p, cc])) << (i * geo.cell_bits)
                                for i, cc in enumerate(cols)))
                    out[n, j] += s if q == 0 else -s
    y = out * regs.step
    if pw.flipped is not None:
        y = y + slicing.flip_correction(x, pw.flipped, geo)
    if geo.encoding == "offset":
        y = y - slicing.offset_correction(x, geo)
    return y, hist, r2, ovf


CASES = {
    "trq": ("trq", {}, {}),
    "isaac uniform, column flip": ("isaac", {"datapath.column_flip": True}, {}),
    "ideal adc, 2-bit dacs": ("trq", {"adc.mode": "ideal", "adc.resolution": 9, "crossbar.dac_bits": 2}, {}),
    "offset weights, signed inputs": ("trq", {"datapath.weight_encoding": "offset", "datapath.input_signed": True},
                                      {"input_signed": True}),
    "uniform, non-dyadic step": ("isaac", {"adc.mode": "uniform", "adc.bits": 5, "adc.delta": 3.3}, {}),
    "uniform, non-dyadic step, nominal thresholds": ("isaac", {"adc.mode": "uniform", "adc.bits": 5,
                                                               "adc.delta": 3.3, "adc.thresholds": "nominal"}, {}),
    "trq, nominal thresholds": ("trq", {"adc.thresholds": "nominal"}, {}),
    "trq with bias, narrow psum": ("trq", {"adc.bias": 1, "adc.n_r1": 3, "adc.m": 3, "adc.n_r2": 4,
                                           "datapath.psum_bits": 12}, {}),
}


@pytest.mark.filterwarnings("ignore::isaacsim.errors.ConfigWarning")
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_matches_numpy_reference(case):
    preset, over, bits = CASES[case]
    arch = _arch(preset, **over)
    rng = np.random.default_rng(7)
    signed = bits.get("input_signed", False)
    x = rng.integers(-128 if signed else 0, 128 if signed else 256, (3, 150))
    w = rng.integers(-127, 128, (150, 5))
    noise = Noise(**ALL_ON, thresholds=arch.adc.thresholds, seed=11).for_layer("conv1", 0, first_vector=40)
    y, st = mvm(x, w, arch, weight_bits=8, input_bits=8, noise=noise, **bits)
    y_ref, hist, r2, ovf = reference(x, w, arch, noise, weight_bits=8, input_bits=8, **bits)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(st["sample_hist"], hist)
    assert st["r2_conversions"] == int(r2.sum())
    assert st["overflows"] == ovf
    assert st["crossbar_ad_ops"].sum() == st["ad_ops"]
    assert st["ops_hist"].sum() == st["conversions"] == hist.sum()


@pytest.mark.filterwarnings("ignore::isaacsim.errors.ConfigWarning")
@pytest.mark.parametrize("case", ["trq", "isaac uniform, column flip", "trq with bias, narrow psum"])
@pytest.mark.parametrize("one_map_a_pass", [False, True])
def test_each_copy_reads_its_own_map(case, one_map_a_pass, monkeypatch):
    """Several copies, one of them idle (copy 1): the kernel matches the reference, whose vector n
    reads copy vector_copy[n]'s map, in the outputs and in the counts of each copy, whether it
    holds every copy's map at once or draws one map a pass (MAP_BYTES of 1 byte)."""
    if one_map_a_pass:
        monkeypatch.setattr(noisy_mod, "MAP_BYTES", 1)
    preset, over, bits = CASES[case]
    arch = _arch(preset, **over)
    rng = np.random.default_rng(8)
    x, w = rng.integers(0, 256, (6, 150)), rng.integers(-127, 128, (150, 5))
    vc = np.array([2, 0, 3, 2, 0, 3])
    noise = Noise(**ALL_ON, seed=11).for_layer("conv1", 0, first_vector=40)
    y, st = mvm(x, w, arch, weight_bits=8, input_bits=8, noise=noise, vector_copy=vc, trace=True)
    y_ref, hist, r2, ovf = reference(x, w, arch, noise, vc, weight_bits=8, input_bits=8)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(st["sample_hist"], hist)
    assert st["overflows"] == ovf
    geo = PackedWeights.of(w, arch, weight_bits=8, input_bits=8).geometry
    np.testing.assert_array_equal(st["crossbar_r2"], mvm_mod._per_crossbar(r2, geo))
    assert st["ad_ops_trace"].sum() == st["crossbar_ad_ops"].sum() == st["ad_ops"]
    assert st["crossbar_ad_ops"][1].sum() == 0


@pytest.mark.filterwarnings("ignore::isaacsim.errors.ConfigWarning")
def test_trace_follows_the_noisy_decisions():
    arch = _arch("trq")
    rng = np.random.default_rng(3)
    x, w = rng.integers(0, 256, (4, 150)), rng.integers(-127, 128, (150, 6))
    noise = Noise(**ALL_ON, seed=2)
    y0, s0 = mvm(x, w, arch, weight_bits=8, input_bits=8, noise=noise)
    y1, s1 = mvm(x, w, arch, weight_bits=8, input_bits=8, noise=noise, trace=True)
    np.testing.assert_array_equal(y0, y1)
    assert s1["ad_ops_trace"].sum() == s1["ad_ops"] == s0["ad_ops"]


def test_ideal_defaults_take_the_exact_path(monkeypatch):
    arch = _arch("trq")
    noise = Noise.of(arch, seed=5)
    assert noise.ideal
    rng = np.random.default_rng(1)
    x, w = rng.integers(0, 256, (6, 150)), rng.integers(-127, 128, (150, 9))
    y0, s0 = mvm(x, w, arch, weight_bits=8, input_bits=8)

    def boom(*a, **k):
        raise AssertionError("the noisy kernel ran")

    monkeypatch.setattr(mvm_mod, "noisy_layer", boom)
    y1, s1 = mvm(x, w, arch, weight_bits=8, input_bits=8, noise=noise, trace=True)
    np.testing.assert_array_equal(y0, y1)
    for k, v in s0.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(v, s1[k])
        else:
            assert v == s1[k], k


@pytest.mark.filterwarnings("ignore::isaacsim.errors.ConfigWarning")
@pytest.mark.parametrize("regs", [None, "lossy"])
def test_near_ideal_noisy_path_equals_the_exact_one(regs):
    """With grid thresholds, the noisy kernel under any offset within half an LSB either way decides
    as the exact path on every sample; with nominal thresholds, under a negligible positive offset
    (the exact path rounds ties up)."""
    rng = np.random.default_rng(2)
    x, w = rng.integers(0, 256, (5, 150)), rng.integers(-127, 128, (150, 7))
    regs = LOSSY_TRQ if regs else None
    for preset in ("trq", "isaac"):
        arch = _arch(preset)
        y0, s0 = mvm(x, w, arch, regs, weight_bits=8, input_bits=8, trace=True)
        for thresholds, offsets in (("grid", (1e-9, -1e-9, 0.49, -0.49)), ("nominal", (1e-9,))):
            for offset in offsets:
                noise = Noise(offset_lsb=offset, thresholds=thresholds)
                y1, s1 = mvm(x, w, arch, regs, weight_bits=8, input_bits=8, trace=True, noise=noise)
                np.testing.assert_array_equal(y0, y1)
                for k in ("sample_hist", "ops_hist", "crossbar_ad_ops", "crossbar_r2", "ad_ops_trace"):
                    np.testing.assert_array_equal(s0[k], s1[k])


LOSSY_TRQ = {"mode": "trq", "n_r1": 1, "n_r2": 6, "m": 2, "delta_r1": 1}
"""Registers like a calibration's: R1 = [0, 2), R2's step 4, so R2's nominal thresholds 2, 6, 10, ...
fall on integers (one of them on R1's edge)."""

REGISTER_SETS = [(TRQ, 0, 1.0, 1), (TRQ, 0, 1.0, 3), (TRQ, 1, 1.0, 3), (TRQ, 0, 2.0, 2), (TRQ, 2, 2.0, 1),
                 (TRQ, 1, 1.37, 2), (UNIFORM, 0, 4.0, 0), (UNIFORM, 0, 3.3, 0), (UNIFORM, 0, 1.0, 0)]
"""(mode, bias, step, m) of `sar_convert`'s registers at R = 8 (n_r1 = 2, n_r2 = 8 - m; uniform: 5 bits)."""


def _conv_args(mode, bias, step, m):
    return (mode, 8, 2, 8 - m if mode == TRQ else 5, m, bias, step)


@pytest.mark.parametrize("regs", REGISTER_SETS)
def test_grid_thresholds_decide_as_the_nearest_integer(regs):
    """Grid thresholds: a real sample within half an LSB of an integer decides exactly as the exact
    path decides that integer, at every sample, range edges and rounding ties included; the
    rounding form (`real_convert`) and the moved-threshold search (`search_convert`) agree."""
    args = _conv_args(*regs)
    for xi in range(2**8 - 1):
        _, want_msb, want_units, want_ops = sar_convert(xi, *args)
        for dx in (-0.5, -0.49, -1e-7, 0.0, 1e-7, 0.49):
            for conv in (real_convert, search_convert):
                got = tuple(int(v) for v in conv(xi + dx, *args, True))
                assert got == (want_msb, want_units, want_ops), (conv.__name__, xi, dx)


@pytest.mark.parametrize("regs", REGISTER_SETS)
def test_nominal_thresholds_sit_at_k_minus_half_d(regs):
    """Nominal thresholds: `real_convert` agrees with the comparison-by-comparison search on random
    real samples, integers just above themselves decide as the exact path, and a tie at an integer
    (a nominal threshold t = (k - 1/2) D that is whole) splits: just below t decides one level lower."""
    args = _conv_args(*regs)
    rng = np.random.default_rng(5)
    for x in np.concatenate([rng.uniform(-2, 258, 3000), np.arange(256) + 1e-7]):
        assert tuple(real_convert(x, *args)) == tuple(search_convert(x, *args)), x
    for xi in range(2**8 - 1):
        assert tuple(real_convert(xi + 1e-7, *args)) == tuple(sar_convert(xi, *args)[1:]), xi
    mode, bias, step, m = regs
    d = step * 2**m if mode == TRQ else step
    ties = [t for t in (d * (k - 0.5) for k in range(1, 6)) if t == int(t) and t >= 1 and t < 255
            and sar_convert(int(t), *args)[1] == (mode == TRQ)]
    for t in ties:
        assert real_convert(t - 1e-7, *args)[1] < sar_convert(int(t), *args)[2]


def _samples(g, n_vec, noise: Noise, rows=128, copies=1):
    """Real bit-line samples (to 1/256 LSB) of n_vec vectors driving every row, one cycle, through the
    kernel with a fine uniform ADC, vector n on copy n % copies: (n_vec, columns) float."""
    words = -(-rows // 64)
    xw = np.zeros((n_vec, 1, 1, 1, words), np.uint64)
    for wd in range(words):
        k = min(64, rows - 64 * wd)
        xw[..., wd] = np.uint64((1 << k) - 1) if k < 64 else np.uint64(2**64 - 1)
    args = (*noise.kernel_args(1)[:6], False)  # nominal thresholds: the fine ADC reads the analog sample
    out = noisy_layer(xw, g, (UNIFORM, 16, 0, 16, 0, 0, 1 / 256), args, np.arange(n_vec) % copies, copies,
                      np.zeros(1, np.int64), np.ones(1, np.int64), 1, 1, 1, 64, 1 << 12, 2)[0]
    return out / 256


def _unit_cells(n_cols=256, rows=128):
    return np.ones((1, 128, n_cols), np.float32) * (np.arange(128) < rows)[None, :, None]


def test_read_noise_mean_variance_and_independence():
    noise = Noise(read_sigma=0.1, seed=4)
    s = _samples(_unit_cells(), 64, noise)
    assert abs(s.mean() - 128) < 4 * 0.1 * np.sqrt(128) / np.sqrt(s.size)
    assert s.var() == pytest.approx(0.01 * 128, rel=0.05)
    assert abs(np.corrcoef(s[0], s[1])[0, 1]) < 0.2  # another read: another draw
    assert abs(np.corrcoef(s[:, 0], s[:, 1])[0, 1]) < 0.4
    again = _samples(_unit_cells(), 64, Noise(read_sigma=0.1, seed=4, first_vector=64))
    assert not np.array_equal(again, s)  # the next batch reads anew


def test_comparator_offset_and_noise():
    s = _samples(_unit_cells(), 64, Noise(offset_lsb=0.7, noise_lsb=0.4, seed=1))
    assert abs(s.mean() - 128.7) < 4 * 0.4 / np.sqrt(s.size)
    assert s.var() == pytest.approx(0.16, rel=0.05)
    s = _samples(_unit_cells(), 4, Noise(offset_lsb=-0.25))
    np.testing.assert_allclose(s, 127.75)


def test_read_and_comparator_noise_add_in_variance():
    s = _samples(_unit_cells(), 64, Noise(read_sigma=0.05, noise_lsb=0.5, seed=9))
    assert s.var() == pytest.approx(0.05**2 * 128 + 0.25, rel=0.05)


def test_on_off_ratio_adds_g_min_per_driven_row():
    for rows in (128, 40):
        s = _samples(_unit_cells(rows=rows), 2, Noise(on_off_ratio=11.0), rows=rows)
        np.testing.assert_allclose(s, rows + rows * (1 / 10), atol=1 / 512)


def _planes(level_bits, cell_bits=2, rows=128, cols=512, seed=0):
    """Packed planes (1, cell_bits, words, cols) of random levels, and the levels."""
    lv = np.random.default_rng(seed).integers(0, 2**cell_bits, (rows, cols))
    planes = np.zeros((1, cell_bits, rows // 64, cols), np.uint64)
    for b in range(cell_bits):
        bits = ((lv >> b) & 1).astype(np.uint64)
        for r in range(rows):
            planes[0, b, r // 64] |= bits[r] << np.uint64(r % 64)
    return planes, lv


def test_levels_unpack_the_planes():
    planes, lv = _planes(2)
    np.testing.assert_array_equal(levels(planes)[0], lv)


def test_programming_variation_statistics_and_fixed_map():
    planes, lv = _planes(2)
    noise = Noise(program_sigma=0.08, seed=3, layer=17)
    g = conductances(planes, 2, noise)[0].astype(np.float64)
    for level in (1, 2, 3):
        rel = g[lv == level] / level - 1
        assert abs(rel.mean()) < 4 * 0.08 / np.sqrt(rel.size)
        assert rel.std() == pytest.approx(0.08, rel=0.05)
    assert (g[lv == 0] == 0).all()
    np.testing.assert_array_equal(conductances(planes, 2, noise), conductances(planes, 2, noise))
    assert not np.array_equal(conductances(planes, 2, Noise(program_sigma=0.08, seed=4, layer=17)), g[None])
    assert not np.array_equal(conductances(planes, 2, Noise(program_sigma=0.08, seed=3, layer=18)), g[None])
    # fixed across reads and vectors: without read noise every vector sees the same column sums
    s = _samples(conductances(planes, 2, noise), 8, noise)
    assert (s == s[0]).all()
    assert s[0].std() > 0.1
    s2 = _samples(conductances(planes, 2, noise), 8, Noise(program_sigma=0.08, seed=3, layer=17, first_vector=99))
    np.testing.assert_array_equal(s, s2)


def test_stuck_at_fractions():
    """The fractions hold on every copy, each copy's faults on its own cells: two copies share a
    stuck cell about as often as independent draws do (0.05^2 of the cells)."""
    planes, lv = _planes(2, rows=128, cols=2048)
    noise = Noise(stuck_at_gmin=0.05, stuck_at_gmax=0.02, seed=8)
    maps = CopyMaps(planes, 2, noise).draw([0, 1, 2])[:, 0]
    lows = []
    for c, g in enumerate(maps):
        low = (g == 0) & (lv > 0)
        high = (g == 3) & (lv < 3)
        assert low.sum() / (lv > 0).sum() == pytest.approx(0.05, rel=0.1)
        assert high.sum() / (lv < 3).sum() == pytest.approx(0.02, rel=0.15)
        np.testing.assert_array_equal(g, conductances(planes, 2, noise, copy=c)[0])
        lows.append(low)
    assert (lows[0] & lows[1]).sum() / (lv > 0).sum() == pytest.approx(0.05**2, rel=0.3)
    assert (lows[1] & lows[2]).sum() / (lv > 0).sum() == pytest.approx(0.05**2, rel=0.3)


def test_map_draws_follow_the_documented_seeding():
    """Copy 0 draws from a generator seeded by (seed, layer, 0), as every map did before each copy had
    its own (so a layer of one copy runs as before), copy c > 0 from (seed, layer, 0, c): one normal
    deviate per cell, then one uniform per cell, whichever sources are on."""
    planes, lv = _planes(2, cols=64)
    for sigma, low, high in ((0.1, 0.05, 0.05), (0.1, 0, 0), (0, 0.05, 0), (0, 0, 0)):
        noise = Noise(program_sigma=sigma, stuck_at_gmin=low, stuck_at_gmax=high, read_sigma=0.1, seed=3, layer=17)
        for c, entropy in ((0, [3, 17, 0]), (1, [3, 17, 0, 1]), (5, [3, 17, 0, 5])):
            rng = np.random.default_rng(entropy)
            z = rng.standard_normal((1, 128, 64))
            u = rng.random((1, 128, 64))
            want = np.maximum(lv[None] * (1 + sigma * z), 0)
            want[u < low] = 0
            want[u >= 1 - high] = 3
            np.testing.assert_array_equal(conductances(planes, 2, noise, copy=c), want.astype(np.float32))
    with pytest.raises(ValueError, match="copy"):
        conductances(planes, 2, noise, copy=-1)


@pytest.mark.filterwarnings("ignore::isaacsim.errors.ConfigWarning")
def test_copies_share_the_stored_levels_without_programming_noise(monkeypatch):
    """Without programming variation or stuck cells every copy's map is the stored levels: the
    kernel draws one map for all copies, and which copy runs a vector changes nothing."""
    arch = _arch("trq")
    rng = np.random.default_rng(6)
    x, w = rng.integers(0, 256, (6, 150)), rng.integers(-127, 128, (150, 5))
    noise = Noise(read_sigma=0.04, noise_lsb=0.5, on_off_ratio=50.0, seed=2)
    drawn = []
    real = CopyMaps.draw
    monkeypatch.setattr(CopyMaps, "draw", lambda self, copies: drawn.append(len(copies)) or real(self, copies))
    y0, s0 = mvm(x, w, arch, weight_bits=8, input_bits=8, noise=noise)
    y1, s1 = mvm(x, w, arch, weight_bits=8, input_bits=8, noise=noise, vector_copy=[0, 1, 2, 3, 4, 5])
    assert drawn == [1, 1]
    np.testing.assert_array_equal(y0, y1)
    np.testing.assert_array_equal(s0["sample_hist"], s1["sample_hist"])
    np.testing.assert_array_equal(s0["crossbar_r2"][0], s1["crossbar_r2"].sum(axis=0))
    y_ref, *_ = reference(x, w, arch, noise, [0, 1, 2, 3, 4, 5], weight_bits=8, input_bits=8)
    np.testing.assert_array_equal(y1, y_ref)


@pytest.mark.filterwarnings("ignore::isaacsim.errors.ConfigWarning")
def test_copies_have_their_own_fixed_maps():
    """Two copies of one matrix are programmed apart (different maps, uncorrelated deviations);
    each keeps its map across calls, reads and batches, whichever other copies run."""
    planes, lv = _planes(2)
    noise = Noise(program_sigma=0.08, seed=3, layer=17)
    maps = [conductances(planes, 2, noise, copy=c) for c in range(3)]
    for c, g in enumerate(maps):
        np.testing.assert_array_equal(conductances(planes, 2, noise, copy=c), g)
        assert (g[0][lv == 2] / 2 - 1).std() == pytest.approx(0.08, rel=0.05)
    on = lv > 0
    dev = [g[0][on] / lv[on] - 1 for g in maps]
    assert not np.array_equal(maps[0], maps[1]) and not np.array_equal(maps[1], maps[2])
    assert abs(np.corrcoef(dev[0], dev[1])[0, 1]) < 0.02
    np.testing.assert_array_equal(CopyMaps(planes, 2, noise).draw([2, 0]), np.stack([maps[2], maps[0]]))
    # the kernel: without read noise, vector n on copy n % 2 sees its copy's column sums on every read
    s = _samples(CopyMaps(planes, 2, noise), 8, noise, copies=2)
    assert (s[0::2] == s[0]).all() and (s[1::2] == s[1]).all() and not np.array_equal(s[0], s[1])
    np.testing.assert_array_equal(s, _samples(np.stack(maps[:2]), 8, noise, copies=2))
    np.testing.assert_array_equal(s[0], _samples(maps[0], 1, noise)[0])
    # through mvm: one input vector on copies 0 and 1, then on copy 1 alone in a later batch
    arch = _arch("trq")
    rng = np.random.default_rng(4)
    x, w = np.repeat(rng.integers(0, 256, (1, 150)), 4, axis=0), rng.integers(-127, 128, (150, 9))
    nz = Noise(program_sigma=0.1, seed=3)
    y, _ = mvm(x, w, arch, weight_bits=8, input_bits=8, noise=nz.for_layer("fc", 0), vector_copy=[0, 1, 0, 1])
    np.testing.assert_array_equal(y[0], y[2])
    np.testing.assert_array_equal(y[1], y[3])
    assert not np.array_equal(y[0], y[1])
    later, _ = mvm(x[:2], w, arch, weight_bits=8, input_bits=8, noise=nz.for_layer("fc", 0, first_vector=50),
                   vector_copy=[1, 1])
    np.testing.assert_array_equal(later, y[[1, 3]])


def test_normal_table_and_hash():
    assert NORMAL_TABLE.mean() == pytest.approx(0, abs=1e-12)
    assert (NORMAL_TABLE**2).mean() == pytest.approx(1, rel=1e-12)
    z = normal_of(12345, np.arange(200_000))
    assert abs(z.mean()) < 0.02 and z.var() == pytest.approx(1, rel=0.02)
    assert not np.array_equal(z, normal_of(12346, np.arange(200_000)))


@pytest.mark.filterwarnings("ignore::isaacsim.errors.ConfigWarning")
def test_same_seed_same_result_other_seed_different():
    arch = _arch("trq")
    rng = np.random.default_rng(5)
    x, w = rng.integers(0, 256, (6, 150)), rng.integers(-127, 128, (150, 9))
    runs = [mvm(x, w, arch, weight_bits=8, input_bits=8, noise=Noise(**ALL_ON, seed=s))[0] for s in (1, 1, 2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_seed_and_settings_in_the_run_record(tmp_path):
    arch = isaacsim.load_arch("isaac", {"device.read_sigma": 0.02, "adc.noise_lsb": 0.2})
    a = isaacsim.simulate(arch, "workloads/lenet5_mnist5k", samples=2, timing=False, seed=9, out=tmp_path)
    b = isaacsim.simulate(arch, "workloads/lenet5_mnist5k", samples=2, timing=False, seed=9)
    np.testing.assert_array_equal(a.outputs, b.outputs)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["noise"]["seed"] == 9 and summary["noise"]["read_sigma"] == 0.02
    assert summary["noise"]["noise_lsb"] == 0.2 and summary["noise"]["ideal"] is False
    assert isaacsim.load_arch(tmp_path / "config.yaml").device.read_sigma == 0.02
    with pytest.raises(isaacsim.ConfigError, match="seed"):
        isaacsim.simulate(arch, "workloads/lenet5_mnist5k", samples=1, seed=-1)


def test_bad_device_keys_are_config_errors():
    with pytest.raises(isaacsim.ConfigError, match="stuck_at_gmin"):
        isaacsim.load_arch("isaac", {"device.stuck_at_gmin": 0.6, "device.stuck_at_gmax": 0.6})
    with pytest.raises(isaacsim.ConfigError, match="on_off_ratio"):
        isaacsim.load_arch("isaac", {"device.on_off_ratio": 1.0})
    with pytest.raises(ValueError, match="seed"):
        Noise(seed=-3)
