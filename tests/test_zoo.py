"""Model zoo: every network builds and validates, has the published layer shapes, counts and MACs,
is deterministic per seed, and its integer activations are not degenerate."""

from __future__ import annotations

import numpy as np
import pytest

from isaacsim.errors import WorkloadError
from isaacsim.mapping.layers import layers_of
from isaacsim.workload import execute, load_workload
from isaacsim.workload.ptq import dequantize, float_forward
from isaacsim.workload.zoo import ZOO, init_params, make, smooth_images

SAMPLES = {"lenet5": 16, "resnet20": 4, "resnet18": 1, "squeezenet1_1": 1}


@pytest.fixture(scope="module")
def built():
    return {name: make(name, samples=SAMPLES[name]) for name in ZOO}


def f64_matmul(name, x, w):
    """Exact here: 8-bit x 8-bit products summed over K <= 4608 stay far below 2^53."""
    return (x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)


def matrix_nodes(wl):
    return [n for n in wl.nodes if n.op in ("conv2d", "linear")]


def test_registry():
    assert list(ZOO) == ["lenet5", "resnet20", "resnet18", "squeezenet1_1"]
    for name, e in ZOO.items():
        assert e.name == name and e.description and e.macs > 0 and e.eval_samples >= 1
    assert ZOO["lenet5"].input_shape == (1, 28, 28)
    assert ZOO["resnet20"].input_shape == (3, 32, 32)
    assert ZOO["resnet18"].input_shape == ZOO["squeezenet1_1"].input_shape == (3, 224, 224)
    assert [e.eval_samples for e in ZOO.values()] == [64, 16, 2, 2]


def test_builds_validates_and_macs(built, tmp_path):
    for name, wl in built.items():
        e = ZOO[name]
        assert wl.name == name and tuple(wl.manifest.input.shape) == e.input_shape
        assert wl.eval.x.shape == (SAMPLES[name], *e.input_shape) and wl.eval.y is None
        assert wl.calib.x.shape == (e.calib_samples, *e.input_shape)
        layers = layers_of(wl)
        assert len(layers) == e.layers
        assert sum(layer.macs for layer in layers) == e.macs  # mapping's LayerShape, independently
        for n in matrix_nodes(wl):  # crossbar-ready: unsigned conv/linear inputs, 8-bit weights
            assert not wl.formats[n.inputs[0]].signed, (name, n.name)
            assert n.weight_bits == 8
    back = load_workload(make("lenet5", tmp_path / "lenet5").path)
    assert back.name == "lenet5" and back.eval.x.shape == (64, 1, 28, 28)


