"""im2col and conv_weight_matrix against a direct nested-loop convolution (exact, int64)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isaacsim.mapping import LayerShape
from isaacsim.workload.im2col import conv_output_hw, conv_weight_matrix, fold_output, im2col


def direct_conv(x, w, stride, padding, dilation, groups, pad_value=0):
    """Obviously-correct grouped conv2d: x (C, H, W), w (Cout, C/groups, kh, kw), int64."""
    c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    mg = cout // groups
    y = np.zeros((cout, ho, wo), dtype=np.int64)
    for o in range(cout):
        g = o // mg
        for oy in range(ho):
            for ox in range(wo):
                acc = 0
                for ci in range(cg):
                    for i in range(kh):
                        for j in range(kw):
                            iy = oy * sh + i * dh - ph
                            ix = ox * sw + j * dw - pw
                            if 0 <= iy < h and 0 <= ix < wd:
                                v = int(x[g * cg + ci, iy, ix])
                            else:
                                v = pad_value
                            acc += v * int(w[o, ci, i, j])
                y[o, oy, ox] = acc
    return y


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 2, 3]))
    depthwise = draw(st.booleans())
    cg = 1 if depthwise else draw(st.integers(1, 3))
    c = groups * cg
    mg = draw(st.integers(1, 3))
    kh = draw(st.integers(1, 3))
    kw = draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h = draw(st.integers(dilation[0] * (kh - 1) + 1, 7))
    w = draw(st.integers(dilation[1] * (kw - 1) + 1, 7))
    pad_value = draw(st.sampled_from([0, 0, 3]))
    seed = draw(st.integers(0, 2**31 - 1))
    return dict(c=c, groups=groups, cout=groups * mg, kernel=(kh, kw), stride=stride,
                dilation=dilation, padding=padding, hw=(h, w), pad_value=pad_value, seed=seed)


@settings(max_examples=60, deadline=None)
@given(conv_cases())
def test_im2col_matches_direct_conv(case):
    rng = np.random.default_rng(case["seed"])
    g = case["groups"]
    x = rng.integers(0, 256, size=(case["c"], *case["hw"]), dtype=np.int64)
    w = rng.integers(-127, 128, size=(case["cout"], case["c"] // g, *case["kernel"]), dtype=np.int64)
    kw = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=g)
    cols = im2col(x, case["kernel"], pad_value=case["pad_value"], **kw)
    wm = conv_weight_matrix(w, groups=g)
    ho, wo = conv_output_hw(case["hw"], case["kernel"], case["stride"], case["padding"], case["dilation"])
    k = case["c"] // g * case["kernel"][0] * case["kernel"][1]
    assert cols.shape == (g, ho * wo, k)
    assert wm.shape == (g, k, case["cout"] // g)
    y = fold_output(cols @ wm, (ho, wo))
    ref = direct_conv(x, w, case["stride"], case["padding"], case["dilation"], g, case["pad_value"])
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, ref)
    # the layer shape agrees with im2col on the matrix and vector count
    layer = LayerShape.conv2d("l", case["c"], case["cout"], case["kernel"], case["hw"], groups=g, **{
        k2: v for k2, v in kw.items() if k2 != "groups"})
    assert (layer.k, layer.m, layer.n_vectors, layer.output_hw) == (k, case["cout"] // g, ho * wo, (ho, wo))


@settings(max_examples=20, deadline=None)
@given(conv_cases(), st.integers(1, 3))
def test_batched_equals_per_sample(case, b):
    rng = np.random.default_rng(case["seed"])
    g = case["groups"]
    xb = rng.integers(-8, 8, size=(b, case["c"], *case["hw"]), dtype=np.int64)
    w = rng.integers(-127, 128, size=(case["cout"], case["c"] // g, *case["kernel"]), dtype=np.int64)
    kw = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=g)
    cols = im2col(xb, case["kernel"], **kw)
    assert cols.shape[:2] == (g, b)
    for i in range(b):
        np.testing.assert_array_equal(cols[:, i], im2col(xb[i], case["kernel"], **kw))
    ho, wo = conv_output_hw(case["hw"], case["kernel"], case["stride"], case["padding"], case["dilation"])
    y = fold_output(cols @ conv_weight_matrix(w, g)[:, None], (ho, wo))
    assert y.shape == (b, case["cout"], ho, wo)
    np.testing.assert_array_equal(y[-1], direct_conv(xb[-1], w, case["stride"], case["padding"],
                                                     case["dilation"], g))


def test_row_order_is_channel_then_kernel_row_then_column():
    x = np.arange(2 * 3 * 3).reshape(2, 3, 3)
    cols = im2col(x, 2)
    # first output pixel (0, 0): channel 0 rows 0-1 cols 0-1, then channel 1
    assert cols[0, 0].tolist() == [0, 1, 3, 4, 9, 10, 12, 13]
    assert cols.shape == (1, 4, 8)
    assert cols[0, 1].tolist() == [1, 2, 4, 5, 10, 11, 13, 14]  # output pixel (0, 1): row-major N


def test_one_by_one_and_depthwise_shapes():
    x = np.ones((4, 5, 5), dtype=np.int32)
    assert im2col(x, 1).shape == (1, 25, 4)
    assert im2col(x, 3, padding=1, groups=4).shape == (4, 25, 9)
    assert im2col(x, 3, padding=1, groups=4).dtype == np.int32


def test_pad_value_fills_border():
    x = np.full((1, 2, 2), 7)
    cols = im2col(x, 3, padding=1, pad_value=5)
    assert sorted(set(cols.ravel().tolist())) == [5, 7]
    assert (cols[0, 0] == 5).sum() == 5


@pytest.mark.parametrize("bad", [
    lambda: im2col(np.zeros((3, 4, 4)), 3, groups=2),
    lambda: im2col(np.zeros((3, 2, 2)), 3),
    lambda: im2col(np.zeros((4, 4)), 1),
    lambda: conv_weight_matrix(np.zeros((3, 1, 3, 3)), groups=2),
])
def test_errors(bad):
    with pytest.raises(ValueError):
        bad()
