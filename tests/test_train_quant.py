"""Core of the training front-end: PPQ, Eq. 6, AB/STE/PTQ quantizers, API."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from isaacsim.train import (
    ActQuantizer,
    AlphaSchedule,
    QuantConv2d,
    QuantLinear,
    WeightQuantizer,
    alpha,
    blend,
    convert,
    fold_batchnorm,
    maxabs,
    ppq,
    prepare,
    quant_layers,
    ste,
    ste_blend,
    step,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- toy problem
def _toy(lr: float, t0: int, t1: int, steps: int = 20, blended: bool = True):
    """The alpha-blending paper's Fig. 3: minimise (w - 5.7)^2 with wq = round(w), w0 = 2, plain SGD."""
    w = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    a, trace = 0.0, []
    for s in range(steps):
        wq = torch.round(w.detach())
        opt.zero_grad()
        w_eff = blend(w, wq, a) if blended else w
        ((w_eff - 5.7) ** 2).backward()
        opt.step()
        a = alpha(s + 1, t0, t1)  # Algorithm 1: raise alpha after the update
        trace.append((w.item(), a))
    return w.item(), a, trace


def test_toy_problem_converges_to_six():
    w, a, trace = _toy(lr=0.25, t0=2, t1=10)
    assert a == 1.0
    assert round(w) == 6  # the final quantized solution wq = 6
    assert 5.5 < w < 5.56  # the paper ends at w = 5.506555: just past the rounding boundary
    # once alpha is 1 the gradient (1 - alpha) dL/dw' vanishes and w stops moving
    frozen = [wi for wi, ai in trace if ai == 1.0]
    assert len(frozen) > 5 and max(frozen) == min(frozen)
    # the float problem alone goes to 5.7 (its rounding is also 6, but w is not frozen there)
    wf, _, _ = _toy(lr=0.25, t0=2, t1=10, blended=False)
    assert abs(wf - 5.7) < 1e-4


# ------------------------------------------------------------------------------------- PPQ
def _err(x: torch.Tensor, gamma: float, bits: int) -> float:
    qmax = 2 ** (bits - 1) - 1
    return float(((x - gamma * torch.clamp(torch.round(x / gamma), -qmax, qmax)) ** 2).sum())


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_ppq_converges_and_matches_brute_force(bits):
    """PPQ is alternating minimisation, a local method: from the max-abs start it can stop at a
    scale whose error is up to ~2x the global best on unlucky 12-element vectors (measured), so
    a blanket "within x% of the brute-force optimum" would be false.  What we assert instead:
    (a) it converges: gamma is a fixed point, one more pass changes nothing, and both
    optimality conditions hold (q = round(x/gamma), gamma = <x,q>/<q,q>);
    (b) its error never exceeds the max-abs initialisation's (every PPQ step is a descent step);
    (c) it matches the brute force: started from the best gamma of a fine grid search it stays
    at (or improves on) that optimum, i.e. the global optimum is one of PPQ's fixed points;
    (d) at <= 4 bits, from its default start it reaches the brute-force optimum (within 2%)
    on at least half the vectors (measured 26/16/20 of 30 at 2/3/4 bits); at 8 bits the error
    as a function of gamma has many shallow local minima and this rate drops (4/30), so (d)
    is not asserted there.
    """
    g = _gen(bits)
    qmax = 2 ** (bits - 1) - 1
    hits = 0
    for _ in range(30):
        x = torch.randn(12, generator=g, dtype=torch.float64)
        gamma, q = ppq(x, bits)
        gamma_f = float(gamma)
        assert gamma.dim() == 0 and gamma_f > 0
        assert torch.equal(q, torch.clamp(torch.round(x / gamma), -qmax, qmax))
        assert math.isclose(gamma_f, float((x * q).sum() / (q * q).sum()), rel_tol=1e-12)
        again, q2 = ppq(x, bits, gamma=gamma, max_iter=1)
        assert float(again) == gamma_f and torch.equal(q2, q)
        g0, _ = maxabs(x, bits)
        e_ppq = _err(x, gamma_f, bits)
        assert e_ppq <= _err(x, float(g0), bits) + 1e-12
        top = float(x.abs().max())
        grid = torch.linspace(top / qmax / 4, 1.5 * top, 20001, dtype=torch.float64)
        q_grid = torch.clamp(torch.round(x[None, :] / grid[:, None]), -qmax, qmax)
        errs = ((x[None, :] - grid[:, None] * q_grid) ** 2).sum(dim=1)
        i_best = int(torch.argmin(errs))
        best = float(errs[i_best])
        g_b, _ = ppq(x, bits, gamma=float(grid[i_best]))
        assert _err(x, float(g_b), bits) <= best * (1 + 1e-9)
        hits += e_ppq <= 1.02 * best
    if bits <= 4:
        assert hits >= 15, hits


