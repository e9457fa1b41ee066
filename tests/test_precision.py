"""Per-layer precision: each layer runs at its own weight and input bits, the arch's widths are the
widest the hardware supports. Geometry, the datapath against the slow plane-by-plane reference,
the lossless-ADC identity on mixed-precision networks, simulate / timing / energy, and the errors.

The expected counts are computed here from the definitions in docs/mapping.md (stored bits per
polarity, ceil over the cell width, ceil over the DAC width plus a sign cycle), not read from
`MatrixGeometry`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import isaacsim
from isaacsim.cli import main
from isaacsim.errors import MappingError
from isaacsim.functional.mvm import PackedWeights
from isaacsim.mapping.geometry import MatrixGeometry
from isaacsim.mapping.layers import LayerShape, layers_of
from isaacsim.mapping.placement import place_network
from isaacsim.workload import build, execute
from tests.support.datapath import precision_case, reference_layer
from tests.support.runs import BASE
from tests.support.workloads import fmt

ROOT = Path(__file__).resolve().parents[1]


def expected(n, k, m, arch, wbits, ibits, signed):
    """(slices, input cycles, conversions) from the definitions, independently of MatrixGeometry."""
    c, d = arch.crossbar, arch.datapath
    stored = wbits - 1 if d.weight_encoding == "differential" else wbits
    pol = 2 if d.weight_encoding == "differential" else 1
    slices = math.ceil(stored / c.cell_bits)
    cycles = math.ceil((ibits - 1) / c.dac_bits) + 1 if signed else math.ceil(ibits / c.dac_bits)
    return slices, cycles, n * math.ceil(k / c.rows) * m * slices * pol * cycles


# ---------------------------------------------------------------- geometry


def test_four_bit_layer_on_one_bit_cells():
    """The worked case: 1-bit cells and DAC, a 4-bit layer uses 3 magnitude slices per polarity
    and 4 input cycles, so a 128-column crossbar holds 42 outputs instead of 18."""
    arch = isaacsim.load_arch("trq")
    g8 = MatrixGeometry.of(300, 42, arch)
    g4 = MatrixGeometry.of(300, 42, arch, weight_bits=4, input_bits=4)
    assert (g8.n_slices, g8.input_cycles, g8.col_parts) == (7, 8, 3)
    assert (g4.n_slices, g4.input_cycles, g4.col_parts) == (3, 4, 1)
    assert g4.crossbars == 3 * 1 * 2 and g4.conversions(10) == 10 * 3 * 42 * 3 * 2 * 4
    assert MatrixGeometry.of(300, 43, arch, weight_bits=4, input_bits=4).col_parts == 2
    assert g4.bits == {"weight_bits": 4, "input_bits": 4, "input_signed": False}


@pytest.mark.parametrize("preset", ["isaac", "trq_baseline"])
@pytest.mark.parametrize("wbits", [2, 3, 4, 5, 8])
@pytest.mark.parametrize("ibits,signed", [(1, False), (2, False), (3, True), (4, True), (8, False)])
def test_geometry_follows_layer_bits(preset, wbits, ibits, signed):
    arch = isaacsim.load_arch(preset, overrides={"datapath.input_signed": signed, "crossbar.dac_bits": 2,
                                                  "adc.resolution": 12})
    g = MatrixGeometry.of(200, 30, arch, weight_bits=wbits, input_bits=ibits, input_signed=signed)
    slices, cycles, conv = expected(7, 200, 30, arch, wbits, ibits, signed)
    assert (g.n_slices, g.input_cycles, g.conversions(7)) == (slices, cycles, conv)


def test_layer_wider_than_arch_is_refused():
    arch = isaacsim.load_arch("trq")
    with pytest.raises(ValueError, match="9-bit weights do not fit.*weight_bits=8"):
        MatrixGeometry.of(4, 4, arch, weight_bits=9)
    with pytest.raises(ValueError, match="unsigned 9-bit inputs do not fit the arch's unsigned 8-bit"):
        MatrixGeometry.of(4, 4, arch, input_bits=9)
    with pytest.raises(ValueError, match="signed 4-bit inputs do not fit"):
        MatrixGeometry.of(4, 4, arch, input_bits=4, input_signed=True)
    signed = isaacsim.load_arch("trq", overrides={"datapath.input_signed": True})
    with pytest.raises(ValueError, match="unsigned 8-bit inputs do not fit the arch's signed 8-bit"):
        MatrixGeometry.of(4, 4, signed, input_bits=8, input_signed=False)
    assert MatrixGeometry.of(4, 4, signed, input_bits=7, input_signed=False).input_cycles == 7
    with pytest.raises(MappingError, match="layer 'big': 9-bit weights"):
        place_network([LayerShape.linear("big", 4, 4, weight_bits=9)], arch)


def test_packed_weights_carry_their_bits():
    arch = isaacsim.load_arch("trq")
    rng = np.random.default_rng(0)
    x, w = rng.integers(0, 16, (3, 20)), rng.integers(-7, 8, (20, 5))
    pw = PackedWeights.of(w, arch, weight_bits=4, input_bits=4)
    y, s = isaacsim.mvm(x, pw, arch, adc={"mode": "ideal", "resolution": 8})
    assert np.array_equal(y, x @ w) and (s["n_slices"], s["input_cycles"]) == (3, 4)
    with pytest.raises(ValueError, match="PackedWeights were built for"):
        isaacsim.mvm(x, pw, arch, weight_bits=5)
    with pytest.raises(ValueError, match="4-bit signed symmetric weights"):
        isaacsim.mvm(x, np.full((20, 5), 8), arch, weight_bits=4)
    with pytest.raises(ValueError, match="unsigned 4-bit inputs"):
        isaacsim.mvm(np.full((1, 20), 16), w, arch, weight_bits=4, input_bits=4)


# ---------------------------------------------------------------- the datapath at the layer's bits


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=precision_case())
def test_kernel_matches_reference_at_layer_bits(case):
    arch, regs, x, w, bits = case
    y, stats = isaacsim.mvm(x, w, arch, adc=regs, **bits)
    y_ref, hist_ref, ovf_ref = reference_layer(x, w, arch, regs, bits)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(stats["sample_hist"], hist_ref)
    assert stats["overflows"] == ovf_ref
    slices, cycles, conv = expected(x.shape[0], *w.shape, arch, bits["weight_bits"], bits["input_bits"],
                                    bits["input_signed"])
    assert (stats["n_slices"], stats["input_cycles"], stats["conversions"]) == (slices, cycles, conv)
    assert conv == hist_ref.sum()


@st.composite
def mixed_network(draw):
    """An arch (any cell / DAC width, encoding, column flip, lossless ideal ADC) and a chain of 2..4
    layers of their own widths: 1..4-bit inputs (the first possibly signed), 2..5-bit weights."""
    rc = draw(st.sampled_from([1, 2, 3]))
    rda = draw(st.sampled_from([1, 2]))
    encoding = draw(st.sampled_from(["differential", "offset"]))
    over = {"crossbar.rows": draw(st.sampled_from([8, 16, 64])), "crossbar.cols": draw(st.sampled_from([4, 16])),
            "crossbar.cell_bits": rc, "crossbar.dac_bits": rda, "datapath.weight_encoding": encoding,
            "datapath.column_flip": encoding == "offset" and draw(st.booleans()),
            "datapath.input_signed": True, "datapath.input_bits": 8, "datapath.weight_bits": 8,
            "datapath.psum_bits": 64, "adc.mode": "ideal", "adc.resolution": 16}
    arch = isaacsim.load_arch("trq", overrides=over)
    arch = isaacsim.load_arch("trq", overrides={**over, "adc.resolution": arch.lossless_bits})
    n_layers = draw(st.integers(2, 4))
    widths = [int(draw(st.integers(3, 40))) for _ in range(n_layers + 1)]
    layers = [(draw(st.integers(1, 4)), i == 0 and draw(st.booleans()), draw(st.integers(2, 5)))
              for i in range(n_layers)]
    return arch, widths, layers, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mixed_network())
def test_lossless_identity_holds_layer_by_layer(case):
    """Each layer's datapath output equals x @ w at its own bits; its output, shifted and clipped to
    the next layer's width, is that layer's input."""
    arch, widths, layers, seed = case
    rng = np.random.default_rng(seed)
    ibits, signed, _ = layers[0]
    lo, hi = (-(2 ** (ibits - 1)), 2 ** (ibits - 1) - 1) if signed else (0, 2**ibits - 1)
    x = rng.integers(lo, hi + 1, (3, widths[0]))
    x[0] = lo if signed else hi
    for i, (ibits, signed, wbits) in enumerate(layers):
        lim = 2 ** (wbits - 1) - 1
        w = rng.integers(-lim, lim + 1, (widths[i], widths[i + 1]))
        y, stats = isaacsim.mvm(x, w, arch, weight_bits=wbits, input_bits=ibits, input_signed=signed)
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, x @ w, err_msg=f"layer {i}")
        assert stats["conversions"] == expected(3, *w.shape, arch, wbits, ibits, signed)[2]
        assert stats["ad_ops"] == stats["conversions"] * arch.adc.resolution and stats["overflows"] == 0
        if i + 1 < len(layers):
            nb = layers[i + 1][0]
            x = np.clip(y >> max(0, int(np.abs(y).max()).bit_length() - nb), 0, 2**nb - 1)


# ---------------------------------------------------------------- whole workloads


def _mixed_workload(bits, wbits, seed=0, n=4):
    """conv (input bits[0]) -> relu -> conv -> relu -> linear; bits[i] the input width of layer i
    (the next requant's width), wbits[i] its weights; signed logits."""
    rng = np.random.default_rng(seed)
    ws = [rng.integers(-(2 ** (b - 1) - 1), 2 ** (b - 1), s).astype(np.int8)
          for b, s in zip(wbits, [(6, 2, 3, 3), (5, 6, 3, 3), (4, 5 * 4 * 4)], strict=True)]
    graph = [
        {"name": "c1", "op": "conv2d", "inputs": ["input"], "weight": "c1.w", "out_channels": 6, "kernel": 3,
         "padding": 1, "weight_bits": wbits[0], "activation": "relu",
         "requant": {**fmt(bits[1]), "multiplier": 1, "shift": max(0, 2 + bits[0] + wbits[0] - bits[1])}},
        {"name": "c2", "op": "conv2d", "inputs": ["c1"], "weight": "c2.w", "out_channels": 5, "kernel": 3,
         "stride": 2, "padding": 1, "weight_bits": wbits[1], "activation": "relu",
         "requant": {**fmt(bits[2]), "multiplier": 1, "shift": max(0, 3 + bits[1] + wbits[1] - bits[2])}},
        {"name": "flat", "op": "flatten", "inputs": ["c2"]},
        {"name": "fc", "op": "linear", "inputs": ["flat"], "weight": "fc.w", "out_features": 4,
         "weight_bits": wbits[2], "requant": {**fmt(8, signed=True), "multiplier": 1, "shift": 4}},
    ]
    manifest = {"format_version": 1, "name": "mixed", "input": {"shape": [2, 8, 8], **fmt(bits[0])},
                "graph": graph}
    x = rng.integers(0, 2 ** bits[0], (n, 2, 8, 8))
    return build(manifest, {"c1.w": ws[0], "c2.w": ws[1], "fc.w": ws[2]}, eval=x)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bits=st.lists(st.integers(1, 8), min_size=3, max_size=3),
       wbits=st.lists(st.integers(2, 8), min_size=3, max_size=3),
       preset=st.sampled_from(["trq_baseline", "isaac"]))
