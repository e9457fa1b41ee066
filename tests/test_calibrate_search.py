"""TRQ per-layer search core (isaacsim.calibrate.search): metrics against `convert`, known optima,
brute force over the same candidate grid, classification."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isaacsim.adc import ADCRegisters, convert
from isaacsim.calibrate import (
    classify,
    expected_ops,
    metrics,
    quant_mse,
    search_layer,
    shortest_window,
    trq_metrics,
    uniform_metrics,
)
from isaacsim.errors import ConfigError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def slow(hist, regs):
    """Reference: expand the histogram into samples and average `convert` over them."""
    hist = np.asarray(hist, np.int64)
    samples = np.repeat(np.arange(hist.size), hist)
    values, ops = convert(samples, regs)
    err = values - samples
    return float(ops.mean()), float((err.astype(np.float64) ** 2).mean())


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


# ---------------------------------------------------------------- strategies
@st.composite
def histograms(draw, resolution):
    """Sparse random counts; the length may run past 2^R - 1 (raw samples the ADC clips)."""
    top = 2**resolution
    length = draw(st.integers(1, top + 8))
    n_bins = draw(st.integers(1, min(length, 12)))
    bins = draw(st.lists(st.integers(0, length - 1), min_size=n_bins, max_size=n_bins))
    counts = draw(st.lists(st.integers(1, 20), min_size=n_bins, max_size=n_bins))
    h = np.zeros(length, np.int64)
    np.add.at(h, bins, counts)
    return h


@st.composite
def register_sets(draw, resolution):
    r = resolution
    mode = draw(st.sampled_from(["ideal", "uniform", "trq"]))
    if mode == "ideal":
        return {"mode": "ideal", "resolution": r}
    if mode == "uniform":
        bits = draw(st.integers(1, r))
        delta = draw(st.one_of(st.integers(1, 2**r).map(float), st.floats(0.05, 2.0**r)))
        return {"mode": "uniform", "resolution": r, "bits": bits, "delta": delta}
    return draw(trq_sets(r))


@st.composite
def trq_sets(draw, resolution):
    r = resolution
    n_r2 = draw(st.integers(1, r))
    m = draw(st.integers(0, r - n_r2))
    n_r1 = draw(st.integers(0, r))
    d1 = draw(st.one_of(st.integers(1, 4).map(float), st.floats(0.05, 8.0)))
    bias = draw(st.integers(0, int(2**r / (2**m * d1)) + 2))
    return {"mode": "trq", "resolution": r, "n_r1": n_r1, "n_r2": n_r2, "m": m, "delta_r1": d1, "bias": bias}


@st.composite
def hist_and_regs(draw):
    r = draw(st.integers(2, 10))
    return draw(histograms(r)), draw(register_sets(r))


# ---------------------------------------------------------------- metrics == convert
@SETTINGS
@given(hist_and_regs())
def test_metrics_equal_convert_reference(case):
    hist, regs = case
    ops, mse = slow(hist, regs)
    assert close(expected_ops(hist, regs), ops)
    assert close(quant_mse(hist, regs), mse)
    assert metrics(hist, ADCRegisters.from_dict(regs)) == (expected_ops(hist, regs), quant_mse(hist, regs))


EDGE_REGS = [
    {"mode": "ideal", "resolution": 8},
    {"mode": "uniform", "resolution": 8, "bits": 4},
    {"mode": "uniform", "resolution": 8, "bits": 3, "delta": 7.3},
    {"mode": "trq", "resolution": 8, "n_r1": 4, "n_r2": 4, "m": 4, "delta_r1": 1.0, "bias": 0},
    {"mode": "trq", "resolution": 8, "n_r1": 0, "n_r2": 8, "m": 0, "delta_r1": 1.0, "bias": 0},
    {"mode": "trq", "resolution": 8, "n_r1": 3, "n_r2": 4, "m": 2, "delta_r1": 1.0, "bias": 25},
    {"mode": "trq", "resolution": 8, "n_r1": 5, "n_r2": 5, "m": 3, "delta_r1": 0.7, "bias": 0},
    {"mode": "trq", "resolution": 8, "n_r1": 2, "n_r2": 3, "m": 5, "delta_r1": 2.5, "bias": 3},
]


def _edge_hists():
    out = {}
    h = np.zeros(256, np.int64)
    h[0] = 17
    out["all at 0"] = h
    h = np.zeros(256, np.int64)
    h[255] = 9
    out["all at 2^R-1"] = h
    h = np.zeros(129, np.int64)
    h[100] = 1
    out["single bin"] = h
    out["length 1"] = np.array([5])
    h = np.zeros(300, np.int64)
    h[[0, 255, 256, 299]] = [3, 1, 2, 4]
    out["past 2^R-1"] = h
    return out


@pytest.mark.parametrize("name,hist", list(_edge_hists().items()))
@pytest.mark.parametrize("regs", EDGE_REGS, ids=lambda r: "-".join(str(v) for v in r.values()))
def test_metrics_edge_cases(name, hist, regs):
    ops, mse = slow(hist, regs)
    assert close(expected_ops(hist, regs), ops)
    assert close(quant_mse(hist, regs), mse)


def test_all_mass_at_zero_trq_costs_detection_plus_n_r1():
    h = np.zeros(256, np.int64)
    h[0] = 10
    regs = {"mode": "trq", "resolution": 8, "n_r1": 0, "n_r2": 4, "m": 4, "delta_r1": 1.0, "bias": 0}
    assert metrics(h, regs) == (1.0, 0.0)


@SETTINGS
@given(st.data())
def test_vectorised_equals_one_by_one(data):
    r = data.draw(st.integers(2, 9))
    hist = data.draw(histograms(r))
    sets = [data.draw(trq_sets(r)) for _ in range(6)]
    cols = {k: np.array([g[k] for g in sets]) for k in ("n_r1", "n_r2", "m", "delta_r1", "bias")}
    ops, mse = trq_metrics(hist, r, **cols)
    assert ops.shape == mse.shape == (6,)
    for i, g in enumerate(sets):
        assert metrics(hist, g) == (ops[i], mse[i])
    bits = np.array([1, r, max(1, r - 1)])
    delta = np.array([1.0, 0.37, 2.0 ** (r - 1)])
    u_ops, u_mse = uniform_metrics(hist, r, bits, delta)
    for i in range(3):
        assert metrics(hist, {"mode": "uniform", "resolution": r, "bits": int(bits[i]), "delta": float(delta[i])}) == (
            u_ops[i], u_mse[i])


def test_bad_histograms_rejected():
    regs = {"mode": "ideal", "resolution": 8}
    for bad in (np.zeros(4, np.int64), np.array([]), np.array([1, -1]), np.ones((2, 2)), np.array([0.5, 1.0])):
        with pytest.raises(ValueError):
            expected_ops(bad, regs)


# ---------------------------------------------------------------- known optima
@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_ideal_case_finds_n_r1_k(k, seed):
    """All mass below 2^k, over half of it at 2^k - 1, n_r2 = R: Eq. 11 with n_r1 = k is optimal
    (any smaller n_r1 sends the top bin to R2 at 1 + 8 operations)."""
    rng = np.random.default_rng(seed)
    h = np.zeros(256, np.int64)
    h[: 2**k] = rng.integers(0, 50, 2**k)
    h[2**k - 1] = h.sum() + 1
    assert classify(h, 8) == "ideal"
    res = search_layer(h, 8, 8)
    assert res.case == "ideal"
    assert res.registers == {"mode": "trq", "resolution": 8, "n_r1": k, "n_r2": 8, "m": 0, "delta_r1": 1.0, "bias": 0}
    assert res.ops == 1 + k and res.mse == 0.0
    assert slow(h, res.registers) == (1.0 + k, 0.0)


def test_ideal_case_eq11_at_lower_n_r2():
    """Mass below 2^3 spread evenly plus a rare tail: n_r1 = 3 covers it; m = R - n_r2."""
    h = np.zeros(256, np.int64)
    h[:8] = 100
    h[203] = 1  # not a multiple of D2 = 8
    res = search_layer(h, 8, 5)
    assert res.case == "ideal"
    g = res.registers
    assert (g["n_r1"], g["m"], g["delta_r1"], g["bias"]) == (3, 3, 1.0, 0)
    assert close(res.ops, (800 * 4 + 6) / 801)
    assert close(res.mse, quant_mse(h, g)) and res.mse > 0  # the tail sample is coarsened in R2


@pytest.mark.parametrize("lo,j,n_r2", [(100, 3, 5), (160, 2, 4), (96, 4, 6), (52, 3, 5), (100, 3, 8)])
def test_normal_case_bias_moves_r1_onto_the_mode(lo, j, n_r2):
    """A flat mode of 2^j values starting at lo, n_r2 >= j + 2: the best code puts
    R1 = [lo, lo + 2^j) with a bias, lossless, at nu + j = 2 + j operations. (An R1 of 2^(j-i)
    values leaves 1 - 2^-i of the mass in R2 at 2 + n_r2 > 2 + j + 1 operations; bias 0 costs
    1 + n_r2 > 2 + j for the mode.)"""
    h = np.zeros(256, np.int64)
    h[lo: lo + 2**j] = 7
    assert classify(h, 8) == "normal"
    res = search_layer(h, 8, n_r2)
    g = res.registers
    assert res.case == "normal" and g["bias"] > 0
    assert g["n_r1"] == j and g["delta_r1"] == 1.0
    assert g["bias"] * 2 ** g["m"] == lo
    assert (res.ops, res.mse) == (2.0 + j, 0.0)
    assert slow(h, g) == (2.0 + j, 0.0)


def test_other_case_uses_n_r1_equal_n_r2_and_no_bias():
    h = np.full(256, 3, np.int64)
    assert classify(h, 8) == "other"
    res = search_layer(h, 8, 4)
    g = res.registers
    assert res.case == "other" and g["n_r1"] == g["n_r2"] == 4 and g["bias"] == 0
    assert res.ops == 5.0
    assert res.mse <= res.uniform_mse  # TRQ at n_r1 = n_r2 contains uniform codes of the grid's D


def test_all_mass_at_zero_search():
    h = np.zeros(129, np.int64)
    h[0] = 1000
    res = search_layer(h, 8, 4)
    assert res.case == "ideal" and res.registers["n_r1"] == 0 and (res.ops, res.mse) == (1.0, 0.0)


# ---------------------------------------------------------------- brute force over the same grid
def _grid(hist, r, k2, c, alpha, beta):
    ymax = min(int(np.flatnonzero(hist)[-1]), 2**r - 1)
    y = max(ymax, 1)
    lo_d, hi_d = alpha * y / (2**k2 - 1), beta * y / (2**k2 - 1)
    if c == 1:
        return ymax, [lo_d]
    return ymax, [lo_d + i * (hi_d - lo_d) / (c - 1) for i in range(c)]


def _normal_sets(ymax, grid, r, k2, m_values):
    """The "normal" case: m from each grid step (rounded log2, clamped), every n_r1 and bias."""
    ms = set()
    for d2 in grid:
        m = math.floor(math.log2(d2) + 0.5)
        m = min(max(m, 0), r - k2)
        if m in m_values:
            ms.add(m)
    if not ms:
        ms = {m for m in m_values if m <= r - k2}
    sets = []
    for m in ms:
        for n1 in range(r + 1):
            for bias in range(ymax // 2**m + 1):
                sets.append(dict(n_r1=n1, n_r2=k2, m=m, delta_r1=1.0, bias=bias))
    return sets


def _candidate_sets(ymax, grid, r, k2, case, m_values):
    """Every register set search_layer documents for the case, in search order."""
    if case == "ideal":
        return [dict(n_r1=n1, n_r2=k2, m=r - k2, delta_r1=1.0, bias=0) for n1 in range(r + 1)]
    if case == "normal":
        return _normal_sets(ymax, grid, r, k2, m_values)
    sets = []
    for d2 in grid:
        for m in m_values:
            if m <= r - k2:
                sets.append(dict(n_r1=k2, n_r2=k2, m=m, delta_r1=d2 / 2**m, bias=0))
    return sets


def brute_force(hist, r, k2, case, c, m_values, alpha=0.1, beta=1.2):
    """Plain loops over the candidates as search_layer documents them."""
    ymax, grid = _grid(hist, r, k2, c, alpha, beta)
    best = None
    for s in _candidate_sets(ymax, grid, r, k2, case, m_values):
        regs = {"mode": "trq", "resolution": r, **s}
        try:
            ADCRegisters.from_dict(regs)
        except ConfigError:
            continue
        ops, mse = metrics(hist, regs)
        if best is None or (ops, mse) < best[:2]:
            best = (ops, mse, regs)
    return best


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_search_never_worse_than_brute_force(data):
    r = data.draw(st.sampled_from([5, 6]))
    hist = data.draw(histograms(r))
    k2 = data.draw(st.integers(1, r))
    case = data.draw(st.sampled_from(["ideal", "normal", "other"]))
    m_values = range(4)
    res = search_layer(hist, r, k2, candidates=8, m_values=m_values, case=case)
    ops, mse, regs = brute_force(hist, r, k2, case, 8, m_values)
    assert res.ops < ops or (res.ops == ops and res.mse <= mse * (1 + 1e-9) + 1e-12)
    assert res.ops == ops and close(res.mse, mse)  # the same grid: the same optimum
    # the chosen registers are valid and reproduce the reported metrics via convert
    ADCRegisters.from_dict(res.registers)
    ADCRegisters.from_dict(res.uniform)
    s_ops, s_mse = slow(hist, res.registers)
    assert close(res.ops, s_ops) and close(res.mse, s_mse)
    u_ops, u_mse = slow(hist, res.uniform)
    assert close(res.uniform_ops, u_ops) and close(res.uniform_mse, u_mse) and u_ops == k2


@pytest.mark.parametrize("r,k2", [(8, 4), (8, 3), (9, 5)])
def test_search_default_grid_classified(r, k2):
    """Default C = 50, m in 0..7 on a skewed (ideal), a tight (normal) and a flat (other) layer."""
    rng = np.random.default_rng(r * 10 + k2)
    top = 2**r
    skew = np.bincount(np.minimum(rng.geometric(0.4, 5000), top - 1), minlength=top)
    tight = np.bincount(np.clip(rng.normal(top * 0.6, 1.5, 5000).astype(int), 0, top - 1), minlength=top)
    flat = rng.integers(0, 5, top)
    for h, case in ((skew, "ideal"), (tight, "normal"), (flat, "other")):
        res = search_layer(h, r, k2)
        assert res.case == case
        g = ADCRegisters.from_dict(res.registers)
        assert g.n_r2 + g.m <= r
        assert close(res.ops, expected_ops(h, g)) and close(res.mse, quant_mse(h, g))
        if case != "other":
            assert res.ops < res.uniform_ops + 2  # never pays more than the detection overhead


def test_search_rejects_bad_arguments():
    h = np.ones(256, np.int64)
    with pytest.raises(ValueError):
        search_layer(h, 8, 9)
    with pytest.raises(ValueError):
        search_layer(h, 8, 0)
    with pytest.raises(ValueError):
        search_layer(h, 8, 4, case="weird")
    with pytest.raises(ValueError):
        search_layer(np.zeros(256, np.int64), 8, 4)


# ---------------------------------------------------------------- classify
def test_classify_clear_cut():
    h = np.zeros(256, np.int64)
    h[:10] = 100
    assert classify(h, 8) == "ideal"
    h[200] = 1  # a thin tail (< 1 %) does not change it
    assert classify(h, 8) == "ideal"
    h = np.zeros(256, np.int64)
    h[140:150] = 100
    assert classify(h, 8) == "normal"
    h[10] = 5  # an outlier below the mode: still one tight mode
    assert classify(h, 8) == "normal"
    assert classify(np.ones(256, np.int64), 8) == "other"
    h = np.zeros(256, np.int64)
    h[20:25] = 100
    h[180:185] = 100
    assert classify(h, 8) == "other"  # two far-apart modes
    h = np.zeros(256, np.int64)
    h[:60] = 10
    assert classify(h, 8) == "other"  # near zero but wide: no 2^(R/2) window holds 99 %
    assert classify(np.array([4]), 8) == "ideal"


def test_classify_resolution_default_and_window():
    h = np.zeros(129, np.int64)  # max_sample 128 -> R = 8 by default
    h[:16] = 1
    assert classify(h) == "ideal"
    h2 = np.zeros(129, np.int64)
    h2[:17] = 1
    assert classify(h2) == "other"  # 17 equal bins: 99 % needs all 17 values, wider than 2^4
    assert classify(h2, window_bits=5) == "ideal"


def test_shortest_window():
    h = np.zeros(50, np.int64)
    h[10:20] = 10
    h[45] = 1
    assert shortest_window(h, 0.99) == (10, 19)
    assert shortest_window(h, 1.0) == (10, 45)
