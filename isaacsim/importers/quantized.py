"""Quantized ONNX graphs (QDQ and QOperator) -> workload nodes, with onnxruntime's float32 requantization.

Both formats reduce to the same integer nodes. A QOperator node (QLinearConv, QLinearMatMul, QGemm,
QLinearAdd, QLinearConcat, QLinearGlobalAveragePool, QLinearAveragePool) names its input and output
scales and zero points; a QDQ float node (Conv, Gemm, MatMul, Add, Concat, GlobalAveragePool,
AveragePool) reads DequantizeLinear outputs and feeds one QuantizeLinear (through Relu / Clip when
they are there), which is the node onnxruntime fuses it into. Either way the weights, the int32 bias,
the zero points and the scales come in unchanged: activation zero points move into the bias (their
correction term is digital), weights must be symmetric, and the rescale is the float32 multiplier
``scale_in * scale_w / scale_out`` computed in float32 in that order, as onnxruntime does.
MaxPool, Flatten, Reshape, Relu, Identity and Dropout act on the codes themselves; a Clip on codes
(between QuantizeLinear and DequantizeLinear, as Brevitas writes a narrower activation) clamps them
to its integer bounds. Clip, Identity and Cast nodes on constants only (Brevitas' clamp of stored
weight codes to -127..127) are folded into constants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from isaacsim.errors import WorkloadError
from isaacsim.importers.onnx_file import OnnxModel, attrs, node_label, node_name
from isaacsim.workload.format import TensorFormat
from isaacsim.workload.im2col import conv_output_hw, pool_output_hw

F32 = np.float32
QDQ_COMPUTE = ("Conv", "Gemm", "MatMul", "Add", "Concat", "GlobalAveragePool", "AveragePool")
QOPERATOR = ("QLinearConv", "QLinearMatMul", "QGemm", "QLinearAdd", "QLinearConcat",
             "QLinearGlobalAveragePool", "QLinearAveragePool")
PASS = ("MaxPool", "Flatten", "Reshape", "Relu", "Clip", "Identity", "Dropout")
QUANTIZED_MARKERS = ("QuantizeLinear", "DequantizeLinear", *QOPERATOR)
NO_ACT = (False, None)
FOLDED = ("Clip", "Identity", "Cast")  # on constant inputs: folded into a constant


@dataclass(frozen=True)
class Code:
    """A quantized tensor of the workload: the node that produces it, its format and per-sample shape."""

    node: str
    fmt: TensorFormat
    shape: tuple[int, ...]


def _fmt_dict(f: TensorFormat) -> dict:
    return {"bits": f.bits, "signed": f.signed, "scale": float(f.scale), "zero_point": int(f.zero_point)}


def _add_requant(ratios: list[float], rq: dict) -> dict:
    """QLinearAdd's rescale as onnxruntime computes it on x86 with AVX2: the float32 ratios
    scale_i / scale_out in two fused multiply-adds on the raw codes (mode float32_fma)."""
    return {**rq, "mode": "float32_fma", "multipliers": ratios}


def _clip(act: tuple[bool, list[int] | None]) -> dict:
    """The requant's `clip` key, when the activation bounds the codes."""
    return {} if act[1] is None else {"clip": act[1]}


def _pads(a: dict, where: str) -> tuple[int, int]:
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise WorkloadError(f"{where}: auto_pad is not supported; export with explicit pads")
    p = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
    if len(p) != 4 or p[0] != p[2] or p[1] != p[3]:
        raise WorkloadError(f"{where}: pads {p} are not symmetric (only 2-D symmetric padding is supported)")
    return p[0], p[1]


def _pair(a: dict, key: str, default: int = 1) -> tuple[int, int]:
    v = [int(x) for x in a.get(key, [default, default])]
    return (v[0], v[1]) if len(v) == 2 else (v[0], v[0])


