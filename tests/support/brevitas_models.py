"""A small Brevitas (Xilinx) quantization-aware network and its ONNX QCDQ export, for
tests/test_import_brevitas.py and benchmarks/bench_brevitas.py.

Needs brevitas and onnxoptimizer (which Brevitas' TorchScript-based ONNX exporter uses); its
exporter through torch.export does not take quantized biases, so the TorchScript one is used."""

from __future__ import annotations

import warnings

import numpy as np
import torch

HW = 8  # input height and width


def _net(act_bits: int = 8):
    """QuantIdentity (int8 input) -> QuantConv2d -> QuantReLU -> QuantConv2d -> QuantReLU, the two ReLU
    outputs added and requantized, MaxPool, Flatten, QuantLinear with an int8 output: 8-bit per-channel
    symmetric weights, int32 biases, per-tensor activations of `act_bits` bits."""
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerChannelFloat, Int32Bias, Uint8ActPerTensorFloat

    w = {"weight_quant": Int8WeightPerChannelFloat, "bias_quant": Int32Bias}
    relu = {"act_quant": Uint8ActPerTensorFloat, "bit_width": act_bits, "return_quant_tensor": True}

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.qin = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, return_quant_tensor=True)
            self.c1 = qnn.QuantConv2d(3, 8, 3, padding=1, **w)
            self.r1 = qnn.QuantReLU(**relu)
            self.c2 = qnn.QuantConv2d(8, 8, 3, padding=1, **w)
            self.r2 = qnn.QuantReLU(**relu)
            self.qadd = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True)
            self.pool = torch.nn.MaxPool2d(2)
            self.fc = qnn.QuantLinear(8 * (HW // 2) ** 2, 10, output_quant=Int8ActPerTensorFloat, **w)

        def forward(self, x):
            a = self.r1(self.c1(self.qin(x)))
            b = self.r2(self.c2(a))
            # while calibrating, quantization is off and the ReLUs return plain tensors
            y = self.qadd(getattr(a, "value", a) + getattr(b, "value", b))
            return self.fc(torch.flatten(self.pool(y), 1))

    return Net()


def export_qcdq(path, act_bits: int = 8, calib: int = 16) -> None:
    """Build the network (torch seed 0), calibrate its activation scales on `calib` random images,
    and export it with Brevitas' ONNX QCDQ exporter to `path` (opset 13, the batch dimension free)."""
    from brevitas.export import export_onnx_qcdq
    from brevitas.graph.calibrate import calibration_mode

    torch.manual_seed(0)
    net = _net(act_bits).eval()
    calib = torch.from_numpy(np.random.default_rng(0).standard_normal((calib, 3, HW, HW)).astype(np.float32))
    with torch.no_grad(), calibration_mode(net):
        net(calib)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_onnx_qcdq(net, torch.zeros(1, 3, HW, HW), export_path=str(path), input_names=["x"],
                         output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, dynamo=False)
