"""Any ``nn.Module`` that torch.fx traces into supported ops -> an exportable :class:`GraphNet`.

:func:`from_module` traces a float module with ``torch.fx.symbolic_trace`` and maps each node onto
a node of the float graph spec (:mod:`isaacsim.workload.ptq`), the graph the exported workload
has: ``nn.Conv2d`` (a ``BatchNorm2d`` right after it is kept beside it and folded at T0, as for
ResNet-20), ``nn.Linear``, ReLU, ReLU6, Hardtanh and clamp (a ``relu`` node with its real bounds),
max and average pools, adaptive average pooling to 1x1, residual ``+``, ``torch.cat`` along
channels, flatten (``nn.Flatten``, ``torch.flatten``, ``x.flatten(1)``, ``x.view(x.size(0), -1)``),
and ``Dropout`` / ``Identity`` (nothing). The module's weights, biases and batch-norm state are
copied into the :class:`GraphNet`, which then trains with AB, STE or PTQ and exports like the
zoo's models. Anything else is one :class:`~isaacsim.errors.WorkloadError` line naming the node.
"""

from __future__ import annotations

import copy
import importlib.util
import operator
import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from isaacsim.errors import WorkloadError
from isaacsim.workload import ptq as fgraph

__all__ = ["SUPPORTED", "from_module", "load_factory"]

SUPPORTED = ("Conv2d (+ BatchNorm2d)", "Linear", "ReLU", "ReLU6", "Hardtanh", "clamp", "MaxPool2d", "AvgPool2d",
             "AdaptiveAvgPool2d(1)", "+", "torch.cat(dim=1)", "flatten / view(N, -1)", "Dropout", "Identity")
_RELU_FNS = (F.relu, torch.relu, F.relu6, F.hardtanh, torch.clamp, torch.clip)
_ADD_FNS = (operator.add, operator.iadd, torch.add)
_FLAT_FNS = (torch.flatten,)


def _pair(v) -> list[int]:
    return [int(v), int(v)] if isinstance(v, int) else [int(x) for x in v]


