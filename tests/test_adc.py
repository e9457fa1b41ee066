"""ADC models: closed forms vs the traced SAR kernel, round half up, TRQ's Eq. 11 case, registers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import isaacsim
from isaacsim.adc import CLOSED_FORMS, ADCRegisters, convert, trace
from isaacsim.config import ADCConfig


@st.composite
def registers(draw):
    r = draw(st.integers(1, 10))
    mode = draw(st.sampled_from(["ideal", "uniform", "trq"]))
    if mode == "ideal":
        return ADCRegisters.of({"mode": "ideal", "resolution": r})
    if mode == "uniform":
        bits = draw(st.integers(1, r))
        delta = draw(st.sampled_from([0.5, 1, 1.5, 2, 3, 2.0 ** (r - bits), 7.25]))
        return ADCRegisters.of({"mode": "uniform", "resolution": r, "bits": bits, "delta": delta})
    n_r2 = draw(st.integers(1, r))
    return ADCRegisters.of({
        "mode": "trq", "resolution": r, "n_r1": draw(st.integers(0, r)), "n_r2": n_r2,
        "m": draw(st.integers(0, r - n_r2)), "delta_r1": draw(st.sampled_from([0.5, 1, 1.5, 2, 3])),
        "bias": draw(st.integers(0, 3)),
    })


@settings(max_examples=150, deadline=None)
@given(regs=registers(), xs=st.lists(st.integers(-5, 1100), min_size=1, max_size=40))
def test_closed_form_matches_sar_trace(regs, xs):
    x = np.array(xs)
    for got, want in zip(trace(x, regs), CLOSED_FORMS[regs.mode](x, regs), strict=True):
        np.testing.assert_array_equal(got, want)


@settings(max_examples=100, deadline=None)
@given(regs=registers())
def test_every_sample_follows_the_design_formulas(regs):
    """docs/datapath.md's ADC formulas written out with exact fractions, over every sample 0..2^R-1 (and beyond)."""
    from fractions import Fraction as F

    def q(x, d, n):
        return min(max(int(np.floor(F(x) / F(d) + F(1, 2))), 0), 2**n - 1)

    x = np.arange(2**regs.resolution + 3)
    values, ops = convert(x, regs)
    for xi, v, o in zip(x, values, ops, strict=True):
        xc = min(int(xi), 2**regs.resolution - 1)
        if regs.mode == "ideal":
            want = (xc, regs.resolution)
        elif regs.mode == "uniform":
            want = (q(xc, regs.delta, regs.bits) * F(regs.delta), regs.bits)
        else:
            d1, d2 = F(regs.delta_r1), F(regs.delta_r2)
            lo, nu = regs.bias * d2, 1 if regs.bias == 0 else 2
            if lo <= xc < lo + 2**regs.n_r1 * d1:
                want = (lo + q(xc - lo, d1, regs.n_r1) * d1, nu + regs.n_r1)
            else:
                want = (q(xc, d2, regs.n_r2) * d2, nu + regs.n_r2)
        assert (F(v), int(o)) == (F(want[0]), want[1]), (xi, regs)


def test_round_half_up_at_exact_boundaries():
    v, ops = convert(np.array([0, 1, 2, 3, 5, 6, 7]), {"mode": "uniform", "resolution": 8, "bits": 6, "delta": 2})
    assert v.tolist() == [0, 2, 2, 4, 6, 6, 8] and (ops == 6).all()
    v, _ = convert(np.array([1, 2, 5, 6]), {"mode": "uniform", "resolution": 8, "bits": 4, "delta": 4})
    assert v.tolist() == [0, 4, 4, 8]
    # TRQ R1 step D1 = 2 below theta = 4 (1 -> 2, 3 -> top code 1 -> 2); R2 step D2 = 4 (5 -> 4, 6 -> 8)
    trq = {"mode": "trq", "resolution": 6, "n_r1": 1, "n_r2": 4, "m": 1, "delta_r1": 2, "bias": 0}
    v, ops = convert(np.array([0, 1, 3, 5, 6]), trq)
    assert v.tolist() == [0, 2, 2, 4, 8] and ops.tolist() == [2, 2, 2, 5, 5]