def test_lenet5_shapes(built):
    s = built["lenet5"].shapes
    assert [s[k] for k in ("conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "fc2", "fc3")] == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (400,), (120,), (84,), (10,)]
    # 6*28*28*25 + 16*10*10*150 + 400*120 + 120*84 + 84*10
    assert ZOO["lenet5"].macs == 117_600 + 240_000 + 48_000 + 10_080 + 840


def _resnet_macs(stem, stages, hw, fc):
    """Independent count: stem MACs + per stage (cin, cout, stride, blocks) on input size hw."""
    total = stem
    for cin, cout, stride, blocks in stages:
        hw //= stride
        px = hw * hw
        total += px * cout * 9 * cin + px * cout * 9 * cout  # first block
        if stride != 1 or cin != cout:
            total += px * cout * cin  # 1x1 projection / downsample
        total += (blocks - 1) * 2 * px * cout * 9 * cout
    return total + fc


def test_resnet20_shapes(built):
    wl = built["resnet20"]
    convs = [n for n in wl.nodes if n.op == "conv2d"]
    assert len(convs) == 21 and len([n for n in convs if "downsample" in n.name]) == 2
    assert len([n for n in wl.nodes if n.op == "add"]) == 9
    s = wl.shapes
    assert (s["layer1.2.add"], s["layer2.2.add"], s["layer3.2.add"]) == ((16, 32, 32), (32, 16, 16), (64, 8, 8))
    assert s["fc"] == (10,)
    macs = _resnet_macs(16 * 32 * 32 * 27, [(16, 16, 1, 3), (16, 32, 2, 3), (32, 64, 2, 3)], 32, 64 * 10)
    assert ZOO["resnet20"].macs == macs == 40_813_184  # ~41 M (He et al. 2016 + two 1x1 projections)


def test_resnet18_shapes(built):
    wl = built["resnet18"]
    convs = [n for n in wl.nodes if n.op == "conv2d"]
    assert len(matrix_nodes(wl)) == 21 and len(convs) == 20
    down = [n for n in convs if "downsample" in n.name]
    assert [n.name for n in down] == ["layer2.0.downsample", "layer3.0.downsample", "layer4.0.downsample"]
    assert all(n.kernel == 1 and n.stride == 2 for n in down)
    s = wl.shapes
    assert (s["conv1"], s["maxpool"]) == ((64, 112, 112), (64, 56, 56))
    assert [s[f"layer{i}.1.add"] for i in range(1, 5)] == [(64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]
    assert s["fc"] == (1000,)
    stem = 64 * 112 * 112 * 3 * 49
    macs = _resnet_macs(stem, [(64, 64, 1, 2), (64, 128, 2, 2), (128, 256, 2, 2), (256, 512, 2, 2)], 56, 512 * 1000)
    assert ZOO["resnet18"].macs == macs
    assert macs / 1e9 == pytest.approx(1.814, abs=5e-4)  # torchvision ResNet18_Weights: 1.814 GFLOPS (MACs)


def test_squeezenet_shapes(built):
    wl = built["squeezenet1_1"]
    assert len(matrix_nodes(wl)) == 26 and all(n.op == "conv2d" for n in matrix_nodes(wl))
    s = wl.shapes
    # floor mode gives torchvision's ceil-mode sizes at 224: 111 -> 55 -> 27 -> 13
    assert [s[k][1] for k in ("conv1", "pool1", "pool3", "pool5")] == [111, 55, 27, 13]
    assert [s[f"fire{i}"][0] for i in range(2, 10)] == [128, 128, 256, 256, 384, 384, 512, 512]
    assert s["conv10"] == (1000, 13, 13) and s["flatten"] == (1000,)
    assert ZOO["squeezenet1_1"].macs / 1e9 == pytest.approx(0.349, abs=5e-4)  # torchvision: 0.349 GFLOPS


def test_deterministic_per_seed():
    a, b, c = make("resnet20", samples=3), make("resnet20", samples=3), make("resnet20", seed=1, samples=3)
    assert a.manifest == b.manifest
    assert all(np.array_equal(a.arrays[k], b.arrays[k]) for k in a.arrays)
    assert np.array_equal(a.eval.x, b.eval.x) and np.array_equal(a.calib.x, b.calib.x)
    assert not np.array_equal(a.arrays["conv1.w"], c.arrays["conv1.w"])
    assert not np.array_equal(a.eval.x, c.eval.x)
    # a smaller sample count is a prefix of a larger one
    assert np.array_equal(make("lenet5", samples=5).eval.x, make("lenet5").eval.x[:5])


def test_synthetic_scheme():
    spec = ZOO["resnet20"].build()
    p = init_params(spec, 0)
    w = p["layer2.1.conv1.w"]
    assert w.dtype == np.float32 and w.std() == pytest.approx(np.sqrt(2 / (32 * 9)), rel=0.05)
    x = smooth_images(4, (3, 32, 32), seed=0)
    assert x.min() == 0.0 and x.max() == 1.0
    # smooth: neighbouring pixels differ far less than independent pixels would
    assert np.abs(np.diff(x, axis=-1)).mean() < 0.1


@pytest.mark.parametrize("name", list(SAMPLES))
def test_activations_not_degenerate(built, name):
    wl = built[name]
    mm = None if name in ("lenet5", "resnet20") else f64_matmul
    out, nodes = execute(wl, wl.eval.x, matmul=mm, return_nodes=True)
    for n in wl.nodes:
        v, f = nodes[n.name], wl.formats[n.name]
        sat = np.mean((v == f.hi) | (v == f.lo)) if f.signed else np.mean(v == f.hi)
        assert sat < (0.2 if n is wl.nodes[-1] else 0.01), (n.name, sat)  # not saturated
        assert np.mean(v == f.zero_point) < 0.9, n.name  # not all zero
        assert len(np.unique(v)) >= 8, n.name
    # the integer graph tracks the float one
    spec = ZOO[name].build()
    yf = float_forward(spec, init_params(spec, 0), wl.eval.x / 255.0, dtype=np.float64)
    yq = dequantize(wl, out)
    assert np.corrcoef(yf.ravel(), yq.ravel())[0, 1] > 0.99
    assert np.mean(yf.argmax(axis=1) == out.argmax(axis=1)) >= (0.9 if len(out) > 4 else 1.0)


def test_f64_matmul_is_exact(built):
    wl = built["resnet20"]
    assert np.array_equal(execute(wl, wl.eval.x[:1]), execute(wl, wl.eval.x[:1], matmul=f64_matmul))


def test_errors():
    with pytest.raises(WorkloadError, match=r"unknown zoo network 'resnet19'; did you mean 'resnet18'\?.*lenet5"):
        make("resnet19")
    with pytest.raises(WorkloadError, match=r"available: lenet5, resnet20, resnet18, squeezenet1_1"):
        make("vgg16")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(WorkloadError, match="samples"):
            make("lenet5", samples=bad)
    with pytest.raises(WorkloadError, match="seed"):
        make("lenet5", seed=-1)