class _Tracer:
    """One pass over the traced graph, building the spec's nodes and noting where the weights are."""

    def __init__(self, module: nn.Module):
        self.root = module
        self.mods = dict(module.named_modules())
        self.tensors: dict[str, str] = {}  # fx node name -> spec node name
        self.sizes: set[str] = set()  # fx nodes that are x.size(0)
        self.nodes: list[dict] = []
        self.weights: dict[str, nn.Module] = {}  # spec node -> its Conv2d / Linear
        self.norms: dict[str, nn.BatchNorm2d] = {}  # conv spec node -> its BatchNorm2d
        self.users: dict[str, int] = {}

    def err(self, node, msg: str) -> WorkloadError:
        if node.op == "call_module":
            what = f"module {node.target!r}"
        elif isinstance(node.target, str):
            what = node.target
        else:
            what = getattr(node.target, "__name__", str(node.target))
        return WorkloadError(f"node {node.name!r} ({what}): {msg}")

    def src(self, node, arg) -> str:
        if not isinstance(arg, torch.fx.Node) or arg.name not in self.tensors:
            raise self.err(node, "reads a value that is not a tensor of the traced graph (constants and "
                                 "shapes are not supported)")
        return self.tensors[arg.name]

    def add(self, node, d: dict) -> None:
        d = {"name": node.name, **d}
        self.nodes.append(d)
        self.tensors[node.name] = node.name

    # ------------------------------------------------------------ modules

    def module(self, node) -> None:
        m = self.mods[node.target]
        x = self.src(node, node.args[0]) if node.args else None
        if type(m) is nn.Conv2d:
            self._conv(node, m, x)
        elif type(m) is nn.Linear:
            self.add(node, {"op": "linear", "inputs": [x], "out_features": m.out_features})
            self.weights[node.name] = m
        elif type(m) is nn.BatchNorm2d:
            self._norm(node, m, x)
        elif isinstance(m, nn.ReLU | nn.ReLU6 | nn.Hardtanh):
            bounds = None if type(m) is nn.ReLU else (float(m.min_val), float(m.max_val))
            self._relu(node, x, bounds)
        elif type(m) in (nn.MaxPool2d, nn.AvgPool2d):
            self._pool(node, x, "maxpool" if type(m) is nn.MaxPool2d else "avgpool", m.kernel_size, m.stride,
                       m.padding, m.ceil_mode, getattr(m, "dilation", 1), getattr(m, "count_include_pad", True))
        elif type(m) is nn.AdaptiveAvgPool2d:
            self._adaptive(node, x, m.output_size)
        elif type(m) is nn.Flatten:
            if m.start_dim != 1 or m.end_dim != -1:
                raise self.err(node, "only Flatten(start_dim=1, end_dim=-1) is supported")
            self.add(node, {"op": "flatten", "inputs": [x]})
        elif isinstance(m, nn.Dropout | nn.Identity):
            self.tensors[node.name] = x
        else:
            raise self.err(node, f"unsupported module {type(m).__name__}; supported: {', '.join(SUPPORTED)}")

    def _conv(self, node, m: nn.Conv2d, x: str) -> None:
        if m.padding_mode != "zeros" or isinstance(m.padding, str):
            raise self.err(node, "only zero padding given as numbers is supported (not 'same' or other modes)")
        self.add(node, {"op": "conv2d", "inputs": [x], "out_channels": m.out_channels, "kernel": _pair(m.kernel_size),
                        "stride": _pair(m.stride), "padding": _pair(m.padding), "dilation": _pair(m.dilation),
                        "groups": m.groups})
        self.weights[node.name] = m

    def _norm(self, node, m: nn.BatchNorm2d, x: str) -> None:
        prev = node.args[0]
        conv = self.nodes[-1] if self.nodes else None
        if conv is None or conv["name"] != x or conv["op"] != "conv2d" or x in self.norms or len(prev.users) != 1:
            raise self.err(node, "BatchNorm2d is supported only directly after a Conv2d whose output it alone reads")
        self.norms[x] = m
        self.tensors[node.name] = x

    def _relu(self, node, x: str, bounds) -> None:
        d = {"op": "relu", "inputs": [x]}
        if bounds is not None:
            lo, hi = bounds
            if not lo <= 0 < hi:
                raise self.err(node, f"clamp bounds [{lo}, {hi}] must hold 0 and a positive upper bound")
            d["clip"] = [None if lo == float("-inf") else lo, None if hi == float("inf") else hi]
        self.add(node, d)

    def _pool(self, node, x, op, k, s, p, ceil, dil, include_pad) -> None:
        if _pair(dil) != [1, 1] or (op == "avgpool" and (ceil or not include_pad)):
            raise self.err(node, "only dilation 1, and for an average pool ceil_mode=False and count_include_pad=True, "
                                 "are supported")
        d = {"op": op, "inputs": [x], "kernel": _pair(k), "stride": _pair(s if s is not None else k),
             "padding": _pair(p)}
        if ceil:
            d["ceil_mode"] = True
        self.add(node, d)

    def _adaptive(self, node, x, size) -> None:
        if _pair(size) != [1, 1]:
            raise self.err(node, f"adaptive average pooling is supported to 1x1 only, got {size}")
        self.add(node, {"op": "global_avgpool", "inputs": [x]})

    # ------------------------------------------------------------ functions and methods

    def function(self, node) -> None:
        f, a, kw = node.target, node.args, node.kwargs
        if f in _ADD_FNS:
            if len(a) != 2 or kw:
                raise self.err(node, "only the sum of two tensors is supported")
            self.add(node, {"op": "add", "inputs": [self.src(node, a[0]), self.src(node, a[1])]})
        elif f is torch.cat:
            dim = kw.get("dim", a[1] if len(a) > 1 else 0)
            if dim != 1:
                raise self.err(node, "only concatenation along channels (dim=1) is supported")
            self.add(node, {"op": "concat", "inputs": [self.src(node, t) for t in a[0]]})
        elif f in _RELU_FNS:
            self._relu(node, self.src(node, a[0]), _fn_bounds(f, a, kw))
        elif f in _FLAT_FNS:
            self._flatten(node, a[0], (a[1] if len(a) > 1 else kw.get("start_dim", 0)) == 1)
        elif f in (F.max_pool2d, F.avg_pool2d):
            self._fn_pool(node, f, a, kw)
        elif f is F.adaptive_avg_pool2d:
            self._adaptive(node, self.src(node, a[0]), a[1] if len(a) > 1 else kw["output_size"])
        elif f is getattr and len(a) == 2 and a[1] == "shape":
            raise self.err(node, "shapes read while tracing are not supported; use flatten(1)")
        else:
            raise self.err(node, f"unsupported function; supported: {', '.join(SUPPORTED)}")

    def _fn_pool(self, node, f, a, kw) -> None:
        names = ("input", "kernel_size", "stride", "padding", "ceil_mode") if f is F.avg_pool2d else \
                ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode")
        v = {**dict(zip(names, a, strict=False)), **kw}
        op = "maxpool" if f is F.max_pool2d else "avgpool"
        self._pool(node, self.src(node, a[0]), op, v["kernel_size"], v.get("stride") or None, v.get("padding", 0),
                   bool(v.get("ceil_mode", False)), v.get("dilation", 1), v.get("count_include_pad", True))

    def _flatten(self, node, x, ok: bool) -> None:
        if not ok:
            raise self.err(node, "only flattening from dimension 1 to (N, features) is supported")
        self.add(node, {"op": "flatten", "inputs": [self.src(node, x)]})

    def method(self, node) -> None:
        name, a, kw = node.target, node.args, node.kwargs
        if name == "size" and a[1:] == (0,):
            self.sizes.add(node.name)
        elif name in ("relu", "relu_"):
            self._relu(node, self.src(node, a[0]), None)
        elif name in ("clamp", "clamp_", "clip"):
            self._relu(node, self.src(node, a[0]), _fn_bounds(torch.clamp, a, kw))
        elif name == "flatten":
            self._flatten(node, a[0], (a[1] if len(a) > 1 else kw.get("start_dim", 0)) == 1)
        elif name in ("view", "reshape"):
            rest = a[1:] if len(a) > 2 or not isinstance(a[1] if len(a) > 1 else None, tuple | list) else tuple(a[1])
            first = rest[0] if rest else None
            ok = len(rest) == 2 and rest[1] == -1 and isinstance(first, torch.fx.Node) and first.name in self.sizes
            self._flatten(node, a[0], ok)
        elif name in ("add", "add_"):
            if len(a) != 2 or kw:
                raise self.err(node, "only the sum of two tensors is supported")
            self.add(node, {"op": "add", "inputs": [self.src(node, a[0]), self.src(node, a[1])]})
        else:
            raise self.err(node, f"unsupported tensor method; supported: {', '.join(SUPPORTED)}")


