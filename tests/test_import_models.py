"""Published models nobody here wrote (ResNet-18, MobileNetV2, SqueezeNet 1.1, VGG-11-BN, GoogLeNet),
quantized by onnxruntime and imported: the integer output codes equal onnxruntime's, through the
reference executor and through `simulate` on trq with an ideal ADC; and Clip / ReLU6 bounds inside
the output range become exact clamps of the codes."""

from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import isaacsim  # noqa: E402
from isaacsim.importers import import_onnx  # noqa: E402
from isaacsim.workload.reference import execute  # noqa: E402
from tests.support.torch_models import MODELS, build, export_onnx, quantize_qdq  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ort.set_default_logger_severity(3)
HW = 32  # the smallest of the usual sizes every model's pools fit (GoogLeNet and SqueezeNet need ceil-mode pools)


def _ort_codes(wl, path, x):
    y = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    f = wl.formats[wl.output]
    return np.rint(y / np.float32(f.scale)).astype(np.int64) + f.zero_point


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """torch's idle worker threads keep spinning after an export and slow the numba datapath down
    several times on a small machine; one thread is plenty for these exports."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trq_ideal():
    return isaacsim.load_arch("trq", overrides={"adc.mode": "ideal", "chip.auto_tiles": True})


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """name -> (workload with 2 eval samples, onnxruntime's output codes on them), built on first use."""
    cache = {}

    def get(name):
        if name not in cache:
            rng = np.random.default_rng(0)
            calib = rng.standard_normal((4, 3, HW, HW)).astype(np.float32)
            x = rng.standard_normal((2, 3, HW, HW)).astype(np.float32)
            d = tmp_path_factory.mktemp(name)
            f, q = d / "m.onnx", d / "m_qdq.onnx"
            export_onnx(build(name, classes=10, **({"pool": 1} if name == "vgg11_bn" else {})), (3, HW, HW), f)
            quantize_qdq(f, q, calib)
            wl = import_onnx(q, eval=x)
            cache[name] = wl, _ort_codes(wl, q, x)
        return cache[name]
    return get


# MobileNetV2's 17 depthwise convolutions are some 7000 one-group products on the simulated datapath:
# seconds on an idle machine, a minute on a busy one, so its simulated run is in the slow set.
SIMULATED = [pytest.param(n, marks=pytest.mark.slow) if n == "mobilenet_v2" else n for n in MODELS]


@pytest.mark.parametrize("name", list(MODELS))
def test_real_model_reference_equals_onnxruntime(imported, name):
    wl, want = imported(name)
    assert np.array_equal(execute(wl, wl.eval.x), want)


@pytest.mark.parametrize("name", SIMULATED)
def test_real_model_simulated_equals_onnxruntime(imported, trq_ideal, name):
    wl, want = imported(name)
    assert np.array_equal(isaacsim.simulate(trq_ideal, wl, timing=False).outputs, want)


# ---------------------------------------------------------------- Clip inside the output range


def _qdq_clip_model(path, lo: float, hi: float, fused: bool | None):
    """x -> Q -> DQ -> Conv(DQ int8 weights) [-> Clip(lo, hi)] -> Q -> DQ [-> Clip -> Q -> DQ]: a Clip
    whose max cuts inside the output range (0 .. 255 * 0.02 = 5.1), before the output's
    QuantizeLinear (fused), on the codes after it (False), or none (None)."""
    rng = np.random.default_rng(1)
    w = rng.integers(-127, 128, (4, 2, 3, 3)).astype(np.int8)
    inits = [numpy_helper.from_array(a, n) for a, n in (
        (np.float32(0.05), "xs"), (np.uint8(128), "xz"), (w, "wq"), (np.full(4, 0.002, np.float32), "ws"),
        (np.zeros(4, np.int8), "wz"), (np.float32(0.02), "ys"), (np.uint8(0), "yz"),
        (np.float32(lo), "lo"), (np.float32(hi), "hi"))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0),
             helper.make_node("Conv", ["xd", "wd"], ["c"], pads=[1, 1, 1, 1], name="conv")]
    if fused is None:
        nodes += [helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["yq"]),
                  helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"])]
    elif fused:
        nodes += [helper.make_node("Clip", ["c", "lo", "hi"], ["cc"], name="relu6"),
                  helper.make_node("QuantizeLinear", ["cc", "ys", "yz"], ["yq"]),
                  helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"])]
    else:
        nodes += [helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["cq"]),
                  helper.make_node("DequantizeLinear", ["cq", "ys", "yz"], ["cd"]),
                  helper.make_node("Clip", ["cd", "lo", "hi"], ["cc"], name="relu6"),
                  helper.make_node("QuantizeLinear", ["cc", "ys", "yz"], ["yq"]),
                  helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"])]
    g = helper.make_graph(nodes, "clip", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4, 6, 6])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))


@pytest.mark.parametrize("fused", [True, False], ids=["before-Q", "on-codes"])
def test_clip_inside_the_range_is_an_exact_clamp(tmp_path, fused):
    """Clip(0, 3) on a 0.02-scale uint8 output: codes clamped to rint(3 / 0.02) = 150. On codes, onnxruntime
    computes the same (DequantizeLinear, Clip, QuantizeLinear); before the QuantizeLinear it fuses Conv and
    Clip into a float FusedConv instead of an integer kernel, so there the reference is its integer
    QLinearConv on the graph without the Clip, clamped."""
    path, plain = tmp_path / "clip.onnx", tmp_path / "plain.onnx"
    _qdq_clip_model(path, 0.0, 3.0, fused)
    _qdq_clip_model(plain, 0.0, 3.0, None)
    x = np.random.default_rng(2).standard_normal((16, 2, 6, 6)).astype(np.float32) * 3
    wl = import_onnx(path, eval=x)
    if fused:
        assert [n.requant.clip for n in wl.nodes if n.op == "conv2d"] == [(0, 150)]
        want = np.clip(_ort_codes(wl, plain, x), 0, 150)
    else:
        assert [n.clip for n in wl.nodes if n.op == "relu"] == [(0, 150)]
        want = _ort_codes(wl, path, x)
    out = execute(wl, wl.eval.x)
    assert out.max() == 150 and np.array_equal(out, want)
    assert np.array_equal(isaacsim.simulate("trq_baseline", wl, timing=False).outputs, want)


