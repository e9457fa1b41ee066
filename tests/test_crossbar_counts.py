"""Per-crossbar, per-copy A/D operations and TRQ range-2 conversions (docs/datapath.md,
"Per-crossbar counts"): `isaacsim.mvm(..., vector_copy=)` against a slow plane-by-plane
reference, the traced kernel's trace, kernel guards, and `LayerStats.xbar_ad_ops` / `xbar_r2`
from `isaacsim.simulate` with replicated layers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import isaacsim
from isaacsim.adc import ADCRegisters
from isaacsim.functional import batches as sim_mod
from isaacsim.kernels import fused_layer, fused_layer_traced, sar_table
from isaacsim.mapping import slicing
from isaacsim.mapping.geometry import MatrixGeometry
from isaacsim.mapping.layers import layers_of
from tests.support.datapath import layer_bits, layer_case, precision_case
from tests.support.runs import BASE


def reference_counts(x, w, arch, regs, vector_copy, copies, bits=None):
    """(ad_ops, r2) int64 (copies, crossbars) built bit-line sample by bit-line sample.

    Per row partition, polarity, weight slice and input cycle, the samples of every output's
    column are a plain numpy matmul over (DAC bit, cell bit) planes (as tests/support/datapath.py's
    reference); each sample's ops and R2 flag come from `sar_table`, and are added to the
    crossbar that holds the column: physical column c = j * n_slices + s of polarity q lies in
    column partition c // crossbar.cols, crossbar (col_part * row_parts + row_part) * polarities + q.
    Written from docs/datapath.md and docs/mapping.md, not from the kernel."""
    c, d = arch.crossbar, arch.datapath
    ki, kw, signed = layer_bits(arch, bits)  # the layer's own widths (None: the arch's)
    rc, rda = c.cell_bits, c.dac_bits
    if d.weight_encoding == "differential":
        mags, nbits = [np.maximum(w, 0), np.maximum(-w, 0)], kw - 1
    else:
        mags, nbits = [w + 2 ** (kw - 1)], kw
    n_slices = -(-nbits // rc)
    u = x & (2**ki - 1)
    if signed:
        cycles = [(b, min(rda, ki - 1 - b)) for b in range(0, ki - 1, rda)] + [(ki - 1, 1)]
    else:
        cycles = [(b, min(rda, ki - b)) for b in range(0, ki, rda)]
    k, m = w.shape
    row_parts = -(-k // c.rows)
    col_parts = -(-(m * n_slices) // c.cols)
    n_xbar = row_parts * col_parts * len(mags)
    _, msb, _, ops = sar_table(c.rows * (2**rda - 1) * (2**rc - 1), *regs.kernel_args())
    ad = np.zeros((copies, n_xbar), np.int64)
    r2 = np.zeros((copies, n_xbar), np.int64)
    for rp in range(row_parts):
        rows = slice(rp * c.rows, (rp + 1) * c.rows)
        for q, mag in enumerate(mags):
            for s in range(n_slices):
                cell = (mag[rows] >> (s * rc)) & (2**rc - 1)
                col = np.arange(m) * n_slices + s
                xbar = ((col // c.cols) * row_parts + rp) * len(mags) + q
                for first, count in cycles:
                    chunk = (u[:, rows] >> first) & (2**count - 1)
                    samp = np.zeros((x.shape[0], m), np.int64)
                    for a in range(count):
                        for b in range(rc):
                            samp += (((chunk >> a) & 1) @ ((cell >> b) & 1)) << (a + b)
                    idx = (vector_copy[:, None], np.broadcast_to(xbar, samp.shape))
                    np.add.at(ad, idx, ops[samp])
                    np.add.at(r2, idx, msb[samp])
    return ad, r2


@st.composite
def count_case(draw):
    arch, regs, x, w = draw(layer_case())
    copies = draw(st.integers(1, 4))
    vc = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, copies, x.shape[0])
    return arch, regs, x, w, vc, draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(case=count_case())
def test_crossbar_counts_match_plane_by_plane_reference(case):
    arch, regs, x, w, vc, trace = case
    y0, st0 = isaacsim.mvm(x, w, arch, adc=regs)
    y, stats = isaacsim.mvm(x, w, arch, adc=regs, trace=trace, vector_copy=vc)
    geo = MatrixGeometry.of(*w.shape, arch)
    copies = int(vc.max()) + 1
    ad_ref, r2_ref = reference_counts(x, w, arch, regs, vc, copies)
    for key, ref in (("crossbar_ad_ops", ad_ref), ("crossbar_r2", r2_ref)):
        got = stats[key]
        assert got.dtype == np.int64 and got.shape == (copies, geo.crossbars)
        np.testing.assert_array_equal(got, ref, err_msg=key)
    assert stats["crossbar_ad_ops"].sum() == stats["ad_ops"]
    assert stats["crossbar_r2"].sum() == stats["r2_conversions"]
    if regs.mode != "trq":
        assert not stats["crossbar_r2"].any()
    # the split over copies changes nothing else; one copy gives the column sums
    np.testing.assert_array_equal(y, y0)
    for key, v in st0.items():
        if key.startswith("crossbar_"):
            np.testing.assert_array_equal(v, stats[key].sum(axis=0, keepdims=True), err_msg=key)
        else:
            np.testing.assert_array_equal(stats[key], v, err_msg=key)
    if trace:  # the trace summed over cycles and lanes, per copy, is the per-crossbar count
        per = np.zeros((copies, geo.crossbars), np.int64)
        np.add.at(per, vc, stats["ad_ops_trace"].sum(axis=(1, 3), dtype=np.int64))
        np.testing.assert_array_equal(per, stats["crossbar_ad_ops"])


@settings(max_examples=40, deadline=None)
@given(case=precision_case(flip=False), copies=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_crossbar_counts_at_layer_bits(case, copies, seed):
    """A layer narrower than the arch: per-crossbar counts at the layer's own bits."""
    arch, regs, x, w, bits = case
    vc = np.random.default_rng(seed).integers(0, copies, x.shape[0])
    _, stats = isaacsim.mvm(x, w, arch, adc=regs, vector_copy=vc, **bits)
    ad_ref, r2_ref = reference_counts(x, w, arch, regs, vc, int(vc.max()) + 1, bits)
    np.testing.assert_array_equal(stats["crossbar_ad_ops"], ad_ref)
    np.testing.assert_array_equal(stats["crossbar_r2"], r2_ref)


