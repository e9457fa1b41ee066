"""A QDQ model written by a third-party quantizer: Brevitas (Xilinx) quantization-aware modules,
calibrated and exported with its ONNX QCDQ exporter, imported, and held code-for-code equal to
onnxruntime through the reference executor and through `simulate` with an ideal ADC.

Brevitas writes its own graph patterns: weight codes stored as int8 constants clamped to the narrow
range by a Clip before their DequantizeLinear, an int32 bias DequantizeLinear, signed (int8) input
codes, and a residual Add of two differently scaled tensors requantized by a QuantIdentity."""

from __future__ import annotations

import numpy as np
import pytest

brevitas = pytest.importorskip("brevitas")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
pytest.importorskip("onnxoptimizer")  # Brevitas' ONNX exporter needs it

import isaacsim  # noqa: E402
from isaacsim.errors import WorkloadError  # noqa: E402
from isaacsim.importers import import_onnx  # noqa: E402
from isaacsim.workload.reference import execute  # noqa: E402
from tests.support.brevitas_models import HW, export_qcdq  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
ort.set_default_logger_severity(3)


@pytest.fixture(scope="module", params=[8, 4], ids=["a8", "a4"])
def model(request, tmp_path_factory):
    """(workload with 4 eval samples, onnxruntime's output codes on them, the ONNX file), with 8-bit ReLU
    outputs or 4-bit ones (QuantizeLinear -> Clip(0, 15) -> DequantizeLinear)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        path = tmp_path_factory.mktemp(f"brevitas_a{request.param}") / "brevitas_qcdq.onnx"
        export_qcdq(path, request.param)
    finally:
        torch.set_num_threads(threads)
    x = 3 * np.random.default_rng(1).standard_normal((4, 3, HW, HW)).astype(np.float32)  # past the calibrated range
    wl = import_onnx(path, eval=x)
    y = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    f = wl.formats[wl.output]
    return wl, np.rint(y / np.float32(f.scale)).astype(np.int64) + f.zero_point, path


def test_imports_brevitas_graph(model):
    wl, _, path = model
    ops = [n.op for n in wl.nodes]
    if "a4" in path.parent.name:
        assert ops == ["conv2d", "relu", "conv2d", "relu", "add", "maxpool", "flatten", "linear"]
        assert [n.clip for n in wl.nodes if n.op == "relu"] == [(0, 15), (0, 15)]
    else:
        assert ops == ["conv2d", "conv2d", "add", "maxpool", "flatten", "linear"]
    assert wl.formats["input"].signed and wl.formats[wl.output].signed
    assert {n.requant.mode for n in wl.nodes if n.op in ("conv2d", "linear")} == {"float32"}


def test_reference_equals_onnxruntime(model):
    wl, want, _ = model
    assert np.array_equal(execute(wl, wl.eval.x), want)


def test_ideal_adc_simulation_equals_onnxruntime(model):
    """Signed input codes: a signed 9-bit datapath holds both them and the unsigned 8-bit ReLU outputs."""
    wl, want, _ = model
    arch = isaacsim.load_arch("trq", overrides={"adc.mode": "ideal", "datapath.input_signed": True,
                                                "datapath.input_bits": 9})
    assert np.array_equal(isaacsim.simulate(arch, wl, timing=False).outputs, want)


def test_unsupported_node_names_node_and_op(model, tmp_path):
    import onnx
    from onnx import helper

    _, _, path = model
    m = onnx.load(str(path))
    dq = next(n for n in m.graph.node if n.op_type == "DequantizeLinear")  # the input's
    out = dq.output[0]
    dq.output[0] = "pre_sigmoid"
    m.graph.node.insert(list(m.graph.node).index(dq) + 1,
                        helper.make_node("Sigmoid", ["pre_sigmoid"], [out], name="squash"))
    onnx.save(m, str(tmp_path / "bad.onnx"))
    with pytest.raises(WorkloadError, match=r"node 'squash' \(Sigmoid\): unsupported op type 'Sigmoid'"):
        import_onnx(tmp_path / "bad.onnx")


def test_identity_and_cast_on_weight_codes_fold(model, tmp_path):
    """Identity and Cast nodes on constant weight codes (other exporters write them) fold into constants."""
    import onnx
    from onnx import TensorProto, helper

    wl, _, path = model
    m = onnx.load(str(path))
    dq = next(n for n in m.graph.node if n.op_type == "DequantizeLinear" and "weight" in n.name)
    at = list(m.graph.node).index(dq)
    src = dq.input[0]
    dq.input[0] = "w_cast"
    m.graph.node.insert(at, helper.make_node("Cast", ["w_id"], ["w_cast"], to=TensorProto.INT8, name="w_cast"))
    m.graph.node.insert(at, helper.make_node("Identity", [src], ["w_id"], name="w_id"))
    onnx.save(m, str(tmp_path / "cast.onnx"))
    got = import_onnx(tmp_path / "cast.onnx")
    first = wl.nodes[0].weight
    assert np.array_equal(got.arrays[first], wl.arrays[first])
    assert np.array_equal(execute(got, wl.eval.x), execute(wl, wl.eval.x))
