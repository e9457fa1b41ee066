"""One layer's schedule (docs/timing.md, "One PE's schedule"): the numba recurrence against a
slow Fraction reference, the default (per-window) and fine (per-read, per-ADC-job) granularities
against each other, the analytic bound, and ISAAC's balanced PE worked by hand."""

from __future__ import annotations

import dataclasses
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import isaacsim
from isaacsim.kernels.pe_schedule import COUNTERS, pe_schedule
from isaacsim.mapping import LayerShape, place_network
from isaacsim.mapping.layers import layers_of
from isaacsim.timing import build_stages, layer_bound
from isaacsim.timing.layer import lane_columns, layer_steps, simulate_layer
from tests.support.timing import SMALL, synthetic_trace


def reference_schedule(work, conv, step_window, ready, l_r, adc_rate, sa_rate, read_end0=0, conv_end0=0):
    """docs/timing.md's recurrence, step by step, with exact Fractions and math.ceil."""
    read_end, conv_end, window_end = [], [], {}
    prev_read, prev_conv = read_end0, conv_end0
    for i in range(len(conv)):
        terms = [prev_read + l_r, prev_conv]
        if i == 0 or step_window[i] != step_window[i - 1]:
            terms.append(int(ready[step_window[i]]) + l_r)
        r = max(terms)
        adc = max(math.ceil(Fraction(int(w)) / adc_rate) for w in work[i])
        sa = math.ceil(Fraction(int(conv[i])) / sa_rate)
        read_end.append(r)
        conv_end.append(r + max(adc, sa))
        window_end[int(step_window[i])] = r + max(adc, sa)
        prev_read, prev_conv = read_end[-1], conv_end[-1]
    return read_end, conv_end, [window_end[w] for w in range(len(ready))]


RATES = [Fraction(512, 5), Fraction(1), Fraction(1, 3), Fraction(7, 2), Fraction(16, 5), Fraction(64), Fraction(5, 7)]


@st.composite
def schedule_case(draw):
    n_windows = draw(st.integers(1, 6))
    steps_per = [draw(st.integers(1, 5)) for _ in range(n_windows)]
    adcs = draw(st.integers(1, 5))
    n_steps = sum(steps_per)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cols = rng.integers(0, 40, (n_steps, adcs))  # conversions per ADC per step
    if draw(st.booleans()):  # early termination: 1 .. R + 2 ops per conversion (TRQ detection included)
        work = np.array([[rng.integers(1, 11, int(c)).sum() for c in row] for row in cols],
                        np.int64).reshape(n_steps, adcs)
    else:  # off: R x conversions
        work = 8 * cols
    ready = np.sort(rng.integers(0, 400, n_windows)) if draw(st.booleans()) else rng.integers(0, 400, n_windows)
    return (work.astype(np.int64), cols.sum(axis=1).astype(np.int64),
            np.repeat(np.arange(n_windows), steps_per).astype(np.int64), ready.astype(np.int64),
            draw(st.integers(1, 12)), draw(st.sampled_from(RATES)), draw(st.sampled_from(RATES)),
            draw(st.integers(0, 30)), draw(st.integers(0, 60)))


@settings(max_examples=200, deadline=None)
@given(case=schedule_case())
def test_kernel_equals_fraction_reference(case):
    work, conv, sw, ready, l_r, r_adc, r_sa, re0, ce0 = case
    re, ce, we, cnt = pe_schedule(work, conv, sw, ready, l_r, r_adc.numerator, r_adc.denominator,
                                  r_sa.numerator, r_sa.denominator, re0, ce0)
    want = reference_schedule(work, conv, sw, ready, l_r, r_adc, r_sa, re0, ce0)
    assert (list(re), list(ce), list(we)) == want
    c = dict(zip(COUNTERS, (int(v) for v in cnt), strict=True))
    assert re[-1] - re0 == len(conv) * l_r + c["sh_stall"] + c["input_stall"]
    assert c["convert_busy"] == int((ce - re).sum())
    assert c["convert_busy"] == c["adc_busy"] + c["sa_stall"] and c["sa_busy"] <= c["convert_busy"]


# ---- layers ---------------------------------------------------------------------------------

def arch(name="trq", **over):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return isaacsim.load_arch(name, overrides=over)