def test_trace_sums_to_crossbar_counts_on_a_partitioned_layer():
    arch = isaacsim.load_arch("trq", overrides={"adc.n_r1": 3, "adc.n_r2": 5, "adc.m": 3})
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (11, 300))
    w = rng.integers(-127, 128, (300, 40))
    vc = np.arange(11) % 3
    _, stats = isaacsim.mvm(x, w, arch, trace=True, vector_copy=vc)
    geo = MatrixGeometry.of(300, 40, arch)
    assert geo.row_parts == 3 and geo.col_parts == 3
    tr = stats["ad_ops_trace"].sum(axis=(1, 3), dtype=np.int64)  # (N, crossbars)
    for j in range(3):
        np.testing.assert_array_equal(tr[vc == j].sum(axis=0), stats["crossbar_ad_ops"][j])
    assert stats["crossbar_r2"].sum() == stats["r2_conversions"] > 0
    # ops differ by range here, so the counts are not just conversions x a constant
    assert len(set(stats["ops_hist"].nonzero()[0])) == 2


def test_default_is_one_copy_and_unused_copies_are_zero():
    arch = isaacsim.load_arch("trq")
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (4, 200))
    w = rng.integers(-127, 128, (200, 5))
    _, one = isaacsim.mvm(x, w, arch)
    assert one["crossbar_ad_ops"].shape == (1, one["crossbars"])
    _, st = isaacsim.mvm(x, w, arch, vector_copy=[3, 3, 1, 3])
    assert st["crossbar_ad_ops"].shape == (4, one["crossbars"])
    assert not st["crossbar_ad_ops"][[0, 2]].any() and not st["crossbar_r2"][[0, 2]].any()
    np.testing.assert_array_equal(st["crossbar_ad_ops"].sum(axis=0), one["crossbar_ad_ops"][0])
    _, sub = isaacsim.mvm(x[[0, 1, 3]], w, arch)
    np.testing.assert_array_equal(st["crossbar_ad_ops"][3], sub["crossbar_ad_ops"][0])
    np.testing.assert_array_equal(st["crossbar_r2"][3], sub["crossbar_r2"][0])
    _, empty = isaacsim.mvm(np.zeros((0, 200), np.int64), w, arch, vector_copy=np.zeros(0, np.int64))
    assert empty["crossbar_ad_ops"].shape == (1, one["crossbars"]) and not empty["crossbar_ad_ops"].any()


@pytest.mark.parametrize("vc, msg", [
    ([0, 1], r"shape \(3,\)"),
    ([0, -1, 0], ">= 0"),
    ([0.0, 1.0, 0.0], "integer array"),
    ([[0, 1, 0]], r"shape \(3,\)"),
])
def test_vector_copy_errors(vc, msg):
    arch = isaacsim.load_arch("trq")
    with pytest.raises(ValueError, match=msg):
        isaacsim.mvm(np.ones((3, 4), np.int64), np.ones((4, 2), np.int64), arch, vector_copy=vc)


