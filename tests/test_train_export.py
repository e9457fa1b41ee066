"""Export of trained GraphNets: the simulator (ideal ADC) equals the frozen torch model exactly.

On the exported workload, the simulator's ideal-ADC predictions equal the torch
fake-quantized model's on the same inputs. Here the torch side is the frozen model's own
forward (:func:`isaacsim.train.export.exact_forward`: float64 convolutions on integer values,
int64 requantization); the simulator side is the crossbar datapath (bit slicing, bit-serial
inputs, ideal ADC, shift-and-add). They are independent implementations of the same integer
model, held equal code for code.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import isaacsim
from isaacsim.errors import WorkloadError
from isaacsim.train.export import exact_forward, exact_predict, export, integerize
from isaacsim.train.graph import build_model, calibrate, freeze, quantize_model, schedule_step
from isaacsim.workload.datasets import load_dataset, take


@pytest.fixture(scope="module")
def digits():
    tr = take(load_dataset("digits", split="train"), 480, seed=1)
    te = take(load_dataset("digits", split="test"), 120, seed=1)
    return (torch.tensor(np.asarray(tr.x, dtype=np.float32)), torch.tensor(np.asarray(tr.y)),
            torch.tensor(np.asarray(te.x, dtype=np.float32)), torch.tensor(np.asarray(te.y)))


def _upsample(x: torch.Tensor, size: int = 28) -> torch.Tensor:
    y = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return torch.round(y.clamp(0, 1) * 255) / 255


def _train(model: str, method: str, wbits: int, abits: int, data, size: int | None, steps: int = 60):
    torch.manual_seed(0)
    xtr, ytr, xte, yte = data
    if size:
        xtr, xte = _upsample(xtr, size), _upsample(xte, size)
    net = build_model(model, tuple(xtr.shape[1:]))
    qkw = dict(method=method, wbits=wbits, abits=abits, t0=steps // 3, t1=2 * steps // 3)
    if method != "ptq":  # PTQ quantizes the trained float model
        quantize_model(net, **qkw)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    for s in range(steps):
        i = (s * 32) % len(xtr)
        if method != "ptq":
            schedule_step(net, s)
        loss = F.cross_entropy(net(xtr[i:i + 32]), ytr[i:i + 32])
        opt.zero_grad()
        loss.backward()
        opt.step()
    if method == "ptq":
        quantize_model(net, **qkw)
        calibrate(net, xtr[:32])
    net.eval()
    with torch.no_grad():
        qat_logits = net(xte)
    freeze(net)
    return net, (xtr, ytr, xte, yte), qat_logits


def _ideal():
    return isaacsim.load_arch("trq_baseline", {"adc.mode": "ideal"})


CASES = [("lenet5", "ab", 4, 4, 28, 120), ("lenet5", "ste", 4, 8, 28, 120),
         ("lenet5", "ptq", 8, 8, 28, 120), ("resnet20", "ab", 4, 4, None, 60)]


@pytest.mark.parametrize("model,method,wbits,abits,size,steps", CASES)
def test_simulator_ideal_adc_equals_frozen_torch_model(tmp_path, digits, model, method, wbits, abits,
                                                       size, steps):
    net, (xtr, ytr, xte, yte), qat_logits = _train(model, method, wbits, abits, digits, size, steps)
    wl = export(net, tmp_path / "wl", name=f"{model}_{method}", calib=(xtr[:32], ytr[:32]),
                eval=(xte, yte))
    res = isaacsim.simulate(_ideal(), wl, timing=False)
    codes, _ = exact_forward(net, xte)
    assert np.array_equal(res.outputs.reshape(len(xte), -1), codes.numpy())  # code for code
    pred = exact_predict(net, xte)
    assert np.array_equal(res.predictions, pred)
    torch_acc = float(np.mean(pred == yte.numpy()))
    assert res.accuracy == torch_acc
    assert torch_acc > 0.5  # a trained model, not a trivial one (10 classes: chance is 0.1)
    # the frozen forward is the model's own forward
    assert torch.equal(net(xte).argmax(1), torch.from_numpy(pred))
    # and it stays close to the fake-quantized training graph it came from
    agree = float((qat_logits.argmax(1) == torch.from_numpy(pred)).float().mean())
    assert agree >= 0.9, agree
    # the stored eval codes are the ones torch quantized
    assert np.array_equal(wl.eval.x, np.rint(xte.numpy().astype(np.float64) * 255).astype(np.uint8))


def test_integer_form_of_a_linear_layer_by_hand():
    """One linear layer: codes, bias and multiplier recomputed from the quantizers' state."""
    torch.manual_seed(2)
    net = build_model("lenet5", (1, 28, 28))
    quantize_model(net, method="ptq", wbits=6, abits=5, first_last_bits=None)
    x = torch.rand(16, 1, 28, 28)
    calibrate(net, x)
    freeze(net)
    wl = net.integer
    fc2 = net.layer("fc2")
    s_in = float(net.act("fc1").scale)
    s_out = float(net.act("fc2").scale)
    gamma = fc2.weight_quant.gamma.double().reshape(-1).numpy()
    q = np.rint((fc2.weight_quant.wq.double() / fc2.weight_quant.gamma.double()).numpy())
    assert np.array_equal(wl.arrays["fc2.w"], q)
    assert np.abs(q).max() <= 31  # 6-bit symmetric
    want_b = np.rint(fc2.bias.detach().double().numpy() / (s_in * gamma))
    assert np.array_equal(wl.arrays["fc2.b"], want_b)
    node = wl.node("fc2")
    ratio = wl.arrays["fc2.m"] / 2.0**node.requant.shift
    assert np.allclose(ratio, s_in * gamma / s_out, rtol=2**-30, atol=0)
    assert node.requant.bits == 5 and not node.requant.signed  # ReLU'd: unsigned 5-bit
    assert wl.node("fc3").requant.signed  # logits signed
    # first_last_bits=None: the first layer is 6-bit too
    assert np.abs(wl.arrays["conv1.w"]).max() <= 31