class QuantizedGraph:
    """Walks a quantized ONNX graph once, in order, emitting manifest nodes and arrays."""

    def __init__(self, model: OnnxModel):
        self.m = model
        self.where = model.path.name
        self.codes: dict[str, Code] = {}  # ONNX tensor -> quantized tensor
        self.deq: dict[str, str] = {}  # float ONNX tensor -> the quantized tensor it dequantizes
        self.wdeq: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # dequantized constants
        self.waxis: dict[str, int] = {}  # their per-channel axis
        self.graph: list[dict] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.done: set[str] = set()
        self.input_fmt: TensorFormat | None = None

    # ------------------------------------------------------------ helpers

    def _err(self, node, msg: str) -> WorkloadError:
        return WorkloadError(f"{self.where}: node {node_label(node)}: {msg}")

    def _name(self, node) -> str:
        return node_name(node, {n["name"] for n in self.graph})

    def _qparams(self, node, scale: str, zp: str | None) -> TensorFormat:
        """The per-tensor format of a scale / zero point pair (uint8 when the zero point is absent)."""
        s = np.asarray(self.m.const(scale, node, "scale"), dtype=np.float32)
        z = np.asarray(self.m.const(zp, node, "zero point")) if zp else np.zeros((), np.uint8)
        if s.size != 1 or z.size != 1:
            raise self._err(node, "activation scales and zero points must be per tensor")
        if z.dtype not in (np.uint8, np.int8):
            raise self._err(node, f"only 8-bit quantized tensors are supported, got {z.dtype}")
        if not float(s.reshape(())) > 0:
            raise self._err(node, f"scale must be > 0, got {float(s.reshape(()))}")
        return TensorFormat(bits=8, signed=z.dtype == np.int8, scale=float(s.reshape(())),
                            zero_point=int(z.reshape(())))

    def _act(self, node, tensor: str, dequantized: bool) -> Code:
        """The quantized tensor behind an input: its codes (QOperator) or the tensor a
        DequantizeLinear read (QDQ)."""
        key = self.deq.get(tensor) if dequantized else tensor
        if key is None or key not in self.codes:
            what = "a DequantizeLinear of a quantized tensor" if dequantized else "a quantized tensor"
            raise self._err(node, f"input {tensor!r} must be {what}")
        return self.codes[key]

    def _weight(self, node, tensor: str, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A dequantized constant weight, its scales per tensor or per output channel (along `axis`)."""
        if tensor not in self.wdeq:
            raise self._err(node, f"input {tensor!r} must be a DequantizeLinear of a constant")
        w = self.wdeq[tensor]
        if w[1].size > 1 and self.waxis[tensor] != axis:
            raise self._err(node, f"per-channel weight scales must lie along the output channels (axis {axis}), "
                                  f"got axis {self.waxis[tensor]}")
        return w

    def _const_q(self, node, q: str, s: str, zp: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        qa = np.asarray(self.m.const(q, node, "quantized constant"))
        sa = np.asarray(self.m.const(s, node, "scale"), dtype=np.float32)
        za = np.asarray(self.m.const(zp, node, "zero point")) if zp else np.zeros((), qa.dtype)
        return qa, sa, za

    def _emit(self, node, n: dict, out: str, fmt: TensorFormat, shape: tuple[int, ...], *, dequantized=False):
        self.graph.append(n)
        self.codes[out] = Code(n["name"], fmt, tuple(int(v) for v in shape))
        if dequantized:
            self.deq[out] = out

    def _alias(self, out: str, code_key: str, dequantized: bool) -> None:
        if dequantized:
            self.deq[out] = code_key
        else:
            self.codes[out] = self.codes[code_key]

    # ------------------------------------------------------------ Q and DQ

    def quantize_linear(self, node) -> None:
        x, out = node.input[0], node.output[0]
        fmt = self._qparams(node, node.input[1], node.input[2] if len(node.input) > 2 else None)
        if x == self.m.input_name:
            if self.input_fmt is not None:
                raise self._err(node, "the model input is quantized twice")
            self.input_fmt = fmt
            self.codes[out] = Code("input", fmt, self.m.input_shape)
            return
        if x in self.deq:
            c = self.codes[self.deq[x]]
            if c.fmt == fmt:
                self.codes[out] = c
                return
            raise self._err(node, "requantizes a tensor into another scale or zero point with no integer op "
                                  "to carry it (not supported)")
        raise self._err(node, f"quantizes {x!r}, which no supported integer node produces")

    def dequantize_linear(self, node) -> None:
        q, out = node.input[0], node.output[0]
        zp = node.input[2] if len(node.input) > 2 else None
        if q in self.m.consts:
            self.wdeq[out] = self._const_q(node, q, node.input[1], zp)
            self.waxis[out] = int(attrs(node).get("axis", 1)) % max(self.wdeq[out][0].ndim, 1)
            return
        if q not in self.codes:
            raise self._err(node, f"dequantizes {q!r}, which is not a quantized tensor of the graph")
        if self._qparams(node, node.input[1], zp) != self.codes[q].fmt:
            raise self._err(node, "scale or zero point differ from those that quantized its input")
        self.deq[out] = q

    # ------------------------------------------------------------ output of a QDQ node

    def _clip_bounds(self, node) -> tuple[float, float]:
        a = attrs(node)
        lo, hi = a.get("min", -np.inf), a.get("max", np.inf)
        if len(node.input) > 1 and node.input[1]:
            lo = float(self.m.const(node.input[1], node, "min"))
        if len(node.input) > 2 and node.input[2]:
            hi = float(self.m.const(node.input[2], node, "max"))
        return float(lo), float(hi)

    def _activation(self, acts: list, fmt: TensorFormat) -> tuple[bool, list[int] | None]:
        """Relu / Clip nodes between an integer op and its QuantizeLinear (or one Clip on codes) ->
        (relu, clip codes or None). A Clip bound inside the format's range becomes an exact clamp of
        the codes, zero point + rint(bound / scale), which is what quantizing the clipped value gives."""
        relu, c_lo, c_hi = False, fmt.lo, fmt.hi
        for a in acts:
            if a.op_type == "Relu":
                relu = True
                continue
            lo, hi = self._clip_bounds(a)
            if not lo < hi:
                raise self._err(a, f"Clip min {lo} must lie below its max {hi}")
            relu |= lo == 0
            for bound, up in ((lo, False), (hi, True)):
                if np.isfinite(bound):
                    code = int(np.clip(np.rint(F32(bound) / F32(fmt.scale)) + fmt.zero_point, fmt.lo, fmt.hi))
                    c_lo, c_hi = (c_lo, min(c_hi, code)) if up else (max(c_lo, code), c_hi)
        if relu:
            c_lo = max(c_lo, fmt.zero_point)
        if c_hi == fmt.hi and c_lo in (fmt.lo, fmt.zero_point if relu else fmt.lo):
            return relu, None
        return relu, [c_lo, c_hi]

    def _output_q(self, node) -> tuple[str, TensorFormat, tuple[bool, list[int] | None]]:
        """The QuantizeLinear fed by a QDQ integer node (through Relu / Clip): (its output, format,
        (relu, clip codes))."""
        t, acts = node.output[0], []
        while True:
            c = self.m.sole_consumer(t)
            if c is None or c.op_type not in ("QuantizeLinear", "Relu", "Clip"):
                raise self._err(node, "its output must feed exactly one QuantizeLinear (through Relu or Clip "
                                      "at most): a quantized model quantizes every integer op's output")
            if c.op_type == "QuantizeLinear":
                break
            acts.append(c)
            t = c.output[0]
        for a in (*acts, c):
            self.done.add(a.output[0])
        fmt = self._qparams(c, c.input[1], c.input[2] if len(c.input) > 2 else None)
        return c.output[0], fmt, self._activation(acts, fmt)

    # ------------------------------------------------------------ matrix nodes

    def _matrix(self, node, op: str, x: Code, w, bias, out: str, fout: TensorFormat, relu: tuple,
                extra: dict | None = None) -> None:
        """One conv2d/linear node: weights (q, scale, zp) with q shaped (Cout, ...), int32 bias or None."""
        wq, s_w, zp_w = w
        if np.any(np.asarray(zp_w) != 0):
            raise self._err(node, "weights must be symmetric (weight zero point 0)")
        wq = np.asarray(wq).astype(np.int64)
        if wq.dtype.kind not in "iu" or (wq.size and np.abs(wq).max() > 127):
            raise self._err(node, "weights must be 8-bit symmetric codes in -127..127 (found -128)")
        cout = wq.shape[0]
        if np.asarray(s_w).size not in (1, cout):
            raise self._err(node, f"{np.asarray(s_w).size} weight scales for {cout} output channels")
        s_w = np.broadcast_to(np.asarray(s_w, dtype=F32).reshape(-1), (cout,))
        rows = wq.reshape(cout, -1)
        b = np.zeros(cout, np.int64) if bias is None else np.asarray(bias).astype(np.int64).reshape(cout)
        b = b - x.fmt.zero_point * rows.sum(axis=1)
        if b.size and np.abs(b).max() >= 2**31:
            raise self._err(node, "bias plus the input zero point's correction leaves int32")
        name = self._name(node)
        self.arrays[f"{name}.w"] = wq.astype(np.int8)
        self.arrays[f"{name}.m"] = (F32(x.fmt.scale) * s_w) / F32(fout.scale)
        n = {"name": name, "op": op, "inputs": [x.node], "weight": f"{name}.w", "weight_bits": 8,
             "weight_scale": [float(v) for v in s_w], "activation": "relu" if relu[0] else None,
             "requant": {"mode": "float32", "multiplier": f"{name}.m", **_fmt_dict(fout), **_clip(relu)}}
        if bias is not None or x.fmt.zero_point:
            self.arrays[f"{name}.b"] = b.astype(np.int32)
            n["bias"] = f"{name}.b"
        n.update(extra or {})
        if op == "conv2d":
            shape = (cout, *conv_output_hw(x.shape[1:], n["kernel"], n["stride"], n["padding"], n["dilation"]))
        else:
            shape = (cout,)
        self._emit(node, n, out, fout, shape, dequantized=False)

    def _conv(self, node, x: Code, w, bias, out, fout, relu) -> None:
        if np.asarray(w[0]).ndim != 4 or len(x.shape) != 3:
            raise self._err(node, "only 2-D convolutions on (N, C, H, W) tensors are supported")
        a = attrs(node)
        where = f"{self.where}: node {node_label(node)}"
        extra = {"out_channels": int(w[0].shape[0]), "kernel": [int(k) for k in w[0].shape[2:]],
                 "stride": list(_pair(a, "strides")), "padding": list(_pads(a, where)),
                 "dilation": list(_pair(a, "dilations")), "groups": int(a.get("group", 1))}
        self._matrix(node, "conv2d", x, w, bias, out, fout, relu, extra)

    def _gemm(self, node, x: Code, w, bias, out, fout, relu, *, trans_b: bool) -> None:
        """Gemm / MatMul with a constant B: weight (out, in) = B^T, or B itself with transB."""
        wq = np.asarray(w[0])
        if wq.ndim != 2 or len(x.shape) != 1:
            raise self._err(node, "only 2-D products of a (N, features) input and a constant matrix are supported")
        self._matrix(node, "linear", x, (wq if trans_b else wq.T, w[1], w[2]), bias, out, fout, relu,
                     {"out_features": int(wq.shape[0] if trans_b else wq.shape[1])})

    def _gemm_attrs(self, node) -> bool:
        a = attrs(node)
        if a.get("transA", 0) or float(a.get("alpha", 1.0)) != 1.0 or float(a.get("beta", 1.0)) != 1.0:
            raise self._err(node, "only transA=0, alpha=1, beta=1 are supported")
        return bool(a.get("transB", 0))

    def _bias_codes(self, node, tensor: str | None) -> np.ndarray | None:
        if not tensor:
            return None
        if tensor in self.wdeq:
            q, _, zp = self.wdeq[tensor]
            if np.any(np.asarray(zp) != 0) or q.dtype != np.int32:
                raise self._err(node, "the bias must be int32 codes with zero point 0")
            return q
        b = self.m.const(tensor, node, "bias")
        if b.dtype != np.int32:
            raise self._err(node, f"the bias must be int32 codes, got {b.dtype}")
        return b

    # ------------------------------------------------------------ QDQ float nodes

    def qdq_compute(self, node) -> None:
        op = node.op_type
        out, fout, relu = self._output_q(node)
        if op == "Conv":
            self._conv(node, self._act(node, node.input[0], True), self._weight(node, node.input[1], 0),
                       self._bias_codes(node, node.input[2] if len(node.input) > 2 else None), out, fout, relu)
        elif op in ("Gemm", "MatMul"):
            trans_b = self._gemm_attrs(node) if op == "Gemm" else False
            w = self._weight(node, node.input[1], 0 if trans_b else 1)
            bias = self._bias_codes(node, node.input[2] if len(node.input) > 2 else None)
            self._gemm(node, self._act(node, node.input[0], True), w, bias, out, fout, relu, trans_b=trans_b)
        else:
            xs = [self._act(node, i, True) for i in node.input]
            self._mixed(node, op, xs, out, fout, relu)

    # ------------------------------------------------------------ QOperator nodes

    def qoperator(self, node) -> None:
        op, i = node.op_type, list(node.input) + [""] * 9
        q = self._qparams
        if op == "QLinearConv":
            x = self._act(node, i[0], False)
            self._check_in(node, x, q(node, i[1], i[2]))
            self._conv(node, x, self._const_q(node, i[3], i[4], i[5]), self._bias_codes(node, i[8] or None),
                       node.output[0], q(node, i[6], i[7]), NO_ACT)
        elif op in ("QLinearMatMul", "QGemm"):
            x = self._act(node, i[0], False)
            self._check_in(node, x, q(node, i[1], i[2]))
            if op == "QGemm" and not i[7]:
                raise self._err(node, "QGemm with a float output (no y_scale) is not supported")
            ys, yz, bias = (i[6], i[7], None) if op == "QLinearMatMul" else (i[7], i[8], i[6] or None)
            trans_b = self._gemm_attrs(node) if op == "QGemm" else False
            self._gemm(node, x, self._const_q(node, i[3], i[4], i[5]), self._bias_codes(node, bias),
                       node.output[0], q(node, ys, yz), NO_ACT, trans_b=trans_b)
        elif op == "QLinearAdd":
            xs = [self._act(node, i[0], False), self._act(node, i[3], False)]
            self._check_in(node, xs[0], q(node, i[1], i[2]))
            self._check_in(node, xs[1], q(node, i[4], i[5]))
            self._mixed(node, "Add", xs, node.output[0], q(node, i[6], i[7]), NO_ACT)
        elif op == "QLinearConcat":
            ins = list(node.input)
            xs = [self._act(node, t, False) for t in ins[2::3]]
            for k, x in enumerate(xs):
                self._check_in(node, x, q(node, ins[3 + 3 * k], ins[4 + 3 * k]))
            self._mixed(node, "Concat", xs, node.output[0], q(node, i[0], i[1]), NO_ACT)
        else:  # QLinearGlobalAveragePool, QLinearAveragePool
            x = self._act(node, i[0], False)
            self._check_in(node, x, q(node, i[1], i[2]))
            if attrs(node).get("channels_last", 0):
                raise self._err(node, "channels_last is not supported")
            self._mixed(node, op.replace("QLinear", ""), [x], node.output[0], q(node, i[3], i[4]), NO_ACT)

    def _check_in(self, node, x: Code, fmt: TensorFormat) -> None:
        if x.fmt != fmt:
            raise self._err(node, "input scale or zero point differ from those of the tensor it reads")

    # ------------------------------------------------------------ add, concat, average pools

    def _mixed(self, node, op: str, xs: list[Code], out: str, fout: TensorFormat, relu: tuple) -> None:
        name = self._name(node)
        ratios = [float(F32(x.fmt.scale) / F32(fout.scale)) for x in xs]
        rq = {"mode": "float32", **_fmt_dict(fout)}
        if op == "Add":
            if len(xs) != 2 or xs[0].shape != xs[1].shape:
                raise self._err(node, "only the sum of two same-shape tensors is supported (no broadcasting)")
            n = {"name": name, "op": "add", "inputs": [x.node for x in xs],
                 "activation": "relu" if relu[0] else None, "requant": {**_add_requant(ratios, rq), **_clip(relu)}}
            shape = xs[0].shape
        elif op == "Concat":
            if int(attrs(node).get("axis", 1)) != 1:
                raise self._err(node, "only concatenation along channels (axis 1) is supported")
            if relu != NO_ACT:
                raise self._err(node, "a Relu or Clip after Concat is not supported")
            n = {"name": name, "op": "concat", "inputs": [x.node for x in xs], "requant": {**rq, "multipliers": ratios}}
            shape = (sum(x.shape[0] for x in xs), *xs[0].shape[1:])
        else:
            n, shape = self._average(node, op, xs[0], rq, name)
            if relu != NO_ACT:
                raise self._err(node, "a Relu or Clip after an average pool is not supported")
        self._emit(node, n, out, fout, shape)

    def _average(self, node, op: str, x: Code, rq: dict, name: str):
        if len(x.shape) != 3:
            raise self._err(node, "average pools need an (N, C, H, W) input")
        if op == "GlobalAveragePool":
            count, n = x.shape[1] * x.shape[2], {"name": name, "op": "global_avgpool", "inputs": [x.node]}
            shape = (x.shape[0], 1, 1)
            n["requant"] = {**rq, "multiplier": float(F32(x.fmt.scale) / (F32(rq["scale"]) * F32(count)))}
        else:
            a = attrs(node)
            k, s = _pair(a, "kernel_shape"), _pair(a, "strides", 0) if "strides" in a else _pair(a, "kernel_shape")
            p = _pads(a, f"{self.where}: node {node_label(node)}")
            if a.get("ceil_mode", 0) or (max(p) and not a.get("count_include_pad", 0)):
                raise self._err(node, "only ceil_mode=0, and count_include_pad=1 when padded, are supported")
            n = {"name": name, "op": "avgpool", "inputs": [x.node], "kernel": list(k), "stride": list(s),
                 "padding": list(p), "requant": {**rq, "mode": "float32_mean"}}
            shape = (x.shape[0], *conv_output_hw(x.shape[1:], k, s, p))
        return n, shape

    # ------------------------------------------------------------ ops on the codes themselves

    def passthrough(self, node) -> None:
        t, out, op = node.input[0], node.output[0], node.op_type
        dq = t in self.deq
        x = self._act(node, t, dq)
        key = self.deq[t] if dq else t
        if op in ("Identity", "Dropout") or (op in ("Flatten", "Reshape") and len(x.shape) == 1):
            self._check_flat(node, x)
            self._alias(out, key, dq)
            return
        name = self._name(node)
        if op in ("Relu", "Clip"):
            relu, clip = self._code_clip(node, x.fmt) if op == "Clip" and not dq else self._activation([node], x.fmt)
            if not relu and clip is None:
                self._alias(out, key, dq)
                return
            n, shape = {"name": name, "op": "relu", "inputs": [x.node]}, x.shape
            if clip is not None:
                n["clip"] = clip
        elif op in ("Flatten", "Reshape"):
            self._check_flat(node, x)
            n, shape = {"name": name, "op": "flatten", "inputs": [x.node]}, (int(np.prod(x.shape)),)
        else:
            n, shape = self._maxpool(node, x, name)
        self._emit(node, n, out, x.fmt, shape, dequantized=dq)

    def _code_clip(self, node, fmt: TensorFormat) -> tuple[bool, list[int] | None]:
        """A Clip on the codes themselves, between a QuantizeLinear and its DequantizeLinear (a narrower
        range than 8 bits, as Brevitas writes one): its integer bounds clamp the codes directly."""
        lo, hi = self._clip_bounds(node)
        c_lo = fmt.lo if not np.isfinite(lo) else max(fmt.lo, int(np.ceil(lo)))
        c_hi = fmt.hi if not np.isfinite(hi) else min(fmt.hi, int(np.floor(hi)))
        if c_lo > c_hi:
            raise self._err(node, f"Clip bounds {lo} .. {hi} leave no code of the tensor's {fmt.lo} .. {fmt.hi}")
        return False, None if (c_lo, c_hi) == (fmt.lo, fmt.hi) else [c_lo, c_hi]

    def batch_norm(self, node) -> None:
        raise self._err(node, "BatchNormalization in a quantized graph: fold it into the convolution before "
                              "quantizing (or import the float model with --calib-data)")

    def _check_flat(self, node, x: Code) -> None:
        if node.op_type == "Flatten" and int(attrs(node).get("axis", 1)) != 1:
            raise self._err(node, "only Flatten with axis 1 is supported")
        if node.op_type == "Reshape":
            shape = [int(v) for v in self.m.const(node.input[1], node, "shape")]
            if len(shape) != 2 or shape[1] not in (-1, int(np.prod(x.shape))):
                raise self._err(node, f"only a reshape to (N, features) is supported, got {shape}")

    def _maxpool(self, node, x: Code, name: str):
        a = attrs(node)
        if len(x.shape) != 3:
            raise self._err(node, "MaxPool needs an (N, C, H, W) input")
        if any(int(d) != 1 for d in a.get("dilations", [1])) or a.get("storage_order", 0):
            raise self._err(node, "only dilations 1 and storage_order 0 are supported")
        k = _pair(a, "kernel_shape")
        s = _pair(a, "strides") if "strides" in a else (1, 1)
        p = _pads(a, f"{self.where}: node {node_label(node)}")
        ceil = bool(a.get("ceil_mode", 0))
        n = {"name": name, "op": "maxpool", "inputs": [x.node], "kernel": list(k), "stride": list(s),
             "padding": list(p), "ceil_mode": ceil}
        return n, (x.shape[0], *pool_output_hw(x.shape[1:], k, s, p, ceil))

    # ------------------------------------------------------------ constants

    def _fold(self, node) -> bool:
        """Clip, Identity and Cast on constants only (an exporter's clamp of stored weight codes to the
        narrow range, say) become constants themselves, computed as onnxruntime does; True when folded."""
        ins = [i for i in node.input if i]
        if node.op_type not in FOLDED or not ins or any(i not in self.m.consts for i in ins):
            return False
        x = self.m.consts[node.input[0]]
        if node.op_type == "Clip":
            y = x
            for bound, up in zip(self._clip_bounds(node), (False, True), strict=True):
                if np.isfinite(bound):
                    y = (np.minimum if up else np.maximum)(y, np.asarray(bound).astype(x.dtype))
        elif node.op_type == "Cast":
            y = self._cast(node, x)
        else:
            y = x
        self.m.consts[node.output[0]] = y
        return True

    def _cast(self, node, x: np.ndarray) -> np.ndarray:
        from onnx import helper

        to = helper.tensor_dtype_to_np_dtype(int(attrs(node)["to"]))
        if x.dtype.kind == "f" and np.dtype(to).kind in "iu":
            raise self._err(node, f"a Cast of float constants to {np.dtype(to)} is not supported")
        return x.astype(to)

    # ------------------------------------------------------------ the walk

    def run(self) -> tuple[TensorFormat, list[dict], dict[str, np.ndarray]]:
        """Walk the graph; return (input format, manifest nodes, arrays)."""
        handlers = {"QuantizeLinear": self.quantize_linear, "DequantizeLinear": self.dequantize_linear,
                    **{op: self.qdq_compute for op in QDQ_COMPUTE}, **{op: self.qoperator for op in QOPERATOR},
                    **{op: self.passthrough for op in PASS}, "BatchNormalization": self.batch_norm}
        for node in self.m.nodes:
            if node.output[0] in self.done or self._fold(node):
                continue
            if node.op_type not in handlers:
                raise unsupported(self.where, node)
            handlers[node.op_type](node)
        return self._finish()

    def _finish(self):
        if self.input_fmt is None:
            raise WorkloadError(f"{self.where}: the model input {self.m.input_name!r} is never quantized "
                                f"(no QuantizeLinear reads it)")
        if len(self.m.outputs) != 1:
            raise WorkloadError(f"{self.where}: expected one graph output, found {self.m.outputs}")
        out = self.m.outputs[0]
        key = self.deq.get(out, out)
        if key not in self.codes or not self.graph:
            raise WorkloadError(f"{self.where}: the graph output {out!r} is not a quantized tensor of the graph")
        if self.codes[key].node != self.graph[-1]["name"]:
            raise WorkloadError(f"{self.where}: the graph output {out!r} is not produced by the last integer node")
        return self.input_fmt, self.graph, self.arrays


SUPPORTED = ("Conv", "Gemm", "MatMul", "Relu", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool", "Add",
             "Concat", "Flatten", "Reshape", "BatchNormalization", "Identity", "Dropout", "QuantizeLinear",
             "DequantizeLinear", *QOPERATOR)


def unsupported(where: str, node) -> WorkloadError:
    """The one error line for an op outside the supported set."""
    return WorkloadError(f"{where}: node {node_label(node)}: unsupported op type {node.op_type!r}; "
                         f"supported: {', '.join(SUPPORTED)}")


def is_quantized(model: OnnxModel) -> bool:
    """Whether the graph holds any quantize, dequantize or QLinear node."""
    return any(n.op_type in QUANTIZED_MARKERS for n in model.nodes)


def quantized_graph(model: OnnxModel):
    """(input format, manifest nodes, arrays) of a QDQ or QOperator model."""
    return QuantizedGraph(model).run()