def _kernel_args(arch, n=3, k=20, m=2):
    geo = MatrixGeometry.of(k, m, arch)
    rng = np.random.default_rng(0)
    xw, sh, sg = slicing.pack_inputs(rng.integers(0, 256, (n, k)), geo)
    ww = slicing.pack_weights(rng.integers(-127, 128, (k, m)), geo)
    _, msb, units, ops = sar_table(geo.max_sample, *ADCRegisters.of(arch.adc).kernel_args())
    return geo, xw, ww, units, ops, msb, sh, sg


def test_kernel_guards():
    arch = isaacsim.load_arch("trq")
    geo, xw, ww, units, ops, msb, sh, sg = _kernel_args(arch)

    def run(units=units, ops=ops, msb=msb, acc=None, n_acc=1):
        acc = np.zeros(3, np.int64) if acc is None else acc
        return fused_layer(xw, ww, units, ops, msb, acc, n_acc, sh, sg, 1, geo.n_slices, 2, 16, 2)

    run()
    with pytest.raises(ValueError, match="vec_acc"):
        run(acc=np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="vec_acc"):
        run(acc=np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="affine"):
        run(ops=np.arange(len(ops), dtype=np.int64))
    with pytest.raises(ValueError, match="msb_lut"):
        run(msb=msb * 2)
    with pytest.raises(ValueError, match="too wide"):
        run(units=units << 50)
    slots = geo.column_lanes(arch.pe.adcs)
    with pytest.raises(ValueError, match="vec_acc"):
        fused_layer_traced(xw, ww, units, ops, msb, np.full(3, 5, np.int64), 2, slots, int(slots.max()) + 1,
                           sh, sg, 1, geo.n_slices, 2, 16, 2)


def test_kernel_counts_with_all_r2_and_uneven_ops():
    """Tables the SAR cannot produce but the kernel accepts: every sample in R2, and R2
    conversions cheaper than R1 ones; the counts against a direct tally."""
    arch = isaacsim.load_arch("trq", overrides={"adc.n_r1": 3, "adc.n_r2": 5, "adc.m": 3})
    geo, xw, ww, units, ops, msb, sh, sg = _kernel_args(arch, n=5, k=150, m=3)
    acc = np.array([1, 0, 1, 1, 0])
    conv = np.array([2, 3])[:, None, None] * geo.input_cycles  # per column, per accumulator

    def run(o, m):
        return fused_layer(xw, ww, units, o, m, acc, 2, sh, sg, 1, geo.n_slices, 2, 16, 2)

    base = run(ops, msb)
    assert base[4].sum() == base[1] @ msb > 0 and base[3].sum() == base[1] @ ops
    np.testing.assert_array_equal(base[3], (1 + 3) * conv + (5 - 3) * base[4])
    out = run(np.full_like(ops, 7), np.ones_like(msb))
    np.testing.assert_array_equal(out[0], base[0])
    np.testing.assert_array_equal(out[4], np.broadcast_to(conv, out[4].shape))
    np.testing.assert_array_equal(out[3], 7 * out[4])
    out = run(9 - 4 * msb, msb)
    np.testing.assert_array_equal(out[4], base[4])
    np.testing.assert_array_equal(out[3], 9 * conv - 4 * base[4])


# ---------------------------------------------------------------- simulate: LayerStats


def _recording_matmul(monkeypatch):
    """Record every simulated product (layer, x2d, w2d, batch) as the executor makes it."""
    calls = []
    orig = sim_mod._matmul

    def wrapped(arch, mapping, stats, bar, packed, batch=1, traced=0, *rest):
        mm = orig(arch, mapping, stats, bar, packed, batch, traced, *rest)

        def rec(name, x2d, w2d):
            calls.append((name, np.array(x2d), np.array(w2d), batch))
            return mm(name, x2d, w2d)

        return rec

    monkeypatch.setattr(sim_mod, "_matmul", wrapped)
    return calls