def test_ppq_stops_changing():
    x = torch.randn(1000, generator=_gen(7), dtype=torch.float64)
    g_100, _ = ppq(x, 4)
    g_1000, _ = ppq(x, 4, max_iter=1000)
    assert float(g_100) == float(g_1000)  # converged (here in ~30 refits), not cut off
    g_next, _ = ppq(x, 4, gamma=g_100, max_iter=1)
    assert float(g_next) == float(g_100)
    g_tol, _ = ppq(x, 4, tol=1e-3)  # a loose tolerance stops earlier, near the same scale
    assert math.isclose(float(g_tol), float(g_100), rel_tol=0.05)


def test_ppq_per_channel_equals_per_tensor_per_channel():
    w = torch.randn(6, 3, 3, 3, generator=_gen(1), dtype=torch.float64)
    w[2] *= 10.0
    for dim in (0, 1):
        gamma, q = ppq(w, 4, per_channel_dim=dim)
        assert gamma.shape == tuple(w.shape[d] if d == dim else 1 for d in range(4))
        for c in range(w.shape[dim]):
            gc, qc = ppq(w.select(dim, c), 4)
            assert float(gamma.reshape(-1)[c]) == float(gc)
            assert torch.equal(q.select(dim, c), qc)


def test_ppq_all_zero():
    gamma, q = ppq(torch.zeros(5, 4), 8)
    assert float(gamma) > 0 and torch.count_nonzero(q) == 0
    w = torch.randn(3, 4, generator=_gen(2))
    w[1] = 0
    gamma, q = ppq(w, 8, per_channel_dim=0)
    assert bool((gamma > 0).all()) and torch.count_nonzero(q[1]) == 0
    assert torch.isfinite(gamma).all()


def test_maxabs_scale():
    x = torch.tensor([[1.0, -2.0], [0.5, 0.25]])
    gamma, q = maxabs(x, 8, per_channel_dim=0)
    assert torch.allclose(gamma.reshape(-1), torch.tensor([2 / 127, 0.5 / 127]))
    assert q.abs().max() == 127 and q[0, 1] == -127 and q[1, 0] == 127


# ------------------------------------------------------------------------------------ Eq. 6
def test_eq6_values():
    assert alpha(-5, 10, 20) == 0.0
    assert alpha(10, 10, 20) == 0.0
    assert alpha(15, 10, 20) == 1.0 - 0.5**3
    assert math.isclose(alpha(12, 10, 20), 1.0 - 0.8**3)
    assert alpha(20, 10, 20) == 1.0
    assert alpha(21, 10, 20) == 1.0
    with pytest.raises(ValueError):
        alpha(0, 5, 5)


def test_schedule_per_batch_and_per_epoch():
    per_batch = AlphaSchedule(t0=2, t1=6, per="batch")
    per_epoch = AlphaSchedule(t0=0, t1=2, per="epoch")
    seen_b, seen_e = [], []
    for _epoch in range(3):
        for _batch in range(4):
            seen_b.append(per_batch.value)
            seen_e.append(per_epoch.value)
            per_batch.batch_end()
            per_epoch.batch_end()
        per_batch.epoch_end()
        per_epoch.epoch_end()
    assert seen_b == [alpha(s, 2, 6) for s in range(12)]
    assert seen_e == [alpha(e, 0, 2) for e in range(3) for _ in range(4)]
    assert seen_e[4] == 1.0 - 0.5**3 and seen_b[4] == 1.0 - 0.5**3
    restored = AlphaSchedule(0, 1)
    restored.load_state_dict(per_epoch.state_dict())
    assert restored.value == per_epoch.value == 1.0 and restored.batches == 12


