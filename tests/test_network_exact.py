"""The simulated executor with a lossless (ideal) ADC equals the integer reference executor bit for
bit on every zoo workload and every workload shipped in workloads/ (the golden identity: "with a
lossless ADC the layer's integer output equals the integer matrix product").

Two independent references: the simulator's own ideal pass (`Result.reference_outputs`), and
for the smaller networks a separate call of `isaacsim.workload.execute` with its default int64
matmul (the large ones use the float64 product, exact by the 2^53 bound checked in test_zoo).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import isaacsim
from isaacsim.workload import execute
from isaacsim.workload.zoo import ZOO, make

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p.parent for p in (ROOT / "workloads").glob("*/workload.yaml"))
SAMPLES = {"lenet5": 8, "resnet20": 3, "resnet18": 1, "squeezenet1_1": 1}
INT64_REFERENCE = {"lenet5", "resnet20"}  # numpy int64 matmul is ~7 s per ResNet-18 sample


def ideal(preset: str):
    """The preset with an ideal ADC wide enough never to clip (ISAAC's 2-bit cells reach 384)."""
    return isaacsim.load_arch(preset, overrides={"adc.mode": "ideal", "adc.resolution": 12})


def f64_matmul(name, x, w):
    return (x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)


def check(res, wl, x, int64_ref: bool):
    assert res.status == "ok"
    assert res.agreement == 1.0
    np.testing.assert_array_equal(res.outputs, res.reference_outputs)
    ref = execute(wl, x) if int64_ref else execute(wl, x, matmul=f64_matmul)
    np.testing.assert_array_equal(res.outputs, ref)
    t = res.summary()["adc"]
    assert t["conversions"] > 0 and t["overflows"] == 0


def test_shipped_workloads_exist():
    assert SHIPPED, "workloads/ ships no workload"


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_ideal_adc_is_bit_exact(name):
    wl = make(name, samples=SAMPLES[name])
    res = isaacsim.simulate(ideal("trq_baseline"), wl, timing=False)  # bit-exactness only
    check(res, wl, wl.eval.x, name in INT64_REFERENCE)


@pytest.mark.parametrize("name", ["lenet5", "resnet20"])
def test_zoo_ideal_adc_is_bit_exact_on_isaac_cells(name):
    """ISAAC's 2-bit cells and 16-bit datapath: 8-bit tensors zero-extended, other slicing."""
    wl = make(name, samples=2)
    check(isaacsim.simulate(ideal("isaac"), wl, timing=False), wl, wl.eval.x, True)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
@pytest.mark.parametrize("preset", ["trq_baseline", "isaac"])
def test_shipped_ideal_adc_is_bit_exact(path, preset):
    wl = isaacsim.load_workload(path)
    res = isaacsim.simulate(ideal(preset), wl, samples=64)
    check(res, wl, wl.eval.x[:64], True)
    if wl.eval.y is not None:
        assert res.accuracy == res.reference_accuracy
