"""The worked example of docs/importing.md: a small CNN trained on the bundled digits set, exported
with torch.onnx.export, quantized by onnxruntime's quantize_static (QDQ, per-channel int8 weights,
uint8 activations), plus the npz files `isaacsim import` reads.

    python docs/scripts/onnx_example.py [--out onnx_example]

Writes OUT/digits_cnn.onnx (float), OUT/digits_cnn_qdq.onnx, OUT/calib.npz (64 training images),
OUT/eval.npz (the 359 test images with labels) and prints onnxruntime's accuracy of both models.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from isaacsim.workload.datasets import load_dataset


class DigitsCNN(torch.nn.Module):
    """conv 3x3 (8) - relu - maxpool 2 - conv 3x3 (16) - relu - global average pool - linear (10)."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.c2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.fc = torch.nn.Linear(16, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.c1(x)), 2)
        x = torch.relu(self.c2(x))
        return self.fc(torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))


class _Reader(CalibrationDataReader):
    def __init__(self, x):
        self.it = iter([{"x": x[i:i + 1]} for i in range(len(x))])

    def get_next(self):
        return next(self.it, None)


def _accuracy(path: Path, x, y) -> float:
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return float((s.run(None, {"x": x})[0].argmax(axis=1) == y).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="onnx_example", type=Path)
    out = ap.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    train, test = load_dataset("digits", split="train"), load_dataset("digits", split="test")
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(np.array(train.x)), torch.from_numpy(np.array(train.y))
    for _ in range(60):
        for i in range(0, len(xt), 128):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[i:i + 128]), yt[i:i + 128]).backward()
            opt.step()
    model.eval()
    f, q = out / "digits_cnn.onnx", out / "digits_cnn_qdq.onnx"
    torch.onnx.export(model, xt[:1], str(f), input_names=["x"], output_names=["logits"], opset_version=13,
                      dynamo=False, dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}})
    calib = np.array(train.x[:64])
    quantize_static(str(f), str(q), _Reader(calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    np.savez(out / "calib.npz", x=calib, y=np.array(train.y[:64]))
    np.savez(out / "eval.npz", x=np.array(test.x), y=np.array(test.y))
    for p in (f, q):
        print(f"{p.name}: onnxruntime accuracy {_accuracy(p, np.array(test.x), np.array(test.y)):.4f} "
              f"on {len(test.y)} test images")


if __name__ == "__main__":
    main()
