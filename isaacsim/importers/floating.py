"""Float ONNX graphs -> the post-training quantizer's float graph spec and parameters.

The spec (`isaacsim.workload.ptq`) has the workload's ops with float weights; this module maps ONNX
nodes onto it: Conv (with a BatchNormalization that follows it folded in), Gemm, MatMul (with a
constant Add after it as its bias), Relu, Clip (ReLU6, Hardtanh: a relu node with its real
bounds, kept as codes), MaxPool, AveragePool, GlobalAveragePool, Add, Concat, Flatten / Reshape to
(N, features), Identity and Dropout (aliases). The input range is that of the calibration data.
"""

from __future__ import annotations

import numpy as np

from isaacsim.errors import WorkloadError
from isaacsim.importers.onnx_file import OnnxModel, attrs, node_label, node_name
from isaacsim.importers.quantized import unsupported


def _pads(a: dict, err) -> list[int]:
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise err("auto_pad is not supported; export with explicit pads")
    p = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
    if len(p) != 4 or p[0] != p[2] or p[1] != p[3]:
        raise err(f"pads {p} are not symmetric (only 2-D symmetric padding is supported)")
    return [p[0], p[1]]


def _ints(a: dict, key: str, default: list[int]) -> list[int]:
    return [int(v) for v in a.get(key, default)]


