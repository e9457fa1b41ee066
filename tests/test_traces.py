"""ADC-operation traces (docs/datapath.md, "ADC operation traces"): the traced kernel against a
slow sample-by-sample reference, the column -> (crossbar, lane) map against the placement order,
totals against ad_ops, and per-layer traces from isaacsim.simulate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import isaacsim
from isaacsim.adc import ADCRegisters, convert
from isaacsim.mapping import LayerShape, place_network
from isaacsim.mapping.geometry import MatrixGeometry
from tests.support.datapath import adc_registers, layer_bits, precision_case
from tests.support.runs import BASE


def reference_trace(x, w, arch, regs, bits=None):
    """trace[n, c, t, lane] built crossbar by crossbar and column by column: every sample as the
    plain integer sum over the crossbar's rows of input chunk x cell level, converted with
    isaacsim.adc.convert. Written from the datapath and mapping docs, not from the kernel."""
    c, d = arch.crossbar, arch.datapath
    rows, cols, rc, rda = c.rows, c.cols, c.cell_bits, c.dac_bits
    ki, kw, signed = layer_bits(arch, bits)  # the layer's own widths (None: the arch's)
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
    row_parts = -(-k // rows)
    col_parts = -(-(m * n_slices) // cols)
    lanes = min(arch.pe.adcs, cols)
    trace = np.zeros((x.shape[0], len(cycles), row_parts * col_parts * len(mags), lanes), np.int64)
    for cp in range(col_parts):
        for rp in range(row_parts):
            for q, mag in enumerate(mags):
                t = (cp * row_parts + rp) * len(mags) + q
                r_lo, r_hi = rp * rows, min(k, (rp + 1) * rows)
                for j in range(cols):
                    col = cp * cols + j  # column within the polarity
                    if col >= m * n_slices:
                        continue  # unmapped: never converted
                    o, s = divmod(col, n_slices)
                    cell = (mag[r_lo:r_hi, o] >> (s * rc)) & (2**rc - 1)
                    for ci, (first, count) in enumerate(cycles):
                        chunk = (u[:, r_lo:r_hi] >> first) & (2**count - 1)
                        for n in range(x.shape[0]):
                            sample = int(sum(int(a) * int(b) for a, b in zip(chunk[n], cell, strict=True)))
                            _, ops = convert(np.array([sample]), regs)
                            trace[n, ci, t, j % arch.pe.adcs] += int(ops[0])
    return trace


@st.composite
def trace_case(draw):
    rows = draw(st.sampled_from([2, 5, 16, 64, 100, 128, 130]))
    cols = draw(st.sampled_from([3, 8, 16, 128]))
    rc = draw(st.sampled_from([1, 2]))
    rda = draw(st.sampled_from([1, 2]))
    signed = draw(st.booleans())
    ki = draw(st.integers(2 if signed else 1, 5))
    kw = draw(st.integers(2, 6))
    arch = isaacsim.load_arch("trq", overrides={
        "crossbar.rows": rows, "crossbar.cols": cols, "crossbar.cell_bits": rc, "crossbar.dac_bits": rda,
        "datapath.input_bits": ki, "datapath.input_signed": signed, "datapath.weight_bits": kw,
        "datapath.weight_encoding": draw(st.sampled_from(["differential", "offset"])),
        "datapath.psum_bits": draw(st.sampled_from([6, 32, 64])),
        "pe.adcs": draw(st.sampled_from([1, 3, 8, 128])),
        "adc.mode": "ideal", "adc.resolution": 16,
    })
    regs = draw(adc_registers(10, (1, 2, 0.5)))
    n = draw(st.integers(1, 3))
    k = draw(st.integers(1, 2 * rows + 3))  # up to three row partitions, rarely a multiple of rows
    m = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lo, hi = (-(2 ** (ki - 1)), 2 ** (ki - 1) - 1) if signed else (0, 2**ki - 1)
    lim = 2 ** (kw - 1) - 1
    return arch, ADCRegisters.of(regs), rng.integers(lo, hi + 1, (n, k)), rng.integers(-lim, lim + 1, (k, m))


@settings(max_examples=40, deadline=None)
@given(case=trace_case())
def test_traced_kernel_matches_sample_by_sample_reference(case):
    arch, regs, x, w = case
    y0, st0 = isaacsim.mvm(x, w, arch, adc=regs)
    y, stats = isaacsim.mvm(x, w, arch, adc=regs, trace=True)
    tr = stats.pop("ad_ops_trace")
    geo = MatrixGeometry.of(*w.shape, arch)
    assert tr.dtype == np.int32
    assert tr.shape == (x.shape[0], geo.input_cycles, geo.crossbars, geo.lanes(arch.pe.adcs))
    np.testing.assert_array_equal(tr, reference_trace(x, w, arch, regs))
    assert int(tr.sum(dtype=np.int64)) == stats["ad_ops"]
    # tracing changes nothing else
    np.testing.assert_array_equal(y, y0)
    assert stats.keys() == st0.keys()
    for key, v in st0.items():
        np.testing.assert_array_equal(stats[key], v, err_msg=key)


@settings(max_examples=25, deadline=None)
@given(case=precision_case(flip=False), adcs=st.sampled_from([1, 3, 8, 128]))
def test_traced_kernel_at_layer_bits(case, adcs):
    """A layer narrower than the arch: the trace has the layer's input cycles and crossbars, and
    equals the sample-by-sample reference at the layer's bits."""
    arch, regs, x, w, bits = case
    arch = isaacsim.load_arch(arch.model_dump(mode="json"), {"pe.adcs": adcs})
    _, stats = isaacsim.mvm(x, w, arch, adc=regs, trace=True, **bits)
    geo = MatrixGeometry.of(*w.shape, arch, **bits)
    assert stats["ad_ops_trace"].shape == (x.shape[0], geo.input_cycles, geo.crossbars, geo.lanes(adcs))
    np.testing.assert_array_equal(stats["ad_ops_trace"], reference_trace(x, w, arch, regs, bits))


