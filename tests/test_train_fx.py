"""Your own torch module through the training front-end: torch.fx traces it into the workload's ops,
AB, STE and PTQ train it, export writes it, and the simulator (ideal ADC) equals the exported
workload's reference executor and the frozen torch model, code for code; ops outside the set, and
bad FILE.py:FACTORY references, are one line (exit 2 in the CLI)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import isaacsim
from isaacsim import cli
from isaacsim.errors import WorkloadError
from isaacsim.train.export import exact_forward, export
from isaacsim.train.fx import from_module
from isaacsim.train.graph import calibrate, freeze, quantize_model, schedule_step
from isaacsim.workload.datasets import load_dataset, take
from isaacsim.workload.reference import execute

MODULE_SOURCE = '''
import torch
from torch import nn
from torch.nn import functional as F


class SmallVGG(nn.Module):
    """conv-BN-ReLU6, a residual add of a clamped conv, max pool, Hardtanh, global pool, linear."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.c3 = nn.Conv2d(8, 16, 3, padding=1)
        self.act = nn.Hardtanh(0.0, 0.25)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.1), nn.Linear(16, 10))

    def forward(self, x):
        a = F.relu6(self.b1(self.c1(x)))
        a = F.relu(a + torch.clamp(self.c2(a), 0, 0.5))
        return self.head(self.act(self.c3(self.pool(a))))


def small_vgg():
    return SmallVGG()


def sigmoid_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.Sigmoid(), nn.Flatten(), nn.Linear(144, 10))


def not_a_module():
    return 3