class FloatGraph:
    """Walks a float ONNX graph once, in order, building the spec's nodes and the float parameters."""

    def __init__(self, model: OnnxModel):
        self.m = model
        self.tensors: dict[str, str] = {model.input_name: "input"}  # ONNX tensor -> spec node
        self.nodes: list[dict] = []
        self.params: dict[str, np.ndarray] = {}
        self.done: set[str] = set()

    def _err(self, node):
        return lambda msg: WorkloadError(f"{self.m.path.name}: node {node_label(node)}: {msg}")

    def _in(self, node, k: int = 0) -> str:
        t = node.input[k]
        if t not in self.tensors:
            raise self._err(node)(f"input {t!r} is not produced by a supported node")
        return self.tensors[t]

    def _add(self, node, d: dict, out: str | None = None) -> None:
        d = {"name": node_name(node, {n["name"] for n in self.nodes}), **d}
        self.nodes.append(d)
        self.tensors[out or node.output[0]] = d["name"]

    def _const(self, node, k: int, what: str) -> np.ndarray:
        return np.asarray(self.m.const(node.input[k], node, what), dtype=np.float64)

    # ------------------------------------------------------------ matrix ops

    def conv(self, node) -> None:
        err, a = self._err(node), attrs(node)
        w = self._const(node, 1, "weight")
        if w.ndim != 4:
            raise err("only 2-D convolutions are supported")
        b = self._const(node, 2, "bias") if len(node.input) > 2 and node.input[2] else None
        out = node.output[0]
        bn = self.m.sole_consumer(out)
        if bn is not None and bn.op_type == "BatchNormalization":
            w, b = self._fold(bn, w, b)
            self.done.add(bn.output[0])
            out = bn.output[0]
        self._matrix(node, w, b, out, {"op": "conv2d", "out_channels": int(w.shape[0]),
                                       "kernel": [int(k) for k in w.shape[2:]], "stride": _ints(a, "strides", [1, 1]),
                                       "padding": _pads(a, err), "dilation": _ints(a, "dilations", [1, 1]),
                                       "groups": int(a.get("group", 1))})

    def _matrix(self, node, w, b, out: str, fields: dict) -> None:
        """Add a conv2d/linear node: its weight and bias become the named arrays."""
        name = node_name(node, {n["name"] for n in self.nodes})
        self.params[f"{name}.w"] = w
        if b is not None:
            self.params[f"{name}.b"] = b
        self._add(node, {**fields, "inputs": [self._in(node)], "weight": f"{name}.w",
                         "bias": f"{name}.b" if b is not None else None}, out)

    def _fold(self, bn, w, b):
        gamma, beta, mean, var = (self._const(bn, k, "batch-norm parameter") for k in (1, 2, 3, 4))
        k = gamma / np.sqrt(var + float(attrs(bn).get("epsilon", 1e-5)))
        return w * k[:, None, None, None], ((b if b is not None else 0.0) - mean) * k + beta

    def gemm(self, node) -> None:
        err, a = self._err(node), attrs(node)
        if node.op_type == "Gemm" and (a.get("transA", 0) or float(a.get("alpha", 1)) != 1
                                       or float(a.get("beta", 1)) != 1):
            raise err("only transA=0, alpha=1, beta=1 are supported")
        bmat = self._const(node, 1, "weight")
        if bmat.ndim != 2:
            raise err("only 2-D products with a constant matrix are supported")
        w = bmat if a.get("transB", 0) else bmat.T
        b, out = None, node.output[0]
        if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:
            b = np.broadcast_to(self._const(node, 2, "bias"), (w.shape[0],)).copy()
        nxt = self.m.sole_consumer(out)
        if node.op_type == "MatMul" and nxt is not None and nxt.op_type == "Add" and \
                any(i in self.m.consts for i in nxt.input):
            c = next(i for i in nxt.input if i in self.m.consts)
            b = np.broadcast_to(np.asarray(self.m.consts[c], dtype=np.float64), (w.shape[0],)).copy()
            self.done.add(nxt.output[0])
            out = nxt.output[0]
        self._matrix(node, w, b, out, {"op": "linear", "out_features": int(w.shape[0])})

    # ------------------------------------------------------------ the rest

    def relu(self, node) -> None:
        d = {"op": "relu", "inputs": [self._in(node)]}
        if node.op_type == "Clip":
            lo = self._bound(node, 1, "min", -np.inf)
            hi = self._bound(node, 2, "max", np.inf)
            if not lo <= 0 < hi:
                raise self._err(node)(f"only a Clip whose range holds 0 and a positive max is supported "
                                      f"(ReLU, ReLU6, Hardtanh), got [{lo}, {hi}]")
            if (lo, hi) != (0, np.inf):
                d["clip"] = [float(lo) if np.isfinite(lo) else None, float(hi) if np.isfinite(hi) else None]
        self._add(node, d)

    def _bound(self, node, k: int, key: str, default: float) -> float:
        if len(node.input) > k and node.input[k]:
            return float(self._const(node, k, key))
        return float(attrs(node).get(key, default))

    def pool(self, node) -> None:
        err, a = self._err(node), attrs(node)
        op = {"MaxPool": "maxpool", "AveragePool": "avgpool", "GlobalAveragePool": "global_avgpool"}[node.op_type]
        d = {"op": op, "inputs": [self._in(node)]}
        if op != "global_avgpool":
            if (a.get("ceil_mode", 0) and op != "maxpool") or any(int(v) != 1 for v in a.get("dilations", [1])):
                raise err("only dilations 1, and ceil_mode=0 for an AveragePool, are supported")
            pads = _pads(a, err)
            if op == "avgpool" and max(pads) and not a.get("count_include_pad", 0):
                raise err("a padded AveragePool needs count_include_pad=1")
            d.update(kernel=_ints(a, "kernel_shape", []), stride=_ints(a, "strides", [1, 1]), padding=pads)
            if a.get("ceil_mode", 0):
                d["ceil_mode"] = True
        self._add(node, d)

    def merge(self, node) -> None:
        if node.op_type == "Concat" and int(attrs(node).get("axis", 1)) != 1:
            raise self._err(node)("only concatenation along channels (axis 1) is supported")
        self._add(node, {"op": node.op_type.lower(), "inputs": [self._in(node, k) for k in range(len(node.input))]})

    def reshape(self, node) -> None:
        if node.op_type == "Flatten" and int(attrs(node).get("axis", 1)) != 1:
            raise self._err(node)("only Flatten with axis 1 is supported")
        if node.op_type == "Reshape":
            shape = [int(v) for v in self.m.const(node.input[1], node, "shape")]
            if len(shape) != 2:
                raise self._err(node)(f"only a reshape to (N, features) is supported, got {shape}")
        self._add(node, {"op": "flatten", "inputs": [self._in(node)]})

    def alias(self, node) -> None:
        self.tensors[node.output[0]] = self._in(node)

    def batch_norm(self, node) -> None:
        raise self._err(node)("BatchNormalization is folded only directly after a Conv")

    def run(self, calib_x: np.ndarray) -> tuple[dict, dict[str, np.ndarray]]:
        handlers = {"Conv": self.conv, "Gemm": self.gemm, "MatMul": self.gemm, "Relu": self.relu,
                    "Clip": self.relu, "MaxPool": self.pool, "AveragePool": self.pool,
                    "GlobalAveragePool": self.pool, "Add": self.merge, "Concat": self.merge,
                    "Flatten": self.reshape, "Reshape": self.reshape, "Identity": self.alias,
                    "Dropout": self.alias, "BatchNormalization": self.batch_norm}
        for node in self.m.nodes:
            if node.output[0] in self.done:
                continue
            if node.op_type not in handlers:
                raise unsupported(self.m.path.name, node)
            handlers[node.op_type](node)
        out = self.m.outputs[0] if len(self.m.outputs) == 1 else None
        if out is None or self.tensors.get(out) != (self.nodes[-1]["name"] if self.nodes else None):
            raise WorkloadError(f"{self.m.path.name}: expected one graph output produced by the last node")
        lo, hi = float(calib_x.min()), float(calib_x.max())
        spec = {"input": {"shape": list(self.m.input_shape), "range": [lo, hi if hi > lo else lo + 1.0], "bits": 8},
                "graph": self.nodes}
        return spec, self.params


def float_graph(model: OnnxModel, calib_x: np.ndarray) -> tuple[dict, dict[str, np.ndarray]]:
    """(float graph spec, float parameters) of a float ONNX model; the input range from calib_x."""
    return FloatGraph(model).run(calib_x)