def test_clip_codes_are_validated():
    from isaacsim.errors import WorkloadError
    from isaacsim.workload.format import parse_manifest

    node = {"name": "r", "op": "relu", "inputs": ["input"], "clip": [10, 3]}
    man = {"format_version": 1, "name": "t", "input": {"shape": [4], "bits": 8, "signed": False, "scale": 0.1},
           "graph": [node]}
    with pytest.raises(WorkloadError, match=r"layer 'r' \(relu\): .*lo <= hi"):
        parse_manifest(man)
    rq = {"mode": "float32", "multiplier": 0.5, "bits": 8, "signed": False, "scale": 0.1, "clip": [0, 300]}
    lin = {"name": "fc", "op": "linear", "inputs": ["input"], "weight": "w", "out_features": 2, "requant": rq}
    with pytest.raises(WorkloadError, match=r"layer 'fc' \(linear\): .*clip \[0, 300\]"):
        parse_manifest({**man, "graph": [lin]})


def test_float_relu6_keeps_its_upper_bound(tmp_path):
    """A float model's ReLU6 through post-training quantization: no code of it stands for more than 6."""
    m = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU6(), torch.nn.Flatten(),
                            torch.nn.Linear(4 * 36, 3)).eval()
    torch.manual_seed(0)
    f = tmp_path / "f.onnx"
    export_onnx(m, (2, 6, 6), f)
    x = np.random.default_rng(3).standard_normal((16, 2, 6, 6)).astype(np.float32) * 20
    wl = import_onnx(f, calib=x, eval=x)
    conv = next(n for n in wl.nodes if n.op == "conv2d")
    relu = next(n for n in wl.nodes if n.op == "relu")
    _, nodes = execute(wl, wl.eval.x, return_nodes=True)
    f_conv = wl.formats[conv.name]
    assert conv.activation == "relu" and f_conv.scale * f_conv.hi <= 6.0 + 1e-9
    assert (nodes[relu.name].max() - f_conv.zero_point) * f_conv.scale <= 6.0 + f_conv.scale / 2


def test_qlinearadd_every_code_pair_equals_onnxruntime():
    """Every (a, b) code pair through one QLinearAdd with the scales of a ResNet-18 residual add where
    centred float32 terms summed, (a - zp_a) * r_a + (b - zp_b) * r_b, round some codes differently
    from onnxruntime (values a few 1e-6 above a tie); the workload's float32_fma add matches all 65536."""
    from isaacsim.workload.format import MixRequant, TensorFormat
    from isaacsim.workload.reference import _add_fma

    scales = {"sa": 0.006675547454506159, "sb": 0.008028418757021427, "sc": 0.008528444916009903}
    zps = {"za": 116, "zb": 0, "zc": 0}
    inits = [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in scales.items()]
    inits += [numpy_helper.from_array(np.array(z, np.uint8), k) for k, z in zps.items()]
    node = helper.make_node("QLinearAdd", ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"], ["s"], domain="com.microsoft")
    shape = [1, 1, 256, 256]
    g = helper.make_graph([node], "add", [helper.make_tensor_value_info(k, TensorProto.UINT8, shape) for k in "ab"],
                          [helper.make_tensor_value_info("s", TensorProto.UINT8, shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    a, b = (v.reshape(shape) for v in np.meshgrid(np.arange(256), np.arange(256), indexing="ij"))
    got = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"a": a.astype(np.uint8), "b": b.astype(np.uint8)})[0].astype(np.int64)
    fa, fb = (TensorFormat(bits=8, signed=False, scale=scales[k], zero_point=zps[z])
              for k, z in (("sa", "za"), ("sb", "zb")))
    mult = [float(np.float32(scales[k]) / np.float32(scales["sc"])) for k in ("sa", "sb")]
    rq = MixRequant(mode="float32_fma", multipliers=mult, bits=8, signed=False, scale=scales["sc"])
    assert np.array_equal(np.clip(_add_fma([a, b], [fa, fb], rq), 0, 255), got)
    centred = np.rint((a - 116).astype(np.float32) * np.float32(mult[0]) + b.astype(np.float32) * np.float32(mult[1]))
    assert int((np.clip(centred, 0, 255) != got).sum()) > 0  # the simpler formula is not onnxruntime's


def test_float_squeezenet_with_ceil_mode_pools_imports_post_training(tmp_path):
    """The float route: SqueezeNet 1.1's ceil-mode max pools and Fire concats, quantized post-training,
    track onnxruntime's float outputs."""
    f = tmp_path / "sq.onnx"
    export_onnx(build("squeezenet1_1", classes=10), (3, HW, HW), f)
    x = np.random.default_rng(4).standard_normal((8, 3, HW, HW)).astype(np.float32)
    wl = import_onnx(f, calib=x, eval=x[:4])
    assert sum(n.op == "maxpool" and n.ceil_mode for n in wl.nodes) == 3
    y = ort.InferenceSession(str(f), providers=["CPUExecutionProvider"]).run(None, {"x": x[:4]})[0]
    from isaacsim.workload.ptq import dequantize

    got = dequantize(wl, execute(wl, wl.eval.x))
    assert np.corrcoef(got.ravel(), y.ravel())[0, 1] > 0.99