'''


@pytest.fixture(scope="module")
def user_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("user") / "my_models.py"
    p.write_text(textwrap.dedent(MODULE_SOURCE))
    return p


@pytest.fixture(scope="module")
def digits():
    tr = take(load_dataset("digits", split="train"), 256, seed=1)
    return torch.tensor(np.asarray(tr.x, dtype=np.float32)), torch.tensor(np.asarray(tr.y))


def _module(user_file, factory="small_vgg"):
    from isaacsim.train.fx import load_factory

    return load_factory(f"{user_file}:{factory}")


@pytest.mark.parametrize("method", ["ab", "ste", "ptq"])
def test_user_module_trains_exports_and_simulates_exactly(tmp_path, user_file, digits, method):
    x, y = digits
    torch.manual_seed(0)
    net = from_module(_module(user_file), tuple(x.shape[1:]))
    assert [n["op"] for n in net.nodes] == ["conv2d", "relu", "conv2d", "relu", "add", "relu", "maxpool", "conv2d",
                                            "relu", "global_avgpool", "flatten", "linear"]
    if method != "ptq":
        quantize_model(net, method=method, wbits=4, abits=8, t0=5, t1=15)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    net.train()
    for s in range(20):
        if method != "ptq":
            schedule_step(net, s)
        i = (s * 32) % len(x)
        loss = F.cross_entropy(net(x[i:i + 32]), y[i:i + 32])
        opt.zero_grad()
        loss.backward()
        opt.step()
    if method == "ptq":
        quantize_model(net, method="ptq", wbits=8, abits=8)
        calibrate(net, x[:32])
    freeze(net)
    wl = export(net, tmp_path / "wl", calib=(x[:16], y[:16]), eval=(x[:24], y[:24]))
    clips = {n.name: n.clip for n in wl.nodes if n.op == "relu"}
    assert clips["act"] is not None and clips["act"][0] == 0  # Hardtanh(0, 0.25) kept as codes
    ref = execute(wl, wl.eval.x)
    assert np.array_equal(ref, exact_forward(net, x[:24])[0].numpy())
    res = isaacsim.simulate(isaacsim.load_arch("trq", {"adc.mode": "ideal"}), wl, timing=False)
    assert np.array_equal(res.outputs, ref)


def test_the_float_graph_equals_the_module(user_file, digits):
    x, _ = digits
    torch.manual_seed(0)
    m = _module(user_file).eval()
    with torch.no_grad():
        m.b1.running_mean.uniform_(-0.1, 0.1)
        m.b1.running_var.uniform_(0.5, 1.5)
    net = from_module(m, tuple(x.shape[1:])).eval()
    q = torch.round(x[:8] * 255) / 255  # the GraphNet sees 8-bit inputs
    with torch.no_grad():
        assert torch.allclose(net(x[:8]), m(q), atol=1e-5)


def test_unsupported_op_is_one_line_naming_the_node(user_file):
    with pytest.raises(WorkloadError, match=r"^node '_1' \(module '1'\): unsupported module Sigmoid; supported: Conv"):
        from_module(_module(user_file, "sigmoid_net"), (1, 8, 8))

    class Gated(nn.Module):
        def forward(self, x):
            return torch.sigmoid(x)

    with pytest.raises(WorkloadError, match=r"^node 'sigmoid' \(sigmoid\): unsupported function"):
        from_module(Gated(), (1, 8, 8))

    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(WorkloadError, match=r"^Branchy: torch.fx cannot trace the module"):
        from_module(Branchy(), (1, 8, 8))


def test_a_plain_module_is_pointed_to_from_module(user_file):
    for f in (quantize_model, freeze, export):
        with pytest.raises(WorkloadError, match=r"^SmallVGG is not a GraphNet: .*from_module\(model, input_shape\)"):
            f(_module(user_file), **({"method": "ab", "wbits": 4, "abits": 4} if f is quantize_model else {}),
              **({"out": "x"} if f is export else {}))


def test_cli_trains_a_module_from_a_file(tmp_path, user_file, capsys):
    out = tmp_path / "run"
    rc = cli.main(["train", f"{user_file}:small_vgg", "--dataset", "digits", "--method", "ab", "--epochs", "1",
                   "--train-samples", "96", "--eval-samples", "32", "--calib", "8", "--out", str(out), "--quiet"])
    assert rc == 0
    assert "run it: isaacsim run trq" in capsys.readouterr().out
    wl = isaacsim.load_workload(out / "workload")
    assert wl.name == "small_vgg_digits_ab_w8a8" and wl.eval.x.shape == (32, 1, 8, 8)


@pytest.mark.parametrize("ref,msg", [
    ("{f}:sigmoid_net", "node '_1' (module '1'): unsupported module Sigmoid"),
    ("{f}:not_a_module", "returned int, expected a torch nn.Module"),
    ("{f}:missing", "no function 'missing'"),
    ("{d}/none.py:f", "no such file"),
])
def test_cli_bad_module_is_one_line_exit_2(tmp_path, user_file, capsys, ref, msg):
    ref = ref.format(f=user_file, d=tmp_path)
    rc = cli.main(["train", ref, "--dataset", "digits", "--epochs", "1", "--train-samples", "64",
                   "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1


def test_concat_signed_hardtanh_and_view_export_exactly(tmp_path, digits):
    """torch.cat, a Hardtanh(-0.5, 0.5) on signed codes, F.avg_pool2d and x.view(x.size(0), -1), PTQ:
    the exported workload's reference executor equals the frozen torch model code for code."""
    class Cat(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(1, 4, 1)
            self.c, self.fc = nn.Conv2d(8, 8, 3, padding=1), nn.Linear(8 * 16, 10)

        def forward(self, x):
            y = torch.cat([F.relu(self.a(x)), F.relu(self.b(x))], 1)
            y = F.avg_pool2d(F.hardtanh(self.c(y), -0.5, 0.5), 2)
            return self.fc(y.view(y.size(0), -1))

    x, y = digits
    torch.manual_seed(0)
    net = from_module(Cat(), (1, 8, 8))
    assert [n["op"] for n in net.nodes] == ["conv2d", "relu", "conv2d", "relu", "concat", "conv2d", "relu", "avgpool",
                                            "flatten", "linear"]
    quantize_model(net, method="ptq", wbits=8, abits=8)
    calibrate(net, x[:32])
    freeze(net)
    wl = export(net, tmp_path / "wl", eval=(x[:16], y[:16]))
    assert next(n for n in wl.nodes if n.op == "concat").requant.mode == "dyadic"
    assert np.array_equal(execute(wl, wl.eval.x), exact_forward(net, x[:16])[0].numpy())