def _fn_bounds(f, a, kw) -> tuple[float, float] | None:
    """The real bounds of a relu-like call: None for a ReLU, (lo, hi) for ReLU6, Hardtanh, clamp."""
    inf = float("inf")
    if f in (F.relu, torch.relu):
        return None
    if f is F.relu6:
        return 0.0, 6.0
    if f is F.hardtanh:
        v = {**dict(zip(("input", "min_val", "max_val"), a, strict=False)), **kw}
        return float(v.get("min_val", -1.0)), float(v.get("max_val", 1.0))
    v = {**dict(zip(("input", "min", "max"), a, strict=False)), **kw}
    lo, hi = v.get("min"), v.get("max")
    if isinstance(lo, torch.fx.Node) or isinstance(hi, torch.fx.Node):
        return -1.0, -1.0  # rejected by _relu's check: bounds must be numbers
    return (-inf if lo is None else float(lo)), (inf if hi is None else float(hi))


def trace(module: nn.Module, input_shape: tuple[int, ...]) -> tuple[dict, _Tracer]:
    """The float graph spec of ``module`` for per-sample inputs ``input_shape`` (inputs in [0, 1])."""
    try:
        gm = torch.fx.symbolic_trace(module)
    except Exception as e:  # noqa: BLE001 - any tracing failure is the same user error
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WorkloadError(f"{type(module).__name__}: torch.fx cannot trace the module ({first})") from None
    t = _Tracer(module)
    out = None
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if t.tensors:
                raise t.err(node, "the module must take exactly one input tensor")
            t.tensors[node.name] = "input"
        elif node.op == "call_module":
            t.module(node)
        elif node.op == "call_function":
            t.function(node)
        elif node.op == "call_method":
            t.method(node)
        elif node.op == "output":
            out = t.src(node, node.args[0])
        else:  # get_attr
            raise t.err(node, "reads a parameter or buffer outside a supported layer")
    if not t.nodes or out != t.nodes[-1]["name"]:
        raise WorkloadError(f"{type(module).__name__}: the output must be the last traced op (got {out!r})")
    spec = {"input": {"shape": [int(s) for s in input_shape], "range": [0.0, 1.0], "bits": 8}, "graph": t.nodes}
    try:
        fgraph.infer_shapes(spec)
    except WorkloadError as e:
        raise WorkloadError(f"{type(module).__name__} does not fit inputs of shape {tuple(input_shape)}: {e}") from None
    return spec, t


