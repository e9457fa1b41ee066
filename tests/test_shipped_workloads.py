"""Shipped workloads load, run under the reference executor, and score what workloads/README.md says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import isaacsim
from isaacsim.mapping.layers import layers_of
from isaacsim.workload import execute, predict

ROOT = Path(__file__).resolve().parents[1] / "workloads"


def readme_figure(label: str) -> float:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"^{re.escape(label)}:\s+([\d.]+) %$", text, re.MULTILINE)
    assert m, f"workloads/README.md has no '{label}: N %' line"
    return float(m.group(1))


@pytest.fixture(scope="module")
def lenet():
    return isaacsim.load_workload(ROOT / "lenet5_mnist5k")


def test_lenet5_mnist5k_loads(lenet):
    wl = lenet
    assert wl.name == "lenet5_mnist5k"
    assert wl.eval.x.shape == (1000, 1, 28, 28) and wl.eval.x.dtype == np.uint8
    assert wl.eval.y.shape == (1000,) and set(np.unique(wl.eval.y)) == set(range(10))
    assert wl.calib.x.shape[0] >= 100 and wl.calib.y is not None
    assert [layer.name for layer in layers_of(wl)] == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    for n in wl.nodes:
        if n.op in ("conv2d", "linear"):
            assert not wl.formats[n.inputs[0]].signed
    assert execute(wl, wl.eval.x[:4]).shape == (4, 10)
    assert sum(p.stat().st_size for p in (ROOT / "lenet5_mnist5k").iterdir()) < 1_000_000


def test_lenet5_mnist5k_accuracy_matches_readme(lenet):
    acc = 100 * float(np.mean(predict(lenet, lenet.eval.x) == lenet.eval.y))
    assert acc == pytest.approx(readme_figure("integer reference accuracy"), abs=0.5)
    assert acc >= 96.0
    assert abs(acc - readme_figure("float test accuracy")) <= 1.0


TRAINED = ["lenet5_digits", "lenet5_digits_ab_w4a4", "lenet5_mnist5k_ab_w4a4", "lenet5_mnist5k_ab_w3a3",
           "lenet5_mnist5k_ab_w2a2", "resnet20_digits"]


def table_accuracy(name: str) -> float:
    """The accuracy column of the `isaacsim train` table in workloads/README.md."""
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"^\| `{re.escape(name)}/` \|[^\n]*?\| ([\d.]+) % \|", text, re.MULTILINE)
    assert m, f"workloads/README.md has no table row for {name}/"
    return float(m.group(1))


@pytest.mark.parametrize("name", TRAINED)
def test_trained_workloads_score_the_readme_figure_and_run(name, capsys):
    from isaacsim.cli import main

    wl = isaacsim.load_workload(ROOT / name)
    assert wl.name == name and wl.eval.y is not None and len(wl.calib.x) == 32
    acc = 100 * float(np.mean(predict(wl, wl.eval.x) == wl.eval.y))
    assert acc == pytest.approx(table_accuracy(name), abs=0.005)
    bits = [n.weight_bits for n in wl.nodes if n.op in ("conv2d", "linear")]
    want = next((int(name[-1]) for b in "234" if name.endswith(f"_w{b}a{b}")), 8)
    assert len(bits) == (5 if name.startswith("lenet5") else 22)  # ResNet-20: 19 conv, 2 projections, fc
    assert bits[0] == bits[-1] == 8 and set(bits[1:-1]) == {want}
    assert sum(p.stat().st_size for p in (ROOT / name).iterdir()) < 600_000
    assert main(["run", "trq", str(ROOT / name), "--samples", "8", "--no-timing"]) == 0
    assert "accuracy" in capsys.readouterr().out
