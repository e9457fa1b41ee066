"""ONNX import (isaacsim.importers, `isaacsim import`): quantized models give the same integer output
codes as onnxruntime, through the reference executor and through the simulated datapath with a
lossless ADC; float models go through post-training quantization; every bad input is one line."""

from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

from onnx import TensorProto, helper  # noqa: E402
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static  # noqa: E402

import isaacsim  # noqa: E402
from isaacsim import cli  # noqa: E402
from isaacsim.importers import import_onnx, input_codes  # noqa: E402
from isaacsim.workload.reference import execute  # noqa: E402
from tests.support.torch_models import Branches, Residual  # noqa: E402

N_EVAL = 24
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's legacy ONNX exporter
ort.set_default_logger_severity(3)  # onnxruntime's notes on unused initializers


MODELS = {"residual": Residual, "branches": Branches}


class _Reader(CalibrationDataReader):
    def __init__(self, x):
        self.it = iter([{"x": x[i:i + 1]} for i in range(len(x))])

    def get_next(self):
        return next(self.it, None)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {"calib": rng.standard_normal((8, 3, 8, 8)).astype(np.float32),
            "eval": rng.standard_normal((N_EVAL, 3, 8, 8)).astype(np.float32)}


@pytest.fixture(scope="module")
def models(tmp_path_factory, data):
    """{(model, 'float' | 'QDQ' | 'QOperator'): path}: exported from torch, quantized by onnxruntime
    (per-channel QInt8 weights, QUInt8 activations)."""
    d = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    out = {}
    for name, cls in MODELS.items():
        m = cls().eval()
        f = d / f"{name}.onnx"
        torch.onnx.export(m, torch.from_numpy(data["calib"][:1]), str(f), input_names=["x"], output_names=["y"],
                          opset_version=13, dynamo=False, dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
        out[name, "float"] = f
        for fmt in ("QDQ", "QOperator"):
            q = d / f"{name}_{fmt}.onnx"
            quantize_static(str(f), str(q), _Reader(data["calib"]), quant_format=getattr(QuantFormat, fmt),
                            per_channel=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
            out[name, fmt] = q
    return out


def _ort(path, x, outputs=None):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(outputs, {"x": x})


def _ort_codes(wl, y):
    """onnxruntime's dequantized float output back to codes (exact: |code - zp| <= 255)."""
    f = wl.formats[wl.output]
    return np.rint(y / np.float32(f.scale)).astype(np.int64) + f.zero_point


CASES = [(m, f) for m in MODELS for f in ("QDQ", "QOperator")]


@pytest.mark.parametrize("model,fmt", CASES, ids=[f"{m}-{f}" for m, f in CASES])
def test_output_codes_equal_onnxruntime(models, data, model, fmt):
    wl = import_onnx(models[model, fmt], eval=data["eval"])
    assert {n.requant.mode for n in wl.nodes if n.op in ("conv2d", "linear")} == {"float32"}
    want = _ort_codes(wl, _ort(models[model, fmt], data["eval"])[0])
    assert np.array_equal(execute(wl, wl.eval.x), want)
    res = isaacsim.simulate("trq_baseline", wl, timing=False)
    assert np.array_equal(res.outputs, want)


def test_ideal_adc_simulation_equals_onnxruntime(models, data):
    wl = import_onnx(models["residual", "QOperator"], eval=data["eval"][:8])
    arch = isaacsim.load_arch("trq", overrides={"adc.mode": "ideal"})
    res = isaacsim.simulate(arch, wl, timing=False)
    assert np.array_equal(res.outputs, _ort_codes(wl, _ort(models["residual", "QOperator"], data["eval"][:8])[0]))


@pytest.mark.parametrize("model", MODELS)
def test_every_qoperator_node_equals_onnxruntime(models, data, tmp_path, model):
    """Each QLinear* node's codes (exposed as graph outputs) equal the workload node's, in order."""
    m = onnx.load(str(models[model, "QOperator"]))
    qnodes = [n for n in m.graph.node if n.op_type.startswith("QLinear") or n.op_type == "QGemm"]
    for n in qnodes:
        m.graph.output.append(helper.make_tensor_value_info(n.output[0], TensorProto.UINT8, None))
    path = tmp_path / "exposed.onnx"
    onnx.save(m, str(path))
    got = _ort(path, data["eval"], [n.output[0] for n in qnodes])
    wl = import_onnx(models[model, "QOperator"])
    _, ours = execute(wl, input_codes(wl.manifest.input, data["eval"]), return_nodes=True)
    mine = [n.name for n in wl.nodes if n.op not in ("maxpool", "flatten", "relu")]
    assert len(mine) == len(qnodes)
    for name, want in zip(mine, got, strict=True):
        assert np.array_equal(ours[name].reshape(want.shape), want), name


def test_float_model_is_quantized_post_training(models, data, tmp_path):
    wl = import_onnx(models["residual", "float"], out=tmp_path / "wl", calib=data["calib"], eval=data["eval"])
    assert {n.requant.mode for n in wl.nodes if n.op in ("conv2d", "linear")} == {"dyadic"}
    y = _ort(models["residual", "float"], data["eval"])[0]
    f = wl.formats[wl.output]
    ours = (execute(wl, wl.eval.x) - f.zero_point) * f.scale
    assert np.abs(ours - y).max() < 0.1 * np.abs(y).max()
    assert isaacsim.load_workload(tmp_path / "wl").name == "residual"


# ---------------------------------------------------------------- bad inputs


def _main(argv, capsys) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().err


def _save(tmp_path, nodes, inputs, outputs, inits=(), name="m.onnx"):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    path = tmp_path / name
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def _vi(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def test_cli_import_then_run(models, data, tmp_path, capsys):
    np.savez(tmp_path / "eval.npz", x=data["eval"][:4], y=np.arange(4) % 5)
    code, err = _main(["import", str(models["residual", "QDQ"]), "--out", str(tmp_path / "wl"),
                       "--eval-data", str(tmp_path / "eval.npz"), "--name", "res"], capsys)
    assert code == 0, err
    wl = isaacsim.load_workload(tmp_path / "wl")
    assert wl.name == "res" and wl.eval.x.shape == (4, 3, 8, 8) and wl.eval.y is not None
    assert cli.main(["run", "trq_baseline", str(tmp_path / "wl"), "--json"]) == 0


def test_not_onnx(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_text("this is not a model\n")
    code, err = _main(["import", str(bad), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err.count("\n") == 1 and "not an ONNX model" in err


def test_missing_model_file(tmp_path, capsys):
    code, err = _main(["import", str(tmp_path / "none.onnx"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err.count("\n") == 1 and "no such file" in err


def test_unsupported_op_names_node(tmp_path, capsys):
    w = onnx.numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    path = _save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
                            helper.make_node("Sigmoid", ["c"], ["y"], name="squash")],
                 [_vi("x", [1, 1, 5, 5])], [_vi("y", [1, 2, 3, 3])], [w])
    np.savez(tmp_path / "c.npz", x=np.zeros((2, 1, 5, 5), np.float32))
    code, err = _main(["import", str(path), "--out", str(tmp_path / "o"), "--calib-data", str(tmp_path / "c.npz")],
                      capsys)
    assert code == 2 and err.count("\n") == 1 and "'squash' (Sigmoid)" in err and "unsupported op" in err


def test_dynamic_spatial_shape(tmp_path, capsys):
    path = _save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], [_vi("x", ["n", 3, "h", "w"])],
                 [_vi("y", ["n", 3, "h", "w"])])
    code, err = _main(["import", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err.count("\n") == 1 and "dynamic dimension 2 ('h')" in err


def test_model_without_input(tmp_path, capsys):
    c = helper.make_node("Constant", [], ["y"], value=onnx.numpy_helper.from_array(np.ones(3, np.float32)))
    path = _save(tmp_path, [c, helper.make_node("Relu", ["y"], ["z"])], [], [_vi("z", [3])])
    code, err = _main(["import", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err.count("\n") == 1 and "exactly one graph input" in err


@pytest.mark.parametrize("what,arrays,msg", [
    ("shape", {"x": np.zeros((2, 3, 4, 4), np.float32)}, "expected (N, 3, 8, 8)"),
    ("no x", {"z": np.zeros((2, 3, 8, 8), np.float32)}, "no array 'x'"),
    ("labels", {"x": np.zeros((2, 3, 8, 8), np.float32), "y": np.zeros(3, np.int64)}, "2 integer labels"),
])
def test_bad_data(models, tmp_path, capsys, what, arrays, msg):
    np.savez(tmp_path / "d.npz", **arrays)
    code, err = _main(["import", str(models["residual", "QDQ"]), "--out", str(tmp_path / "o"),
                       "--eval-data", str(tmp_path / "d.npz")], capsys)
    assert code == 2 and err.count("\n") == 1 and msg in err


def test_float_model_needs_calibration(models, tmp_path, capsys):
    code, err = _main(["import", str(models["residual", "float"]), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err.count("\n") == 1 and "--calib-data" in err


def test_node_reading_a_missing_tensor(tmp_path, capsys):
    path = _save(tmp_path, [helper.make_node("Relu", ["x"], ["r"], name="ok"),
                            helper.make_node("Add", ["r", "ghost"], ["y"], name="plus")],
                 [_vi("x", [1, 4])], [_vi("y", [1, 4])])
    np.savez(tmp_path / "c.npz", x=np.ones((2, 4), np.float32))
    code, err = _main(["import", str(path), "--out", str(tmp_path / "o"), "--calib-data", str(tmp_path / "c.npz")],
                      capsys)
    assert code == 2 and err.count("\n") == 1 and "'plus' (Add)" in err and "'ghost'" in err


def test_per_channel_scales_on_the_wrong_axis(models, tmp_path):
    m = onnx.load(str(models["residual", "QDQ"]))
    dq = next(n for n in m.graph.node if n.op_type == "DequantizeLinear" and "c1.weight" in n.input[0])
    del dq.attribute[:]
    dq.attribute.append(helper.make_attribute("axis", 1))
    onnx.save(m, str(tmp_path / "axis.onnx"))
    with pytest.raises(isaacsim.WorkloadError, match="along the output channels"):
        import_onnx(tmp_path / "axis.onnx")