# ------------------------------------------------------------------------ blending and STE
@pytest.mark.parametrize("a", [0.0, 0.1, 0.3, 0.5, 0.77, 0.999, 1.0])
def test_blended_gradient_is_one_minus_alpha_times_float_gradient(a):
    g = _gen(3)
    w = torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    x = torch.randn(7, 5, generator=g, dtype=torch.float64)
    _, q = ppq(w.detach(), 4)
    wq = ppq(w.detach(), 4)[0] * q
    w_ab = blend(w, wq, a)
    loss = (torch.tanh(x @ w_ab.T) ** 2).sum()
    loss.backward()
    # the float gradient dL/dw' evaluated at w' = w_ab
    wp = w_ab.detach().clone().requires_grad_(True)
    (torch.tanh(x @ wp.T) ** 2).sum().backward()
    assert torch.equal(w.grad, (1.0 - a) * wp.grad)


def _layer_pair(kind: str, method: str, every: int = 1):
    torch.manual_seed(0)
    if kind == "conv":
        flt = nn.Conv2d(3, 4, 3, padding=1, dtype=torch.float64)
        q = QuantConv2d.from_float(flt, wbits=4, abits=None, method=method, every=every)
        x = torch.randn(2, 3, 6, 6, dtype=torch.float64)

        def ref(inp, weight):
            return F.conv2d(inp, weight, flt.bias, padding=1)
    else:
        flt = nn.Linear(5, 3, dtype=torch.float64)
        q = QuantLinear.from_float(flt, wbits=4, abits=None, method=method, every=every)
        x = torch.randn(4, 5, dtype=torch.float64)

        def ref(inp, weight):
            return F.linear(inp, weight, flt.bias)
    return q, x, ref


@pytest.mark.parametrize("kind", ["conv", "linear"])
def test_alpha_one_uses_only_quantized_weights(kind):
    layer, x, ref = _layer_pair(kind, "ab", every=10**9)  # wq computed once, then kept
    layer.alpha = 1.0
    out = layer(x)
    wq = layer.weight_quant.wq
    assert torch.equal(out, ref(x, wq))
    # wq really is gamma * integer codes within 4 bits
    codes = layer.weight_quant.codes
    assert torch.equal(codes, torch.round(codes)) and codes.abs().max() <= 7
    # nudge w by less than half a quantization step, without recomputing wq: same output
    half = layer.weight_quant.gamma / 2
    with torch.no_grad():
        layer.weight.add_(0.49 * half * torch.sign(torch.randn_like(layer.weight)))
    assert torch.equal(layer(x), out)
    # no gradient reaches w at alpha = 1
    layer.weight.grad = None
    layer(x).sum().backward()
    assert torch.count_nonzero(layer.weight.grad) == 0


@pytest.mark.parametrize("kind", ["conv", "linear"])
def test_alpha_zero_is_the_float_layer(kind):
    layer, x, ref = _layer_pair(kind, "ab")
    assert layer.alpha == 0.0
    assert torch.equal(layer(x), ref(x, layer.weight))