def test_uniform_clamps_to_top_code_and_clips_input():
    v, _ = convert(np.array([255, 300, -3]), {"mode": "uniform", "resolution": 8, "bits": 3})
    assert v.tolist() == [224, 224, 0]
    v, ops = convert(np.array([-1, 7, 255, 256, 10**6]), {"mode": "ideal", "resolution": 8})
    assert v.tolist() == [0, 7, 255, 255, 255] and (ops == 8).all()


@pytest.mark.parametrize("r, n_r1, n_r2", [(8, 4, 4), (8, 3, 5), (6, 2, 2), (8, 0, 8), (9, 6, 3)])
def test_trq_ideal_case_eq11(r, n_r1, n_r2):
    """D1 = 1, n_r2 + m = R, bias = 0: lossless below 2^n_r1, never more than R + 1 operations."""
    regs = {"mode": "trq", "resolution": r, "n_r1": n_r1, "n_r2": n_r2, "m": r - n_r2, "delta_r1": 1, "bias": 0}
    x = np.arange(2**r)
    v, ops = convert(x, regs)
    small = x < 2**n_r1
    np.testing.assert_array_equal(v[small], x[small])
    assert ops.max() <= r + 1
    assert (ops[small] == 1 + n_r1).all() and (ops[~small] == 1 + n_r2).all()
    assert v.dtype == np.int64


def test_non_integral_step_gives_float_values():
    v, _ = convert(np.array([3]), {"mode": "uniform", "resolution": 8, "bits": 6, "delta": 1.5})
    assert v.dtype == np.float64 and v[0] == 3.0


def test_convert_keeps_shape_and_rejects_floats():
    v, ops = convert(np.arange(12).reshape(3, 4), {"mode": "ideal", "resolution": 4})
    assert v.shape == ops.shape == (3, 4)
    with pytest.raises(ValueError, match="integers"):
        convert(np.array([1.5]), {"mode": "ideal", "resolution": 4})


def test_registers_round_trip_and_sources():
    d = {"mode": "trq", "resolution": 8, "n_r1": 4, "n_r2": 4, "m": 4, "delta_r1": 1, "bias": 0}
    regs = ADCRegisters.from_dict(d)
    assert regs.to_dict() == d and ADCRegisters.from_dict(regs.to_dict()) == regs
    assert ADCRegisters.of(ADCConfig(**d)) == regs and ADCRegisters.of(regs) is regs
    u = ADCRegisters.of({"mode": "uniform", "resolution": 8, "bits": 5})
    assert u.to_dict() == {"mode": "uniform", "resolution": 8, "bits": 5, "delta": 8.0}
    assert ADCRegisters.of(isaacsim.load_arch("trq").adc).to_dict() == d
    # inactive registers do not make two register sets differ
    assert ADCRegisters.of({"mode": "ideal", "resolution": 8, "n_r1": 2}) == ADCRegisters.of({"mode": "ideal"})


@pytest.mark.parametrize("bad, key", [
    ({"mode": "trq", "resolution": 8, "n_r2": 6, "m": 4}, "adc.n_r2"),
    ({"mode": "fancy"}, "adc.mode"),
    ({"mode": "uniform", "bits": 0}, "adc.bits"),
    ({"mode": "ideal", "resolutoin": 8}, "adc.resolutoin"),
    ({"mode": "trq", "delta_r1": -1}, "adc.delta_r1"),
])
def test_register_errors_name_the_key(bad, key):
    with pytest.raises(isaacsim.ConfigError, match=key.replace(".", r"\.")):
        ADCRegisters.of(bad)
