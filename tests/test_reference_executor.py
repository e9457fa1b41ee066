"""Integer reference executor: node by node against independent nested-loop / Fraction arithmetic,
and the pluggable matmul swapped for isaacsim.mvm with a lossless ADC (bit-identical logits)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import isaacsim
from isaacsim.errors import WorkloadError
from isaacsim.workload import execute, predict, save_workload
from tests.support.workloads import tiny_parts


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    manifest, arrays, ev = tiny_parts(seed=1, n_eval=3)
    return save_workload(manifest, tmp_path_factory.mktemp("tiny") / "w", arrays=arrays, eval=ev)


def rhu(num: int, den: int) -> int:
    """round half up of num/den via exact fractions."""
    return math.floor(Fraction(num, den) + Fraction(1, 2))


def clampi(v, f):
    return min(max(v, f.lo), f.hi)


def conv_loops(x, w, bias, zp, stride, pad, groups):
    """Direct conv over raw codes; padding holds the zero point. x (C,H,W), w (O, C/g, kh, kw)."""
    c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    ho, wo = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((o, ho, wo), dtype=object)
    og = o // groups
    for oc in range(o):
        g = oc // og
        for oy in range(ho):
            for ox in range(wo):
                acc = 0
                for ci in range(cg):
                    for i in range(kh):
                        for j in range(kw):
                            yy, xx = oy * stride + i - pad, ox * stride + j - pad
                            v = int(x[g * cg + ci, yy, xx]) if 0 <= yy < h and 0 <= xx < wd else zp
                            acc += v * int(w[oc, ci, i, j])
                out[oc, oy, ox] = acc + (int(bias[oc]) if bias is not None else 0)
    return out


def requant_manual(acc, node, arrays, relu):
    rq = node.requant
    mult = arrays[rq.multiplier] if isinstance(rq.multiplier, str) else None
    out = np.zeros(acc.shape, dtype=np.int64)
    for idx in np.ndindex(acc.shape):
        m = int(mult[idx[0]]) if mult is not None else rq.multiplier
        v = rhu(int(acc[idx]) * m, 2**rq.shift) + rq.zero_point
        if relu:
            v = max(v, rq.zero_point)
        out[idx] = clampi(v, rq)
    return out


def _want_conv2d(n, v, a, f):
    acc = conv_loops(v(n.inputs[0]), a[n.weight], a[n.bias] if n.bias else None,
                     f[n.inputs[0]].zero_point, int(n.stride) if isinstance(n.stride, int) else 1,
                     n.padding if isinstance(n.padding, int) else n.padding[0], n.groups)
    return requant_manual(acc, n, a, n.activation == "relu")


def _want_linear(n, v, a, f):
    xin, w = v(n.inputs[0]), a[n.weight]
    acc = np.array([sum(int(xin[k]) * int(w[o, k]) for k in range(w.shape[1])) + int(a[n.bias][o])
                    for o in range(w.shape[0])], dtype=object)
    return requant_manual(acc, n, a, False)


def _want_maxpool(n, v, a, f):
    xin = v(n.inputs[0])
    c, h, wd = xin.shape
    return np.array([[[max(int(xin[ch, 2 * i + di, 2 * j + dj]) for di in range(2) for dj in range(2))
                       for j in range(wd // 2)] for i in range(h // 2)] for ch in range(c)])


def _want_avgpool(n, v, a, f):
    """Kernel 3, stride 1, padding 1, count includes the zp-filled border."""
    xin, zp = v(n.inputs[0]), f[n.inputs[0]].zero_point
    c, h, wd = xin.shape
    want = np.zeros_like(xin)
    for ch, i, j in np.ndindex(c, h, wd):
        s = sum(int(xin[ch, i + di, j + dj]) if 0 <= i + di < h and 0 <= j + dj < wd else zp
                for di in (-1, 0, 1) for dj in (-1, 0, 1))
        want[ch, i, j] = rhu(s, 9)
    return want


def _want_global_avgpool(n, v, a, f):
    xin = v(n.inputs[0])
    return np.array([[[rhu(int(xin[ch].sum()), xin[ch].size)]] for ch in range(xin.shape[0])])


def _want_add(n, v, a, f):
    p, q = (v(i) for i in n.inputs)
    zp1, zp2 = (f[i].zero_point for i in n.inputs)
    m1, m2 = n.requant.multipliers
    want = np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        s = (int(p[idx]) - zp1) * m1 + (int(q[idx]) - zp2) * m2
        r = rhu(s, 2**n.requant.shift) + n.requant.zero_point
        want[idx] = clampi(max(r, n.requant.zero_point), n.requant)
    return want


def _want_concat(n, v, a, f):
    parts = []
    for i, m in zip(n.inputs, n.requant.multipliers, strict=True):
        xin = v(i)
        rq, zp = n.requant, f[i].zero_point
        part = np.zeros_like(xin)
        for idx in np.ndindex(xin.shape):
            part[idx] = clampi(rhu((int(xin[idx]) - zp) * m, 2**rq.shift) + rq.zero_point, rq)
        parts.append(part)
    return np.concatenate(parts, axis=0)


DIRECT = {
    "conv2d": _want_conv2d,
    "linear": _want_linear,
    "maxpool": _want_maxpool,
    "avgpool": _want_avgpool,
    "global_avgpool": _want_global_avgpool,
    "relu": lambda n, v, a, f: np.maximum(v(n.inputs[0]), f[n.inputs[0]].zero_point),
    "flatten": lambda n, v, a, f: v(n.inputs[0]).reshape(-1),
    "add": _want_add,
    "concat": _want_concat,
}
"""op -> (node, v: input name -> this sample's tensor, arrays, formats) -> the node's output, computed directly."""


def test_each_node_against_direct_computation(tiny):
    wl = tiny
    x = wl.eval.x
    out, nodes = execute(wl, x, return_nodes=True)
    assert out.dtype == np.int64 and out.shape == (3, 5)
    assert np.array_equal(out, nodes["fc"])
    a = wl.arrays
    f = wl.formats
    for b in range(x.shape[0]):
        def v(name, b=b):
            return x[b] if name == "input" else nodes[name][b]

        for n in wl.nodes:
            got = nodes[n.name][b]
            if n.op not in DIRECT:
                raise AssertionError(n.op)
            want = DIRECT[n.op](n, v, a, f)
            assert np.array_equal(got, np.asarray(want, dtype=np.int64)), (n.name, b)
            f_out = f[n.name]
            assert got.min() >= f_out.lo and got.max() <= f_out.hi, n.name


def test_outputs_are_not_trivial(tiny):
    """Guard against a degenerate fixture: activations vary and are not all saturated."""
    _, nodes = execute(tiny, tiny.eval.x, return_nodes=True)
    for name in ("conv1", "conv2", "res", "cat", "fc"):
        assert len(np.unique(nodes[name])) > 3, name
    assert (nodes["conv3"] < 0).any()  # relu3 has something to do


def test_matmul_is_pluggable(tiny):
    calls = []

    def mm(name, x2d, w2d):
        calls.append((name, x2d.shape, w2d.shape))
        return x2d.astype(np.int64) @ w2d.astype(np.int64)

    out = execute(tiny, tiny.eval.x, matmul=mm)
    assert np.array_equal(out, execute(tiny, tiny.eval.x))
    assert calls == [("conv1", (3 * 36, 18), (18, 4)), ("conv2", (3 * 9, 36), (36, 4)),
                     ("conv3", (27, 2), (2, 1)), ("conv3", (27, 2), (2, 1)), ("fc", (3, 6), (6, 5))]


def test_mvm_with_ideal_adc_is_bit_identical(tiny):
    arch = isaacsim.load_arch("trq", overrides={"adc.mode": "ideal"})
    assert arch.datapath.input_bits == 8 and arch.datapath.weight_bits == 8

    def mm(name, x2d, w2d):
        y, stats = isaacsim.mvm(x2d, w2d, arch)
        assert stats["conversions"] > 0
        return y

    x = tiny.eval.x
    ref = execute(tiny, x)
    sim = execute(tiny, x, matmul=mm)
    assert sim.dtype == np.int64 and np.array_equal(sim, ref)
    assert np.array_equal(predict(tiny, x, matmul=mm), ref.argmax(axis=1))


def test_input_checks(tiny):
    x = tiny.eval.x
    with pytest.raises(WorkloadError, match="integers"):
        execute(tiny, x.astype(np.float32))
    with pytest.raises(WorkloadError, match="shape"):
        execute(tiny, x[:, :1])
    with pytest.raises(WorkloadError, match=r"0\.\.255"):
        execute(tiny, x.astype(np.int64) - 1 - x.astype(np.int64).max())


def test_accumulator_overflow_is_an_error(tmp_path):
    manifest, arrays, ev = tiny_parts()
    arrays["conv1.b"] = np.full(4, 2**31 - 1, np.int32)
    wl = save_workload(manifest, tmp_path / "w", arrays=arrays)
    with pytest.raises(WorkloadError, match="layer 'conv1'.*overflows int32"):
        execute(wl, ev[0])