def placed(a, layer, copies=1):
    lp = place_network([layer], a).layers[0]
    if copies != 1:  # replicate by hand: copies packed back to back, possibly sharing a PE
        lp = dataclasses.replace(lp, copies=copies, n_pes=-(-copies * lp.crossbars_per_copy // lp.crossbars_per_pe))
    return lp


CASES = [  # (overrides, layer, copies)
    ({}, LayerShape.linear("fc", 40, 9), 1),  # 2 x 3 x 2 = 12 crossbars on 3 PEs, 8 ADCs > 16 / 2 lanes used
    ({"pe.adcs": 3, "adc.ops_per_cycle": 3.2}, LayerShape.conv2d("c", 3, 4, 3, 4, padding=1), 1),
    ({"pe.adcs": 32, "crossbar.cols": 8, "adc.ops_per_cycle": 1.5}, LayerShape.conv2d("c", 2, 2, 3, 4), 2),
    ({"pe.adcs": 2, "latency_ns.shift_add": 7, "adc.ops_per_cycle": 12},
     LayerShape.conv2d("c", 2, 3, 2, 4, stride=2), 3),
    ({"pe.adcs": 4}, LayerShape.linear("fc", 20, 3), 3),  # one window, three copies: two stay idle
    ({"pe.adcs": 5, "pe.crossbars": 3, "adc.ops_per_cycle": 0.7},
     LayerShape.conv2d("c", 4, 4, 1, 3, groups=2), 2),  # 2 groups x 2 crossbars: copies share PEs
]


@pytest.mark.parametrize("early_termination", [True, False])
@pytest.mark.parametrize("kind", ["uniform", "trq"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_default_equals_fine(case, kind, early_termination):
    over, layer, copies = CASES[case]
    a = arch(**{**SMALL, **over, "adc.early_termination": early_termination})
    lp = placed(a, layer, copies)
    stages = build_stages(a)
    rng = np.random.default_rng(case)
    trace = synthetic_trace(lp, a.pe.adcs, kind, rng)
    n = lp.layer.n_vectors
    for ready in (None, np.sort(rng.integers(0, 300, n))):
        d = simulate_layer(lp, trace, stages, ready, "default")
        f = simulate_layer(lp, trace, stages, ready, "fine")
        assert d.cycles == f.cycles > 0
        np.testing.assert_array_equal(d.window_end, f.window_end)
        assert d.counters == f.counters
        assert [p.counters for p in d.pes] == [p.counters for p in f.pes]
        assert d.adc_ops == f.adc_ops and d.adc_utilisation == f.adc_utilisation
        assert f.events > d.events
        # the conversions seen by the PEs are Eq. 3's
        steps = layer_steps(lp, trace, stages, ready)
        assert sum(int(s.conv.sum()) for s in steps) == lp.layer.groups * lp.geometry.conversions(n)
        if early_termination:
            assert d.adc_ops == int(trace.sum())
        else:
            assert d.adc_ops == 8 * lp.layer.groups * lp.geometry.conversions(n)


def test_shared_pe_serves_two_copies_in_lock_step():
    a = arch(**{**SMALL, "pe.crossbars": 3})
    lp = placed(a, LayerShape.linear("fc", 16, 2), copies=3)  # 2 crossbars a copy on PEs of 3
    assert (lp.crossbars_per_copy, lp.n_pes) == (2, 2)
    trace = np.ones((5, lp.geometry.input_cycles, 2, 8), np.int32)
    steps = layer_steps(lp, trace, build_stages(a))
    assert [s.windows for s in steps] == [((0, 1), (3, 4)), ((1, 2), (4,))]


def test_bad_inputs():
    a = arch(**SMALL)
    lp = placed(a, LayerShape.linear("fc", 40, 9))
    g = lp.geometry
    with pytest.raises(ValueError, match="trace shape"):
        simulate_layer(lp, np.zeros((1, g.input_cycles, g.crossbars, 3)), build_stages(a))
    with pytest.raises(ValueError, match="granularity"):
        simulate_layer(lp, np.zeros((1, g.input_cycles, g.crossbars, 8)), build_stages(a), granularity="x")
    with pytest.raises(ValueError, match="ready"):
        simulate_layer(lp, np.zeros((1, g.input_cycles, g.crossbars, 8)), build_stages(a), np.zeros(2))


# ---- against the analytic bound -------------------------------------------------------------

def bound_of(lp, a, trace):
    conversions = lp.layer.groups * lp.geometry.conversions(lp.layer.n_vectors)
    return layer_bound(lp, build_stages(a), int(trace.sum()), conversions)


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("early_termination", [True, False])
def test_never_below_the_bound(case, early_termination):
    over, layer, copies = CASES[case]
    a = arch(**{**SMALL, **over, "adc.early_termination": early_termination})
    lp = placed(a, layer, copies)
    trace = synthetic_trace(lp, a.pe.adcs, "trq", np.random.default_rng(7))
    lt = simulate_layer(lp, trace, build_stages(a))
    assert lt.cycles >= bound_of(lp, a, trace).bound_cycles


BALANCED = [  # 14 mapped columns per crossbar: every ADC gets the same columns
    {"pe.adcs": 1, "adc.ops_per_cycle": 8}, {"pe.adcs": 2, "adc.ops_per_cycle": 4},
    {"pe.adcs": 7, "adc.ops_per_cycle": 1}, {"pe.adcs": 14, "adc.ops_per_cycle": 0.5},
]
UNBALANCED = [{"pe.adcs": 1, "adc.ops_per_cycle": 30}, {"adc.ops_per_cycle": 0.9},
              {"pe.adcs": 3, "adc.ops_per_cycle": 2.5}]


@pytest.mark.parametrize("over", BALANCED + UNBALANCED)
@pytest.mark.parametrize("kind", ["uniform", "trq"])
def test_adc_bound_layer_meets_the_bound(over, kind):
    """Conv 3 -> 2, 3x3, on a 5x5 map: K = 27 (2 row parts), 2 x 7 = 14 columns per polarity,
    4 crossbars on one PE, 25 windows x 8 input cycles, every window ready at 0.

    ADC-bound, each step's conversion outlasts the 3-cycle read, so the ADCs never idle after
    the first read: cycles = L_r + sum over steps of max_a ceil(work / rate), exactly. The bound
    spreads the A/D operations evenly over the ADCs and does not round per step. It is met to
    within one window when every ADC has the same work in every step and that work is a whole
    number of cycles (BALANCED lanes with uniform ops, or one ADC). Otherwise three gaps open
    (docs/timing.md, Decisions): the per-step ceil (under a cycle a step: UNBALANCED[0]), the
    busiest lane (14 columns on 8 ADCs: 2, 2, 2, 2, 2, 2, 1, 1), and, with TRQ's varying ops,
    each step waiting for its slowest ADC (the ADCs of a PE latch together).
    """
    a = arch(**{**SMALL, **over})
    lp = placed(a, LayerShape.conv2d("c", 3, 2, 3, 5, padding=1))
    assert (lp.n_pes, lp.crossbars, lp.geometry.cols_per_polarity) == (1, 4, 14)
    trace = synthetic_trace(lp, a.pe.adcs, kind, np.random.default_rng(3))
    lt = simulate_layer(lp, trace, build_stages(a))
    lb = bound_of(lp, a, trace)
    assert lb.bottleneck == "adc"
    assert lt.counters["sh_stall"] > 0 and lt.counters["input_stall"] == lt.counters["sa_stall"] == 0
    assert lt.cycles == 3 + lt.counters["adc_busy"]
    assert lt.cycles >= lb.bound_cycles
    if over in BALANCED and (kind == "uniform" or over["pe.adcs"] == 1):
        window = int(np.diff(lt.window_end, prepend=0).max())
        assert lt.cycles <= lb.bound_cycles + window
        assert lt.adc_utilisation > 0.9
        if kind == "uniform":
            assert lt.cycles == lb.bound_cycles + 3  # only the first read is exposed


# ---- ISAAC by hand --------------------------------------------------------------------------

@pytest.mark.parametrize("early_termination", [True, False])
@pytest.mark.parametrize("granularity", ["default", "fine"])
def test_isaac_balanced_pe(early_termination, granularity):
    """ISAAC (isaac.yaml): a 1x1 conv 128 -> 128 on a 3x3 map. K = 128 rows (one row part);
    16-bit offset weights (ISAAC's encoding, one polarity) on 2-bit cells = 8 slices, 128 x 8 =
    1024 columns = 8 column parts = 8 crossbars of 128 x 128 fully used: one PE.
    W = 9 windows x 16 input cycles (16-bit inputs, 1-bit DACs) = 144 steps.

    Per step: 8 crossbars x 128 columns = 1024 conversions; ADC a takes columns j = a mod 8,
    16 per crossbar, 128 in all, 8 ops each = 1024 ops at 1280 MS/s x 8 / 100 MHz = 512/5 ops per
    cycle: ceil(1024 x 5 / 512) = 10 cycles. S+A: 4 units x 128/5 results per cycle = 512/5,
    1024 results: 10 cycles. The read is 100 ns = 10 cycles.
    Step i (from 0): read_end = max(read_end[i-1] + 10, conv_end[i-1]) = 10 (i + 1),
    conv_end = read_end + 10 = 10 (i + 2). Window n ends with step 16 n + 15:
    10 (16 n + 17) = 160 n + 170; the layer, n = W - 1 = 8, at 160 x 9 + 10 = 1450 cycles.
    """
    a = arch("isaac", **{"adc.early_termination": early_termination})
    lp = placed(a, LayerShape.conv2d("c", 128, 128, 1, 3))
    g = lp.geometry
    assert (lp.crossbars, lp.n_pes, g.input_cycles, lp.layer.n_vectors) == (8, 1, 16, 9)
    assert g.cell_utilisation == 1.0
    trace = np.full((9, 16, 8, 8), 16 * 8, np.int32)
    lt = simulate_layer(lp, trace, build_stages(a), granularity=granularity)
    assert list(lt.window_end) == [160 * n + 170 for n in range(9)]
    assert lt.cycles == 1450 == 10 * 16 * 9 + 10
    assert lt.counters["adc_busy"] == lt.counters["sa_busy"] == 1440
    assert lt.counters["sh_stall"] == lt.counters["input_stall"] == lt.counters["sa_stall"] == 0
    assert lt.adc_utilisation == pytest.approx(1440 / 1450)
    assert bound_of(lp, a, trace).bound_cycles == 1440


# ---- real traces (isaacsim.mvm / isaacsim.simulate) -------------------------------------------

@pytest.mark.parametrize("adcs", [1, 3, 8, 40])
def test_lane_columns_agree_with_the_trace_layout(adcs):
    a = arch(**{**SMALL, "crossbar.cols": 24, "pe.adcs": adcs})
    lp = placed(a, LayerShape.linear("fc", 40, 9))
    g = lp.geometry
    want = np.bincount(g.column_lanes(adcs).ravel(), minlength=g.crossbars * g.lanes(adcs))
    np.testing.assert_array_equal(lane_columns(lp, adcs).ravel(), want)


@pytest.mark.parametrize("early_termination", [True, False])
@pytest.mark.parametrize("over", [{"pe.adcs": 3, "adc.ops_per_cycle": 2.5}, {"pe.adcs": 8},
                                  {"pe.adcs": 32, "crossbar.cols": 8}])
def test_real_mvm_traces(over, early_termination):
    """TRQ traces from isaacsim.mvm on a small conv: both granularities agree, the bound holds."""
    a = arch(**{**SMALL, **over, "adc.early_termination": early_termination})
    layer = LayerShape.conv2d("c", 3, 4, 3, 4, padding=1)
    lp = placed(a, layer, copies=2)
    rng = np.random.default_rng(11)
    x = rng.integers(0, 256, (layer.n_vectors, lp.geometry.k))
    w = rng.integers(-127, 128, (lp.geometry.k, lp.geometry.m))
    _, stats = isaacsim.mvm(x, w, a, trace=True)
    trace = stats["ad_ops_trace"]
    stages = build_stages(a)
    d = simulate_layer(lp, trace, stages)
    f = simulate_layer(lp, trace, stages, granularity="fine")
    assert d.cycles == f.cycles and d.counters == f.counters
    np.testing.assert_array_equal(d.window_end, f.window_end)
    ops = stats["ad_ops"] if early_termination else a.adc.resolution * stats["conversions"]
    assert d.adc_ops == ops
    assert d.cycles >= layer_bound(lp, stages, stats["ad_ops"], stats["conversions"]).bound_cycles


def test_simulated_lenet5_layers_from_run_traces():
    """simulate(traces=1) on the shipped LeNet-5: every layer's schedule from its own trace."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    a = arch()
    res = isaacsim.simulate(a, root / "workloads" / "lenet5_mnist5k", samples=1, traces=1)
    mapping = place_network(layers_of(isaacsim.load_workload(root / "workloads" / "lenet5_mnist5k")), a)
    stages = build_stages(a)
    assert sorted(res.traces()) == sorted(lp.name for lp in mapping.layers)
    for name, tr in res.traces().items():
        lp = mapping.layer(name)
        st = res.layers[name]
        lt = simulate_layer(lp, tr[0], stages)
        assert lt.adc_ops == st.ad_ops
        assert lt.cycles >= layer_bound(lp, stages, st.ad_ops, st.conversions).bound_cycles
