"""Bringing a model in: ONNX files (QDQ, QOperator or float) as workloads (docs/importing.md).

`import_onnx(path, out=None, calib=None, eval=None, name=None) -> Workload`. Modules: `onnx_file`
(reading the file, its constants and input shape), `data` (calibration / evaluation npz files),
`quantized` (QDQ and QOperator graphs with onnxruntime's float32 requantization), `floating` (float
graphs into the post-training quantizer's graph spec), `api` (the entry point).
"""

from isaacsim.importers.api import import_onnx, input_codes

__all__ = ["import_onnx", "input_codes"]