def test_simulate_mixed_precision_is_exact(bits, wbits, preset):
    """A lossless ADC reproduces the reference executor on a network of mixed widths, and every
    layer's conversions follow its own bits."""
    wl = _mixed_workload(bits, wbits)
    arch = isaacsim.load_arch(preset, overrides={"adc.mode": "ideal", "chip.auto_tiles": True})
    res = isaacsim.simulate(arch, wl, timing=False)
    assert np.array_equal(res.outputs, execute(wl, wl.eval.x)) and res.agreement == 1.0
    for ly, b, wb in zip(layers_of(wl), bits, wbits, strict=True):
        s = res.layers[ly.name]
        assert (s.precision["weight_bits"], s.precision["input_bits"]) == (wb, b)
        n = 4 * ly.groups * ly.n_vectors
        assert s.conversions == expected(n, ly.k, ly.m, arch, wb, b, False)[2], ly.name


def test_low_bit_layer_costs_less_in_time_and_energy():
    """The same network at W4A4 against W8A8 on trq_baseline: the hidden layers' conversions fall
    to 3/7 x 4/8 (docs/mapping.md), and so do A/D operations, ADC energy and latency."""
    r = {}
    for b in (4, 8):
        wl = _mixed_workload([8, b, b], [8, b, b])
        r[b] = isaacsim.simulate(isaacsim.load_arch(BASE), wl, samples=2)
    c4, c8 = r[4].layers["c2"].conversions, r[8].layers["c2"].conversions
    assert c4 * 7 * 8 == c8 * 3 * 4
    assert r[4].layers["c1"].conversions == r[8].layers["c1"].conversions
    s4, s8 = r[4].summary(), r[8].summary()
    assert s4["adc"]["ad_ops"] < s8["adc"]["ad_ops"] and s4["adc"]["energy_j"] < s8["adc"]["energy_j"]
    assert s4["energy_j"] < s8["energy_j"] and s4["latency_cycles"] < s8["latency_cycles"]
    assert (r[4].layers["c2"].precision["slices"], r[4].layers["c2"].precision["input_cycles"]) == (3, 4)