@torch.no_grad()
def from_module(module: nn.Module, input_shape: tuple[int, ...], name: str | None = None):
    """A float :class:`~isaacsim.train.graph.GraphNet` with ``module``'s graph, weights and batch norms."""
    from .graph import GraphNet, key

    spec, t = trace(module, input_shape)
    net = GraphNet(spec, batchnorm=set(t.norms), name=name or type(module).__name__)
    for nm, m in t.weights.items():
        layer = net.layer(nm)
        if layer.weight.shape != m.weight.shape:
            raise WorkloadError(f"layer {nm!r}: weight shape {tuple(m.weight.shape)} does not fit its input "
                                f"(expected {tuple(layer.weight.shape)})")
        layer.weight.copy_(m.weight)
        if m.bias is not None:
            layer.bias.copy_(m.bias)
        else:
            layer.bias.zero_()
    for nm, bn in t.norms.items():
        net.norms[key(nm)] = copy.deepcopy(bn)
    net.train(module.training)
    return net


def load_factory(ref: str):
    """``path/to/file.py:factory`` -> the module that ``factory()`` returns (WorkloadError otherwise)."""
    path, _, fn = ref.rpartition(":")
    p = Path(path)
    if not path.endswith(".py") or not fn.isidentifier():
        raise WorkloadError(f"{ref}: expected FILE.py:FACTORY (a Python file and a function in it)")
    if not p.is_file():
        raise WorkloadError(f"{path}: no such file")
    spec = importlib.util.spec_from_file_location(f"isaacsim_user_model_{p.stem}", p)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception as e:  # noqa: BLE001 - the user's file: report what it raised, in one line
        raise WorkloadError(f"{path}: importing it raised {type(e).__name__}: {e}") from None
    factory = getattr(mod, fn, None)
    if not callable(factory):
        raise WorkloadError(f"{path}: no function {fn!r} in it")
    model = factory()
    if not isinstance(model, nn.Module):
        raise WorkloadError(f"{ref}: returned {type(model).__name__}, expected a torch nn.Module")
    return model