@pytest.mark.parametrize("kind", ["conv", "linear"])
def test_ste_forward_quantized_gradient_straight_through(kind):
    layer, x, ref = _layer_pair(kind, "ste")
    assert layer.alpha == 0.0  # STE shares the schedule: float before T0
    assert torch.equal(layer(x), ref(x, layer.weight))
    layer.alpha = 1.0
    out = layer(x)
    wq = layer.weight_quant.wq
    assert torch.equal(out, ref(x, wq))
    (out**2).sum().backward()
    wp = wq.detach().clone().requires_grad_(True)
    (ref(x, wp) ** 2).sum().backward()
    assert torch.equal(layer.weight.grad, wp.grad)
    w = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    wq2 = torch.round(w.detach())
    s = ste(w, wq2)
    assert torch.equal(s, wq2)
    (s * torch.arange(9.0, dtype=torch.float64).reshape(3, 3)).sum().backward()
    assert torch.equal(w.grad, torch.arange(9.0, dtype=torch.float64).reshape(3, 3))


@given(a=st.floats(0.0, 1.0))
@settings(max_examples=25, deadline=None)
def test_ste_blend_same_forward_as_ab_full_gradient(a):
    torch.manual_seed(3)
    w = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    wq = torch.round(w.detach() * 2) / 2
    g = torch.randn(4, 6, dtype=torch.float64)
    out_ab, out_ste = blend(w, wq, a), ste_blend(w, wq, a)
    assert torch.equal(out_ab, out_ste)
    (out_ste * g).sum().backward()
    assert torch.allclose(w.grad, g, rtol=0, atol=1e-15)


