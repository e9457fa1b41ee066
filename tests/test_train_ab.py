"""Alpha-blending as the alpha-blending paper's Algorithm 1: the update is SGD's step times
(1 - alpha), nothing moves an AB weight after T1, and the toy problem of the paper's Figure 3."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch.nn import functional as F  # noqa: E402

from isaacsim.train import QuantLinear, blend  # noqa: E402
from isaacsim.train.loop import TrainConfig, make_optimizer, train, update  # noqa: E402
from isaacsim.train.schedule import alpha as eq6_alpha  # noqa: E402
from isaacsim.train.toy import fig3  # noqa: E402


def _layer(method: str, a: float, seed: int = 0) -> QuantLinear:
    torch.manual_seed(seed)
    lin = QuantLinear(6, 3, wbits=4, abits=None, method=method).double()
    lin.train()
    lin.alpha = a
    return lin


def _batch(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(8, 6, generator=g, dtype=torch.float64), torch.randint(0, 3, (8,), generator=g)


def _cfg(**kw) -> TrainConfig:
    base = dict(model="lenet5", dataset="digits", out="unused", lr=0.1, optimizer="sgd", momentum=0.0,
                weight_decay=0.0, schedule="constant")
    return TrainConfig(**{**base, **kw})


def _step(layer, cfg: TrainConfig):
    """One step of the training loop's own update on ``layer``; returns (w before, w after, bias before)."""
    x, y = _batch()
    opt, _ = make_optimizer(cfg, layer.parameters(), total_steps=10)
    before, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
    update(layer, opt, F.cross_entropy(layer(x), y))
    return before, layer.weight.detach().clone(), bias


def _float_grad(bias: torch.Tensor, w_at: torch.Tensor) -> torch.Tensor:
    """dL/dw' of the float layer (bias ``bias``) evaluated at the weight ``w_at``."""
    x, y = _batch()
    w = w_at.clone().requires_grad_(True)
    F.cross_entropy(F.linear(x, w, bias), y).backward()
    return w.grad


