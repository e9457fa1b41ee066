"""Post-training quantization: the integer workload tracks the float graph on small random graphs
covering every op; scales, zero points, multipliers and biases follow the rules in docs/zoo.md;
errors name the layer."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from isaacsim.errors import WorkloadError
from isaacsim.workload import execute, load_workload, predict
from isaacsim.workload.ptq import (
    calibrate,
    count_macs,
    dequantize,
    fixed_point,
    float_forward,
    input_format,
    param_shapes,
    quantize_graph,
    quantize_input,
)

ALL_OPS = {"conv2d", "linear", "relu", "maxpool", "avgpool", "global_avgpool", "add", "concat", "flatten"}


def graph_spec(lo: float = 0.0, hi: float = 1.0) -> dict:
    """Every op: conv (relu fused / followed by a relu node / none), grouped conv, residual add,
    fire-style concat, max/avg pools with padding, GAP, flatten, two linears."""
    g = [
        {"name": "c1", "op": "conv2d", "inputs": ["input"], "out_channels": 8, "kernel": 3, "padding": 1,
         "activation": "relu"},
        {"name": "p1", "op": "maxpool", "inputs": ["c1"], "kernel": 3, "stride": 2, "padding": 1},
        {"name": "c2", "op": "conv2d", "inputs": ["p1"], "out_channels": 8, "kernel": 3, "padding": 1},
        {"name": "r2", "op": "relu", "inputs": ["c2"]},
        {"name": "c3", "op": "conv2d", "inputs": ["r2"], "out_channels": 8, "kernel": 3, "padding": 1, "groups": 2},
        {"name": "res", "op": "add", "inputs": ["p1", "c3"], "activation": "relu"},
        {"name": "e1", "op": "conv2d", "inputs": ["res"], "out_channels": 6, "kernel": 1, "activation": "relu"},
        {"name": "e3", "op": "conv2d", "inputs": ["res"], "out_channels": 6, "kernel": 3, "padding": 1,
         "activation": "relu"},
        {"name": "cat", "op": "concat", "inputs": ["e1", "e3"]},
        {"name": "ap", "op": "avgpool", "inputs": ["cat"], "kernel": 3, "stride": 2, "padding": 1},
        {"name": "gap", "op": "global_avgpool", "inputs": ["ap"]},
        {"name": "flat", "op": "flatten", "inputs": ["gap"]},
        {"name": "fc1", "op": "linear", "inputs": ["flat"], "out_features": 16, "activation": "relu"},
        {"name": "fc", "op": "linear", "inputs": ["fc1"], "out_features": 5},
    ]
    return {"input": {"shape": [3, 12, 12], "range": [lo, hi], "bits": 8}, "graph": g}


def random_params(spec, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for k, s in param_shapes(spec).items():
        std = np.sqrt(2 / np.prod(s[1:])) if len(s) > 1 else 0.05
        out[k] = rng.normal(0, std, s)
    return out


def make(seed=0, lo=0.0, hi=1.0, n_eval=120, **kw):
    spec = graph_spec(lo, hi)
    params = random_params(spec, seed)
    rng = np.random.default_rng(100 + seed)
    x = lo + (hi - lo) * rng.random((40 + n_eval, 3, 12, 12))
    wl = quantize_graph(spec, params, x[:40], name="g", eval=x[40:], **kw)
    return spec, params, wl


def real_inputs(wl):
    f = wl.manifest.input
    return (wl.eval.x.astype(np.float64) - f.zero_point) * f.scale


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lo", [0.0, -1.0])
def test_integer_tracks_float(seed, lo):
    spec, params, wl = make(seed, lo=lo)
    assert {n.op for n in wl.nodes} == ALL_OPS
    yf, fnodes = float_forward(spec, params, real_inputs(wl), dtype=np.float64, return_nodes=True)
    q, qnodes = execute(wl, wl.eval.x, return_nodes=True)
    assert np.mean(predict(wl, wl.eval.x) == yf.argmax(axis=1)) >= 0.9
    yq = dequantize(wl, q)
    span = np.abs(yf).max()
    assert np.abs(yq - yf).max() < 0.08 * span
    assert np.corrcoef(yq.ravel(), yf.ravel())[0, 1] > 0.995
    for name in ("c1", "p1", "res", "cat", "ap", "fc1"):  # intermediate tensors too
        a, b = fnodes[name].ravel(), dequantize(wl, qnodes[name], name).ravel()
        assert np.corrcoef(a, b)[0, 1] > 0.99, name


def test_formats_scales_and_zero_points():
    spec, params, wl = make(0, n_eval=4)
    f = wl.formats
    assert wl.manifest.input.scale == pytest.approx(1 / 255) and wl.manifest.input.zero_point == 0
    for name in ("c1", "c2", "e1", "e3", "res", "fc1"):  # ReLU'd (c2 through the relu node r2)
        assert not f[name].signed and f[name].zero_point == 0, name
    assert wl.node("c2").activation == "relu"
    for name in ("c3", "fc"):  # no ReLU: signed symmetric
        assert f[name].signed and f[name].zero_point == 0, name
    for n in wl.nodes:  # the crossbar datapath needs unsigned conv/linear inputs
        if n.op in ("conv2d", "linear"):
            assert not f[n.inputs[0]].signed, n.name
    # scales: range = 99.99th percentile of the calibration activations
    rng = np.random.default_rng(100)
    calib = rng.random((40, 3, 12, 12))
    ranges = calibrate(spec, params, calib)
    _, nodes = float_forward(spec, params, np.rint(calib * 255) / 255, return_nodes=True)
    assert ranges["c1"] == pytest.approx(np.percentile(nodes["c1"], 99.99), rel=1e-5)
    assert ranges["c3"] == pytest.approx(np.percentile(np.abs(nodes["c3"]), 99.99), rel=1e-5)
    assert f["c1"].scale == pytest.approx(ranges["c1"] / 255)
    assert f["c3"].scale == pytest.approx(ranges["c3"] / 127)
    # concat: the output takes the larger input scale; that input passes through exactly
    cat = wl.node("cat").requant
    big = int(np.argmax([f["e1"].scale, f["e3"].scale]))
    assert cat.scale == max(f["e1"].scale, f["e3"].scale)
    assert cat.multipliers[big] == 2**cat.shift


def test_weights_multipliers_biases_in_range():
    _, params, wl = make(1, lo=-1.0, n_eval=4)
    for n in wl.nodes:
        if n.op in ("conv2d", "linear"):
            w = wl.arrays[n.weight]
            assert w.dtype == np.int8
            rows = np.abs(w.reshape(w.shape[0], -1).astype(int))
            assert (rows.max(axis=1) == 127).all(), n.name  # per-channel full symmetric range
            m = wl.arrays[n.requant.multiplier]
            assert m.dtype == np.int32 and m.min() >= 0
            assert 2**30 <= int(m.max()) < 2**31 and 0 <= n.requant.shift <= 62
            b = wl.arrays[n.bias]
            assert b.dtype == np.int32
            # the bias folds the float bias and the zero-point correction
            s_w = np.asarray(n.weight_scale)
            fin = wl.formats[n.inputs[0]]
            want = (np.rint(params[f"{n.name}.b"] / (fin.scale * s_w))
                    - fin.zero_point * w.reshape(w.shape[0], -1).astype(np.int64).sum(axis=1))
            assert np.array_equal(b, want.astype(np.int32)), n.name
            # multiplier / 2^shift ~ s_in * s_w / s_out
            real = fin.scale * s_w / n.requant.scale
            assert np.allclose(m / 2.0**n.requant.shift, real, rtol=1e-6)
        elif n.op in ("add", "concat"):
            assert 2**30 <= max(n.requant.multipliers) < 2**31
    assert wl.manifest.input.zero_point == 128  # [-1, 1] in 8 unsigned bits


def test_save_load_and_calib_storage(tmp_path):
    spec = graph_spec()
    params = random_params(spec, 3)
    x = np.random.default_rng(0).random((12, 3, 12, 12))
    y = np.arange(12) % 5
    wl = quantize_graph(spec, params, x[:8], calib_y=y[:8], eval=(x[8:], y[8:]), name="saved",
                        out=tmp_path / "w")
    back = load_workload(tmp_path / "w")
    assert back.name == "saved"
    assert np.array_equal(back.calib.x, quantize_input(spec, x[:8])) and np.array_equal(back.calib.y, y[:8])
    assert np.array_equal(execute(back, back.eval.x), execute(wl, wl.eval.x))
    # integer eval inputs are taken as codes
    wl2 = quantize_graph(spec, params, x[:8], store_calib=False, eval=quantize_input(spec, x[8:]), name="s2")
    assert wl2.calib is None and np.array_equal(wl2.eval.x, back.eval.x)


def test_float_forward_against_loops():
    """conv with padding/stride/groups, maxpool (padding never wins), avgpool (count includes padding)."""
    spec = {"input": {"shape": [2, 5, 5]}, "graph": [
        {"name": "c", "op": "conv2d", "inputs": ["input"], "out_channels": 4, "kernel": 3, "stride": 2,
         "padding": 1, "groups": 2},
        {"name": "mp", "op": "maxpool", "inputs": ["c"], "kernel": 2, "stride": 1, "padding": 1},
        {"name": "av", "op": "avgpool", "inputs": ["c"], "kernel": 2, "stride": 1, "padding": 1},
    ]}
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(4, 1, 3, 3)), rng.normal(size=4)
    x = rng.normal(size=(1, 2, 5, 5))
    _, nodes = float_forward(spec, {"c.w": w, "c.b": b}, x, dtype=np.float64, return_nodes=True)
    xp = np.pad(x[0], ((0, 0), (1, 1), (1, 1)))
    conv = np.array([[[np.sum(xp[o // 2, 2 * i:2 * i + 3, 2 * j:2 * j + 3] * w[o, 0]) + b[o]
                       for j in range(3)] for i in range(3)] for o in range(4)])
    assert np.allclose(nodes["c"][0], conv)
    cp = np.pad(conv, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    mp = np.array([[[cp[o, i:i + 2, j:j + 2].max() for j in range(4)] for i in range(4)] for o in range(4)])
    assert np.allclose(nodes["mp"][0], mp)
    cz = np.pad(conv, ((0, 0), (1, 1), (1, 1)))
    av = np.array([[[cz[o, i:i + 2, j:j + 2].mean() for j in range(4)] for i in range(4)] for o in range(4)])
    assert np.allclose(nodes["av"][0], av)
    assert count_macs(spec) == {"c": 4 * 9 * 9}


def test_input_format_and_quantize_input():
    f = input_format({"input": {"shape": [1], "range": [0, 1]}})
    assert (f.bits, f.signed, f.zero_point) == (8, False, 0) and f.scale == pytest.approx(1 / 255)
    q = quantize_input({"input": {"shape": [1], "range": [0, 1]}}, np.array([[0.0], [0.5], [1.0], [2.0]]))
    assert q.dtype == np.uint8 and q.ravel().tolist() == [0, 128, 255, 255]


def test_near_dead_channel_gets_a_coarser_scale():
    """A channel whose weights all but vanished (weight decay) would need a bias beyond int32."""
    spec = graph_spec()
    params = random_params(spec, 0)
    params["fc1.w"][3] = 1e-20
    params["fc1.b"][3] = 0.5
    wl = quantize_graph(spec, params, np.random.default_rng(0).random((8, 3, 12, 12)), name="d",
                        store_calib=False)
    assert abs(int(wl.arrays["fc1.b"][3])) <= 2**30
    assert not wl.arrays["fc1.w"][3].any()


def _err(spec, params, match, **kw):
    with pytest.raises(WorkloadError, match=match):
        quantize_graph(spec, params, np.random.default_rng(0).random((4, 3, 12, 12)), name="e", **kw)


def test_errors_name_the_layer():
    spec = graph_spec()
    params = random_params(spec, 0)
    # an int32 accumulator cannot hold 16-bit x 16-bit products (c1 still has 8-bit inputs)
    _err(spec, params, r"layer 'c2'.*accumulator", weight_bits=16, act_bits=16)
    bad = dict(params, **{"e3.w": params["e3.w"][:, :, :2]})
    _err(spec, bad, r"layer 'e3'.*shape")
    missing = {k: v for k, v in params.items() if k != "fc.w"}
    _err(spec, missing, r"layer 'fc'.*missing")
    nan = dict(params, **{"c2.b": np.full(8, np.nan)})
    _err(spec, nan, r"layer 'c2'.*NaN")
    s = copy.deepcopy(spec)
    s["graph"][1]["op"] = "minpool"
    _err(s, params, r"layer 'p1'.*unknown op")
    s = copy.deepcopy(spec)
    s["graph"][4]["stide"] = 2
    _err(s, params, r"layer 'c3'.*unknown key")
    s = copy.deepcopy(spec)
    s["graph"][5]["inputs"] = ["p1", "e1"]
    _err(s, params, r"layer 'res'.*earlier")
    s = copy.deepcopy(spec)
    s["graph"][13]["inputs"] = ["ap"]
    _err(s, params, r"layer 'fc'.*flatten")
    with pytest.raises(WorkloadError, match=r"layer 'x'.*2\^31"):
        fixed_point([3e9, 1.0], "layer 'x'")
    m, shift = fixed_point([0.5, 0.25, 1e-3], "layer 'x'")
    assert m[0] == 2**30 and shift == 31


def test_narrow_weights():
    _, _, wl = make(0, n_eval=40, weight_bits=4)
    for n in wl.nodes:
        if n.op in ("conv2d", "linear"):
            w = wl.arrays[n.weight]
            assert n.weight_bits == 4 and w.dtype == np.int8 and np.abs(w.astype(int)).max() == 7
    assert wl.formats["fc"].bits == 8