def test_step_raises_alpha_only_every_f_steps():
    net = prepare(nn.Sequential(nn.Linear(3, 2)), wbits=4, abits=None, t0=0, t1=10)
    got = [step(net, s, every=4) for s in range(12)]
    assert got == [alpha(4 * (s // 4), 0, 10) for s in range(12)]
    assert got[3] == 0.0 and got[4] == alpha(4, 0, 10)


def test_disabled_activation_quantizer_observes_but_passes_through():
    q = ActQuantizer(4, signed=False)
    q.enabled = False
    x = torch.rand(64) * 3
    q.train()
    assert torch.equal(q(x), x) and q.initialized
    q.enabled = True
    assert not torch.equal(q(x), x)


def test_ptq_is_maxabs_without_gradient():
    layer, x, ref = _layer_pair("linear", "ptq")
    out = layer(x)
    gamma, q = maxabs(layer.weight.detach(), 4, per_channel_dim=0)
    assert torch.equal(out, ref(x, gamma * q))
    out.sum().backward()
    assert layer.weight.grad is None  # post-training: nothing flows back to w


def test_weight_quantizer_refresh_every_f_steps():
    wqz = WeightQuantizer(4, every=3, method="ab")
    w = torch.randn(4, 6, generator=_gen(5))
    assert wqz(w) is w and not wqz.valid  # alpha = 0: the float weight, no PPQ run
    wqz.alpha = 0.5
    seen = []
    for i in range(7):
        wqz(w * (1 + i))
        seen.append(wqz.wq.clone())
    same = [torch.equal(seen[i], seen[i - 1]) for i in range(1, 7)]
    assert same == [True, True, False, True, True, False]  # refreshed at calls 0, 3, 6
    wqz.eval()
    wqz(w * 100)
    assert torch.equal(wqz.wq, seen[-1])  # eval reuses what training last used
    with pytest.raises(ValueError):
        WeightQuantizer(4, method="bogus")


# ------------------------------------------------------------------------------ activations
def test_act_quantizer_ema_and_eval_freeze():
    aq = ActQuantizer(4, signed=False, momentum=0.9)
    x1 = torch.rand(64, generator=_gen(8)) * 3
    x2 = torch.rand(64, generator=_gen(9)) * 7
    g1 = float(ppq(x1, 4, signed=False)[0])
    aq.train()
    y1 = aq(x1)
    assert math.isclose(float(aq.scale), g1, rel_tol=1e-6)
    aq(x2)  # warm start: PPQ from the current scale, warm_iters refits
    g2 = float(ppq(x2, 4, gamma=g1, max_iter=aq.warm_iters, signed=False)[0])
    assert math.isclose(float(aq.scale), 0.9 * g1 + 0.1 * g2, rel_tol=1e-6)
    assert torch.allclose(y1 / g1, torch.round(y1 / g1), atol=1e-5)  # on the grid g1 * Z
    aq.eval()
    frozen = float(aq.scale)
    y = aq(x2 * 5)
    assert float(aq.scale) == frozen
    codes = y / aq.scale
    assert torch.allclose(codes, torch.round(codes), atol=1e-4)
    assert float(codes.max()) == pytest.approx(15) and float(codes.min()) >= 0
    # clipped STE: gradient 1 inside the range, 0 where clipped
    x = torch.tensor([-1.0, 0.5 * frozen, 100.0 * frozen], requires_grad=True)
    aq(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(RuntimeError):
        ActQuantizer(8).eval()(x1)


def test_act_quantizer_auto_sign():
    aq = ActQuantizer(8, signed=None)
    aq(torch.tensor([-1.0, 2.0]))
    assert aq.signed is True and aq.code_range == (-127, 127)
    aq2 = ActQuantizer(8, signed=None)
    aq2(torch.tensor([0.0, 2.0]))
    assert aq2.signed is False and aq2.code_range == (0, 255)


# -------------------------------------------------------------------------------------- API
def _net():
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Flatten(), nn.Linear(4 * 6 * 6, 10),
    )


def test_fold_batchnorm_equal_in_eval():
    net = _net()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    net.eval()
    x = torch.randn(5, 1, 6, 6)
    before = net(x)
    fold_batchnorm(net)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert net[3].bias is not None
    assert torch.allclose(net(x), before, atol=1e-5, rtol=0)


def test_prepare_step_convert_workflow():
    net = _net()
    fold_batchnorm(net.eval())
    params = {id(p) for p in net.parameters()}
    out = prepare(net, wbits=4, abits=8, method="ab", t0=0, t1=4)
    assert out is net and {id(p) for p in net.parameters()} == params
    layers = [layer for _, layer in quant_layers(net)]
    assert [type(layer) for layer in layers] == [QuantConv2d, QuantConv2d, QuantLinear]
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x, y = torch.randn(8, 1, 6, 6), torch.randint(0, 10, (8,))
    net.train()
    for s in range(6):
        a = step(net, s)
        assert all(layer.alpha == a for layer in layers)
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    assert all(layer.alpha == 1.0 for layer in layers)
    assert layers[0].act_quant.signed is True and layers[1].act_quant.signed is False
    state = {k: v.clone() if torch.is_tensor(v) else v for k, v in net.state_dict().items()}
    convert(net)
    net.eval()
    ref = net(x)
    with torch.no_grad():  # float weights drifting after convert change nothing
        for p in net.parameters():
            if p.dim() > 1:
                p.add_(0.3)
    net.train()
    assert torch.equal(net(x), ref)
    assert all(layer.weight_quant.frozen for layer in layers)
    with pytest.raises(RuntimeError):
        layers[0].alpha = 0.5
    # a fresh prepared model restores the trained state (including alpha and caches)
    other = prepare(_net_folded_like(), wbits=4, abits=8, method="ab", t0=0, t1=4)
    other.load_state_dict(state)
    assert [layer.alpha for _, layer in quant_layers(other)] == [1.0, 1.0, 1.0]


def _net_folded_like():
    net = _net()
    fold_batchnorm(net.eval())
    return net


def test_ptq_calibrate_then_convert():
    net = _net_folded_like()
    prepare(net, wbits=8, abits=8, method="ptq")
    net.train()
    with torch.no_grad():
        for i in range(4):  # calibration: EMA of activation scales, no optimiser
            net(torch.randn(8, 1, 6, 6, generator=_gen(20 + i)))
    convert(net).eval()
    for _, layer in quant_layers(net):
        gamma, q = maxabs(layer.weight.detach(), 8, per_channel_dim=0)
        assert torch.equal(layer.weight_quant.wq, gamma * q)
        assert layer.act_quant.frozen and layer.act_quant.initialized
    x = torch.randn(3, 1, 6, 6)
    assert torch.equal(net(x), net(x))


def test_import_isaacsim_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, isaacsim, isaacsim.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