def test_shipped_w4a4_conversions():
    """LeNet-5 W4A4 (AB) against W8A8 on trq: per inference, conversions follow each layer's bits.
    By hand (docs/mapping.md, Eq. 3; conv1 and fc3 keep 8-bit weights, fc3 takes 4-bit inputs):
    W8A8 784*1*84*8 + 100*2*224*8 + 4*1680*8 + 1*1176*8 + 1*140*8 = 949,536;
    W4A4 784*1*84*8 + 100*2*96*4 + 4*720*4 + 1*504*4 + 1*140*4 = 617,744."""
    arch = isaacsim.load_arch("trq")
    for name, want in (("lenet5_mnist5k", 949_536), ("lenet5_mnist5k_ab_w4a4", 617_744)):
        wl = isaacsim.load_workload(ROOT / "workloads" / name)
        m = place_network(layers_of(wl), arch)
        assert sum(lp.layer.groups * lp.geometry.conversions(lp.layer.n_vectors) for lp in m.layers) == want


def test_cli_layer_wider_than_arch_is_one_line(capsys):
    rc = main(["run", "trq", str(ROOT / "workloads" / "lenet5_mnist5k_ab_w4a4"), "--samples", "1",
               "--set", "datapath.weight_bits=4"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "Traceback" not in err
    assert "layer 'conv1'" in err and "8-bit weights" in err and "datapath.weight_bits=4" in err