@pytest.mark.filterwarnings("ignore::UserWarning")  # energy / timing side models are not under test
def test_simulate_counts_per_copy_group_and_crossbar(net, monkeypatch):
    arch = isaacsim.load_arch(BASE, overrides={
        "adc.mode": "trq", "adc.n_r1": 3, "adc.n_r2": 5, "adc.m": 3, "mapping.replication": "balance",
        "mapping.max_replication": 3, "chip.auto_tiles": True})
    calls = _recording_matmul(monkeypatch)
    res = isaacsim.simulate(arch, net, samples=5, batch_size=2, traces=1, timing=False)
    assert res.status == "ok" and res.batches == 3
    copies = {lp.name: lp.copies for lp in res.mapping.layers}
    assert copies["c1"] == copies["c2"] == 3 and copies["fc"] == 1  # 16 windows: an uneven split
    group_calls: dict[str, int] = {}
    expect = {name: np.zeros_like(s.xbar_ad_ops) for name, s in res.layers.items()}
    expect_r2 = {name: np.zeros_like(s.xbar_r2) for name, s in res.layers.items()}
    for name, x2d, w2d, batch in calls:
        lp = res.mapping.layer(name)
        g = group_calls.get(name, 0) % lp.layer.groups
        group_calls[name] = group_calls.get(name, 0) + 1
        windows = x2d.shape[0] // batch
        assert windows == lp.layer.n_vectors
        window = np.arange(x2d.shape[0]) % windows
        for j in range(lp.copies):
            rows = window % lp.copies == j
            if rows.any():
                _, st = isaacsim.mvm(x2d[rows], w2d, arch, adc=lp.adc)
                expect[name][j, g] += st["crossbar_ad_ops"][0]
                expect_r2[name][j, g] += st["crossbar_r2"][0]
    for name, s in res.layers.items():
        lp = res.mapping.layer(name)
        shape = (lp.copies, lp.layer.groups, lp.geometry.crossbars)
        assert s.xbar_ad_ops.shape == s.xbar_r2.shape == shape and s.xbars_per_group == shape[2]
        assert s.xbar_ad_ops.dtype == np.int64
        assert int(s.xbar_ad_ops.sum()) == s.ad_ops and int(s.xbar_r2.sum()) == s.r2_conversions
        np.testing.assert_array_equal(s.xbar_ad_ops, expect[name], err_msg=name)
        np.testing.assert_array_equal(s.xbar_r2, expect_r2[name], err_msg=name)
        # flattened, entry i is crossbar LayerPlacement.crossbar_index i
        g = lp.geometry
        i = lp.crossbar_index(copy=lp.copies - 1, group=lp.layer.groups - 1, row_part=g.row_parts - 1,
                              col_part=0, polarity=1)
        t = g.crossbar_index(g.row_parts - 1, 0, 1)
        assert s.xbar_ad_ops.reshape(-1)[i] == s.xbar_ad_ops[-1, -1, t]
        assert s.crossbars == s.xbar_ad_ops.size
    assert res.totals()["r2_conversions"] > 0
    assert all(s.xbar_ad_ops[1:].sum() > 0 for n, s in res.layers.items() if copies[n] > 1)
    summary = str(res.summary())
    assert "xbar_ad_ops" not in summary and "xbar_r2" not in summary
    # one copy everywhere: the same totals, all on copy 0
    plain_run = isaacsim.simulate(isaacsim.load_arch(BASE, overrides={
        "adc.mode": "trq", "adc.n_r1": 3, "adc.n_r2": 5, "adc.m": 3}), net, samples=5, timing=False)
    for name, s in plain_run.layers.items():
        np.testing.assert_array_equal(s.xbar_ad_ops[0], res.layers[name].xbar_ad_ops.sum(axis=0))
        np.testing.assert_array_equal(s.xbar_r2[0], res.layers[name].xbar_r2.sum(axis=0))


def test_layer_stats_merge_and_empty_like(net):
    from isaacsim.functional.stats import LayerStats
    from isaacsim.mapping import place_network

    arch = isaacsim.load_arch(BASE, overrides={"mapping.replication": "balance", "mapping.max_replication": 2,
                                               "chip.auto_tiles": True})
    lp = place_network(layers_of(net), arch).layer("c2")
    a = LayerStats.of(lp)
    assert a.xbar_ad_ops.shape == (2, 4, lp.geometry.crossbars) == a.empty_like().xbar_r2.shape
    b = a.empty_like()
    st = {"conversions": 0, "ad_ops": 0, "r1_conversions": 0, "r2_conversions": 0, "overflows": 0,
          "n_vectors": 0, "sample_hist": np.zeros(1, np.int64), "ops_hist": np.zeros(1, np.int64),
          "crossbar_ad_ops": np.full((1, lp.geometry.crossbars), 5), "crossbar_r2": np.ones((1, lp.geometry.crossbars))}
    b.add_call(st, group=2)
    a.merge(b)
    a.merge(b)
    assert a.xbar_ad_ops[0, 2].tolist() == [10] * lp.geometry.crossbars
    assert a.xbar_ad_ops.sum() == 10 * lp.geometry.crossbars
    assert a.xbar_r2.sum() == 2 * lp.geometry.crossbars
    with pytest.raises(ValueError, match="does not fit"):
        b.add_call({**st, "crossbar_ad_ops": np.zeros((3, lp.geometry.crossbars))})