def test_alpha_zero_update_is_plain_sgd():
    layer = _layer("ab", 0.0)
    before, after, bias = _step(layer, _cfg())
    # equal up to rounding: torch's SGD may fuse the multiply-add
    torch.testing.assert_close(after, before - 0.1 * _float_grad(bias, before), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("a", [0.25, 0.5, 0.9])
def test_update_is_sgd_scaled_by_one_minus_alpha(a):
    """Algorithm 1: w <- w - lr (1 - alpha) dL/dw' at w' = (1 - alpha) w + alpha wq."""
    layer = _layer("ab", a)
    before, after, bias = _step(layer, _cfg())
    wq = layer.weight_quant.wq  # what the step's forward used (refreshed from `before`)
    expected = 0.1 * (1 - a) * _float_grad(bias, blend(before, wq, a))
    torch.testing.assert_close(before - after, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("optimizer, momentum", [("sgd", 0.0), ("sgd", 0.9), ("adam", 0.0)])
def test_alpha_one_update_is_zero_even_with_momentum_and_decay(optimizer, momentum):
    layer = _layer("ab", 0.5)
    cfg = _cfg(optimizer=optimizer, momentum=momentum, weight_decay=0.01)
    x, y = _batch()
    opt, _ = make_optimizer(cfg, layer.parameters(), total_steps=10)
    update(layer, opt, F.cross_entropy(layer(x), y))  # builds momentum / Adam state while alpha < 1
    layer.alpha = 1.0
    before, bias_before = layer.weight.detach().clone(), layer.bias.detach().clone()
    for _ in range(3):
        update(layer, opt, F.cross_entropy(layer(x), y))
    assert torch.equal(layer.weight, before)
    assert not torch.equal(layer.bias, bias_before)  # the float bias still trains (Eq. 7)


def test_ste_at_alpha_one_still_moves():
    """The control: the straight-through gradient is not zero at alpha = 1, so STE's weights move."""
    layer = _layer("ste", 1.0)
    before, after, _ = _step(layer, _cfg())
    assert not torch.equal(after, before)


def _weights(out) -> dict:
    model = torch.load(out / "checkpoint.pt", weights_only=True)["model"]
    return {k: v for k, v in model.items() if k.endswith((".weight", ".wq", ".gamma"))}


@pytest.mark.parametrize("method, optimizer", [("ab", "sgd"), ("ab", "adam"), ("ste", "sgd")])
def test_codes_do_not_change_after_t1(tmp_path, method, optimizer):
    """6 steps an epoch, T1 = step 6: alpha is 1 from the first batch of epoch 2 on. The weights, the
    scales and so the integer codes at the end of epoch 2 are those of the end of training (for AB;
    STE keeps training, the control). Momentum and weight decay are on, to carry weights if they could."""
    cfg = _cfg(method=method, optimizer=optimizer, momentum=0.9, weight_decay=1e-3, out=str(tmp_path),
               wbits=4, abits=8, epochs=3, train_samples=192, eval_samples=64, batch_size=32,
               window=(1 / 18, 6 / 18), quiet=True)
    snap = {}

    def keep(row):
        if row["epoch"] == 2:
            snap.update(_weights(tmp_path))
            assert row["alpha"] == 1.0

    res = train(cfg, on_epoch=keep)
    assert res["window_steps"] == [1, 6]
    end = _weights(tmp_path)
    assert snap.keys() == end.keys() and any(k.endswith(".wq") for k in end)
    moved = [k for k in end if not torch.equal(snap[k], end[k])]
    if method == "ab":
        assert moved == []
    else:
        assert any(k.endswith(".weight") for k in moved)


# ------------------------------------------------------------------------- Figure 3
def test_fig3_reaches_six():
    """The paper's toy problem: (w - 5.7)^2 from w = 2.0, 20 SGD steps, wq = round(w), Eq. 6.
    The paper ends at w = 5.506555, wq = 6 (its learning rate and window are not given; these are
    ours, and docs/scripts/toy_problem.py shows how the end point depends on them)."""
    w, a, trace = fig3(lr=0.25, t0=2, t1=10)
    assert a == 1.0 and round(w) == 6 and 5.5 < w < 5.6
    frozen = [wi for wi, _, ai in trace if ai == 1.0]
    assert len(frozen) > 5 and max(frozen) == min(frozen)  # after T1, w does not move


def test_fig3_in_torch_matches_the_plain_python_run():
    """The same 20 steps with the library's blend() and torch's SGD give the same trace."""
    w = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.25)
    a, ours = 0.0, []
    for s in range(20):
        wq = torch.round(w.detach())
        opt.zero_grad()
        ((blend(w, wq, a) - 5.7) ** 2).backward()
        opt.step()
        a = eq6_alpha(s, 2, 10) if a < 1.0 else a
        ours.append(w.item())
    _, _, trace = fig3(lr=0.25, t0=2, t1=10)
    assert ours == pytest.approx([t[0] for t in trace], rel=1e-12)


def test_fig3_too_small_a_learning_rate_stops_short():
    """Each learning rate has its own end point: at 0.05 the window closes before w gets near 5.7."""
    w, a, _ = fig3(lr=0.05, t0=2, t1=10)
    assert a == 1.0 and round(w) < 6


# ------------------------------------------------------------------------- binary weights
def test_binary_ppq_is_sign_and_mean_abs():
    from isaacsim.train import maxabs, ppq

    x = torch.tensor([[0.5, -1.5, 0.0, 2.0], [-0.1, -0.3, 0.2, 0.0]], dtype=torch.float64)
    gamma, q = ppq(x, 1, per_channel_dim=0)
    assert torch.equal(q, torch.tensor([[1.0, -1, 1, 1], [-1, -1, 1, 1]], dtype=torch.float64))
    torch.testing.assert_close(gamma.reshape(-1), x.abs().mean(dim=1))  # <x, sign x> / n
    g_max, q_max = maxabs(x, 1, per_channel_dim=0)
    assert torch.equal(q_max, q) and torch.equal(g_max.reshape(-1), x.abs().amax(dim=1))


def test_binary_weights_train_and_export_as_two_bit_codes(tmp_path):
    import numpy as np

    import isaacsim

    cfg = _cfg(method="ab", wbits=1, abits=8, epochs=1, train_samples=96, eval_samples=32, batch_size=32,
               out=str(tmp_path), momentum=0.9, quiet=True)
    res = train(cfg)
    wl = isaacsim.load_workload(tmp_path / "workload")
    mats = [n for n in wl.nodes if n.op in ("conv2d", "linear")]
    assert [n.weight_bits for n in mats] == [8, 2, 2, 2, 8]
    for n in mats[1:-1]:
        assert set(np.unique(wl.arrays[n.weight])) <= {-1, 1}
    from isaacsim.workload import predict

    assert 100 * float(np.mean(predict(wl, wl.eval.x) == wl.eval.y)) == pytest.approx(100 * res["accuracy"])