def test_first_and_last_layers_keep_8_bits():
    net = build_model("lenet5", (1, 28, 28))
    quantize_model(net, method="ptq", wbits=4, abits=4)
    calibrate(net, torch.rand(8, 1, 28, 28))
    freeze(net)
    wl = integerize(net)
    bits = {n.name: n.weight_bits for n in wl.nodes if n.op in ("conv2d", "linear")}
    assert bits == {"conv1": 8, "conv2": 4, "fc1": 4, "fc2": 4, "fc3": 8}
    assert wl.node("fc3").requant.bits == 8 and wl.node("fc1").requant.bits == 4


def test_batchnorm_folded_at_t0_and_state_round_trips():
    torch.manual_seed(0)
    net = build_model("resnet20", (1, 8, 8))
    quantize_model(net, method="ab", wbits=4, abits=8, t0=2, t1=4)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))
    net.train()
    for s in range(6):
        schedule_step(net, s)
        assert net.bn_folded == (s >= 2)
        assert all(q.enabled == (s >= 2) for q in net.acts.values())
        F.cross_entropy(net(x), y).backward()
        opt.step()
        opt.zero_grad()
    state = net.state_dict()
    assert not any(k.startswith("norms.") and "running" in k for k in state)
    other = build_model("resnet20", (1, 8, 8))
    quantize_model(other, method="ab", wbits=4, abits=8, t0=2, t1=4)
    other.load_state_dict(state)  # the extra state folds the fresh model's batch norm first
    assert other.bn_folded
    net.eval()
    other.eval()
    assert torch.equal(net(x), other(x))


def test_export_errors():
    net = build_model("lenet5", (1, 28, 28))
    with pytest.raises(RuntimeError, match="freeze"):
        export(net, "unused")
    with pytest.raises(WorkloadError, match="wbits"):
        quantize_model(net, method="ab", wbits=0, abits=8)  # 1 is binary
    with pytest.raises(WorkloadError, match="method"):
        quantize_model(net, method="lsq", wbits=4, abits=8)
    with pytest.raises(WorkloadError, match="does not fit"):
        build_model("lenet5", (1, 8, 8))
    with pytest.raises(WorkloadError, match="unknown model"):
        build_model("vgg16", (3, 32, 32))


def test_dead_channel_with_a_bias_still_exports_exactly(tmp_path):
    """Weight decay can shrink a channel to ~1e-12: its bias in accumulator units would leave
    int32, so export coarsens that channel's scale (found by the first MNIST-5k PTQ run)."""
    torch.manual_seed(4)
    net = build_model("lenet5", (1, 28, 28))
    with torch.no_grad():
        net.layer("fc1").weight[49].mul_(1e-9)
        net.layer("fc1").bias[49] = -0.3
    x = torch.rand(24, 1, 28, 28)
    quantize_model(net, method="ptq", wbits=8, abits=8)
    calibrate(net, x)
    freeze(net)
    wl = export(net, tmp_path / "wl", eval=(x, None))
    assert np.all(wl.arrays["fc1.w"][49] == 0) and wl.arrays["fc1.b"][49] == -(2**30)
    res = isaacsim.simulate(_ideal(), wl, timing=False)
    assert np.array_equal(res.outputs.reshape(len(x), -1), exact_forward(net, x)[0].numpy())