@pytest.mark.parametrize("adcs", [1, 3, 8, 128, 200])
@pytest.mark.parametrize("encoding", ["differential", "offset"])
def test_column_lanes_follow_the_placement_order(adcs, encoding):
    arch = isaacsim.load_arch("trq", overrides={"crossbar.rows": 16, "crossbar.cols": 24,
                                                "datapath.weight_encoding": encoding})
    lp = place_network([LayerShape.linear("fc", 40, 9)], arch).layer("fc")
    geo = lp.geometry
    lanes = geo.lanes(adcs)
    assert lanes == min(adcs, 24)
    slots = geo.column_lanes(adcs)
    assert slots.shape == (geo.row_parts, geo.mapped_cols)
    for p in range(geo.row_parts):
        for col in range(geo.mapped_cols):
            q, c = divmod(col, geo.cols_per_polarity)
            cp, j = divmod(c, geo.xbar_cols)
            want = lp.crossbar_index(row_part=p, col_part=cp, polarity=q)
            assert want == geo.crossbar_index(p, cp, q)
            assert divmod(int(slots[p, col]), lanes) == (want, j % adcs)
    # every crossbar's mapped columns spread over its lanes; a lane gets ceil(cols / lanes) at most
    counts = np.bincount(slots.ravel(), minlength=geo.crossbars * lanes)
    assert counts.max() <= -(-geo.xbar_cols // lanes)


def test_trace_total_and_shape_on_a_partitioned_layer():
    arch = isaacsim.load_arch("trq")
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (6, 300))
    w = rng.integers(-127, 128, (300, 40))
    y, stats = isaacsim.mvm(x, w, arch, trace=True)
    tr = stats["ad_ops_trace"]
    geo = MatrixGeometry.of(300, 40, arch)
    assert tr.shape == (6, 8, geo.crossbars, 8) and geo.row_parts == 3 and geo.col_parts == 3
    assert int(tr.sum()) == stats["ad_ops"]
    # the last column partition holds 280 - 256 = 24 columns: 3 per lane
    last = geo.crossbar_index(0, 2, 0)
    assert tr[:, :, last].max() <= 3 * (arch.adc.resolution + 2)
    np.testing.assert_array_equal(y, isaacsim.mvm(x, w, arch)[0])


# ---------------------------------------------------------------- simulate(traces=N)


@pytest.mark.parametrize("batch_size", [None, 1])
def test_simulate_keeps_traces_of_the_first_samples(net, batch_size):
    arch = isaacsim.load_arch(BASE, overrides={"adc.mode": "trq"})
    plain_run = isaacsim.simulate(arch, net, samples=4)
    one = isaacsim.simulate(arch, net, samples=1)
    two = isaacsim.simulate(arch, net, samples=2)
    res = isaacsim.simulate(arch, net, samples=4, traces=2, batch_size=batch_size)
    np.testing.assert_array_equal(res.outputs, plain_run.outputs)
    assert res.summary()["layers"] == plain_run.summary()["layers"] or batch_size == 1
    for name, ly in res.layers.items():
        assert plain_run.layers[name].ad_ops_trace is None
        lp = res.mapping.layer(name)
        geo = lp.geometry
        tr = ly.ad_ops_trace
        assert tr.dtype == np.int32
        assert tr.shape == (2, lp.layer.groups, lp.layer.n_vectors, geo.input_cycles,
                            geo.crossbars, geo.lanes(arch.pe.adcs))
        assert int(tr[0].sum()) == one.layers[name].ad_ops
        assert int(tr.sum()) == two.layers[name].ad_ops
        assert res.traces()[name] is tr
        assert ly.ad_ops == plain_run.layers[name].ad_ops
    assert "ad_ops_trace" not in str(res.summary())


def test_simulate_traces_beyond_the_run_and_errors(net):
    arch = isaacsim.load_arch(BASE)
    res = isaacsim.simulate(arch, net, samples=2, traces=5)
    assert all(ly.ad_ops_trace.shape[0] == 2 for ly in res.layers.values())
    for bad in (-1, 1.5, True):
        with pytest.raises(isaacsim.ConfigError, match="traces"):
            isaacsim.simulate(arch, net, samples=1, traces=bad)
