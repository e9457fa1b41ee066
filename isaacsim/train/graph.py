"""Trainable torch twins of the zoo's float graphs (LeNet-5, ResNet-20) and their quantization.

This module owns the torch model that ``isaacsim train`` trains and exports.  A
:class:`GraphNet` is built from a float graph spec (the format of :mod:`isaacsim.workload.ptq`,
the same one the zoo uses), so every node maps one to one onto a node of the exported
workload.  In training it runs in float or fake-quantized; :func:`quantize_model` attaches a
weight quantizer to every conv/linear (AB, STE or PTQ) and an activation quantizer to every
tensor the workload stores as integers (the outputs of conv, linear and add nodes; ReLU'd
outputs unsigned).  :func:`schedule_step` drives Eq. 6 and switches activation quantization
on at T0; :func:`calibrate` sets max-abs scales for PTQ; :func:`freeze` folds batch norm, sets
alpha to 1, fixes every scale and turns the model's forward into the exact integer inference
of :mod:`isaacsim.train.export` (what the exported workload computes).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from isaacsim.errors import WorkloadError
from isaacsim.workload import ptq as fgraph
from isaacsim.workload import zoo

from .api import convert, fold_conv_bn, prepare, quant_layers, step
from .quant import METHODS, ActQuantizer, QuantConv2d, QuantLinear, WeightQuantizer

__all__ = ["MODELS", "GraphNet", "build_model", "calibrate", "freeze", "he_init", "model_spec",
           "quantize_model", "schedule_step"]

# name -> (graph builder, batch norm after every conv while training)
_BUILDERS = {"lenet5": (zoo.lenet5, False), "resnet20": (zoo.resnet20, True)}
MODELS = tuple(_BUILDERS)
INPUT_BITS = 8  # network inputs are 8-bit codes of [0, 1] (scale 1/255), as in the zoo
_SUPPORTED = ("conv2d", "linear", "relu", "maxpool", "avgpool", "global_avgpool", "flatten", "add", "concat")


def model_spec(name: str, input_shape: tuple[int, int, int], classes: int = 10) -> dict:
    """The float graph spec of model ``name`` for inputs of ``input_shape`` and ``classes``."""
    if name not in _BUILDERS:
        raise WorkloadError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    spec = _BUILDERS[name][0]()
    spec["input"] = {"shape": [int(s) for s in input_shape], "range": [0.0, 1.0],
                     "bits": INPUT_BITS}
    last = spec["graph"][-1]
    last["out_features"] = int(classes)
    try:
        fgraph.infer_shapes(spec)
    except WorkloadError as e:
        raise WorkloadError(f"model {name!r} does not fit inputs of shape {tuple(input_shape)}: "
                            f"{e}") from None
    return spec


def key(name: str) -> str:
    """A node name as a ModuleDict key."""
    return name.replace(".", "_")


_key = key


class GraphNet(nn.Module):
    """A float graph spec as a torch module (see the module docstring).

    ``layers`` holds one ``nn.Conv2d``/``nn.Linear`` per matrix node (biases always present),
    ``norms`` a ``BatchNorm2d`` per conv when built with batch norm (``True``: every conv; a set of
    names: those convs; ``nn.Identity`` once folded), ``acts`` the activation quantizers that
    :func:`quantize_model` adds.
    """

    def __init__(self, spec: dict, batchnorm: bool | set[str] = False, name: str = "graph") -> None:
        super().__init__()
        self.name, self.spec = name, spec
        self.nodes = fgraph.graph_nodes(spec)
        for n in self.nodes:
            if n["op"] not in _SUPPORTED:
                raise WorkloadError(f"layer {n['name']!r}: op {n['op']!r} is not trainable here")
        shapes = fgraph.infer_shapes(spec)
        consumers = fgraph.consumers(self.nodes)
        self.relu_out = {n["name"]: fgraph.relu_out(n, consumers) for n in self.nodes}
        self.layers = nn.ModuleDict()
        self.norms = nn.ModuleDict()
        self.acts = nn.ModuleDict()
        for n in self.nodes:
            cin = shapes[n["inputs"][0]][0]
            if n["op"] == "conv2d":
                self.layers[_key(n["name"])] = nn.Conv2d(
                    cin, n["out_channels"], n["kernel"], stride=n["stride"], padding=n["padding"],
                    dilation=n["dilation"], groups=n["groups"], bias=True)
                if batchnorm is True or (batchnorm and n["name"] in batchnorm):
                    self.norms[_key(n["name"])] = nn.BatchNorm2d(n["out_channels"])
            elif n["op"] == "linear":
                self.layers[_key(n["name"])] = nn.Linear(cin, n["out_features"], bias=True)
        self.bn_folded = not len(self.norms)
        self.frozen = False
        self.integer = None  # set by freeze(): the exported integer graph
        self.quant_config: dict | None = None

    # -- structure --------------------------------------------------------------------------
    @property
    def matrix_nodes(self) -> list[dict]:
        return [n for n in self.nodes if n["op"] in fgraph.MATRIX_OPS]

    def layer(self, name: str) -> nn.Module:
        return self.layers[_key(name)]

    def act(self, name: str) -> ActQuantizer | None:
        k = _key(name)
        return self.acts[k] if k in self.acts else None

    @torch.no_grad()
    def fold_bn(self) -> None:
        """Fold every batch norm into its conv (running statistics), in place; idempotent."""
        if self.bn_folded:
            return
        for k, bn in list(self.norms.items()):
            if isinstance(bn, nn.BatchNorm2d):
                fold_conv_bn(self.layers[k], bn)
                self.norms[k] = nn.Identity()
        self.bn_folded = True

    def get_extra_state(self) -> dict:
        return {"bn_folded": self.bn_folded}

    def set_extra_state(self, state: dict) -> None:
        if bool(state["bn_folded"]) and not self.bn_folded:
            self.fold_bn()  # structure first; load_state_dict then overwrites the weights

    # -- forward ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.frozen:
            from .export import exact_forward

            return exact_forward(self, x)[1].to(x.dtype if x.is_floating_point() else torch.float32)
        hi = (1 << INPUT_BITS) - 1
        vals = {"input": torch.round(torch.clamp(x, 0.0, 1.0) * hi) / hi}
        for n in self.nodes:
            ins = [vals[i] for i in n["inputs"]]
            op, a = n["op"], ins[0]
            if op in fgraph.MATRIX_OPS:
                k = _key(n["name"])
                y = self.layers[k](a)
                if k in self.norms:
                    y = self.norms[k](y)
            elif op == "add":
                y = ins[0]
                for other in ins[1:]:
                    y = y + other
            elif op == "concat":
                y = torch.cat(ins, dim=1)
            elif op == "relu":
                lo, hi = fgraph.real_clip(n)
                y = F.relu(a) if (lo, hi) == (0.0, float("inf")) else torch.clamp(a, lo, hi)
            elif op == "maxpool":
                y = F.max_pool2d(a, n["kernel"], n["stride"], n["padding"], ceil_mode=bool(n.get("ceil_mode")))
            elif op == "avgpool":
                y = F.avg_pool2d(a, n["kernel"], n["stride"], n["padding"], count_include_pad=True)
            elif op == "global_avgpool":
                y = a.mean(dim=(2, 3), keepdim=True)
            else:  # flatten
                y = a.flatten(1)
            if op in (*fgraph.MATRIX_OPS, "add"):
                if self.relu_out[n["name"]]:
                    y = F.relu(y)
                q = self.act(n["name"])
                if q is not None:
                    y = q(y)
            vals[n["name"]] = y
        return vals[self.nodes[-1]["name"]]


def is_module_ref(name: str) -> bool:
    """Whether ``name`` names a user module as ``FILE.py:FACTORY`` rather than one of :data:`MODELS`."""
    return ":" in name and name.rpartition(":")[0].endswith(".py")


def build_model(name: str, input_shape: tuple[int, int, int], classes: int = 10) -> GraphNet:
    """A fresh float :class:`GraphNet` for model ``name``: one of :data:`MODELS`, or
    ``path/to/file.py:factory``, the module ``factory()`` returns, traced by torch.fx
    (:func:`isaacsim.train.fx.from_module`)."""
    if is_module_ref(name):
        from .fx import from_module, load_factory

        net = from_module(load_factory(name), input_shape, name=name.rpartition(":")[2])
        out = fgraph.infer_shapes(net.spec)[net.nodes[-1]["name"]]
        if tuple(out) != (classes,):
            raise WorkloadError(f"{name}: the module outputs shape {tuple(out)} per sample, expected ({classes},) "
                                f"class scores")
        return net
    spec = model_spec(name, input_shape, classes)
    net = GraphNet(spec, batchnorm=_BUILDERS[name][1], name=name)
    he_init(net)
    return net


@torch.no_grad()
def he_init(net: nn.Module) -> nn.Module:
    """Every conv/linear weight drawn from N(0, 2 / fan_in) and every bias 0: the initialisation of
    "Delving deep into rectifiers" (He et al., ICCV 2015) for ReLU networks. torch's default
    (uniform, variance 1 / (3 fan_in)) shrinks the signal layer by layer, and plain SGD then sits
    on the loss plateau of an untrained LeNet-5 for a seed-dependent part of a short run. In place."""
    for mod in net.modules():
        if isinstance(mod, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(mod.weight, mode="fan_in", nonlinearity="relu")
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
    return net


def require_graph(net) -> None:
    """WorkloadError unless ``net`` is a :class:`GraphNet` (the one form that exports)."""
    if not isinstance(net, GraphNet):
        raise WorkloadError(f"{type(net).__name__} is not a GraphNet: build one from your module with "
                            f"isaacsim.train.fx.from_module(model, input_shape) (torch.fx traces it), then "
                            f"quantize_model, freeze and export it")


def _check_bits(what: str, bits: int, low: int = 2) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not low <= bits <= 8:
        raise WorkloadError(f"{what} must be an integer in {low}..8, got {bits!r}")
    return bits


def quantize_model(net: GraphNet, *, method: str, wbits: int, abits: int, t0: float = 0,
                   t1: float = 1000, every: int = 1, first_last_bits: int | None = 8,
                   per_channel: bool = True, momentum: float = 0.99) -> GraphNet:
    """Attach quantizers to ``net`` in place (see the module docstring); returns ``net``.

    Weights: ``wbits`` (``first_last_bits`` for the first and last matrix layers, as the alpha-blending paper
    keeps them at 8 bits; ``None`` treats them like the others), per output channel by default.
    Activations: ``abits`` for every stored tensor, ``first_last_bits`` for the logits.  For
    "ab"/"ste" the activation quantizers observe from the start but quantize only from T0
    (:func:`schedule_step`); for "ptq" they wait for :func:`calibrate`.
    """
    require_graph(net)
    if method not in METHODS:
        raise WorkloadError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    _check_bits("wbits", wbits, low=1)  # 1: binary weights, codes +-1
    _check_bits("abits", abits)
    if first_last_bits is not None:
        _check_bits("first_last_bits", first_last_bits)
    if not 0 <= t0 < t1:
        raise WorkloadError(f"the alpha window needs 0 <= T0 < T1, got T0={t0}, T1={t1}")
    if net.quant_config is not None:
        raise RuntimeError("this model is already quantized")
    prepare(net, wbits=wbits, abits=None, method=method, per_channel=per_channel, every=every,
            t0=t0, t1=t1)
    mats = net.matrix_nodes
    edge = {mats[0]["name"], mats[-1]["name"]} if first_last_bits is not None else set()
    for n in mats:
        if n["name"] in edge:
            net.layer(n["name"]).weight_quant = WeightQuantizer(
                first_last_bits, per_channel=per_channel, every=every, method=method)
    last = net.nodes[-1]["name"]
    for n in net.nodes:
        if n["op"] in (*fgraph.MATRIX_OPS, "add"):
            bits = first_last_bits if n["name"] == last and first_last_bits else abits
            q = ActQuantizer(bits, signed=not net.relu_out[n["name"]], momentum=momentum)
            q.enabled = False
            net.acts[_key(n["name"])] = q
    net.quant_config = {"method": method, "wbits": wbits, "abits": abits, "t0": t0, "t1": t1,
                        "every": every, "first_last_bits": first_last_bits}
    return net


def _acts(net: GraphNet) -> list[ActQuantizer]:
    return list(net.acts.values())


def schedule_step(net: GraphNet, global_step: int) -> float:
    """Before each optimizer step of an AB/STE run: alpha from Eq. 6 (raised every f steps);
    from T0 on, batch norm folded (once) and activations quantized.  Returns alpha."""
    cfg = net.quant_config
    if cfg is None:
        raise RuntimeError("quantize_model() the network first")
    if cfg["method"] == "ptq":
        return 1.0
    a = step(net, global_step, cfg["t0"], cfg["t1"], every=cfg["every"])
    if global_step >= cfg["t0"]:
        if not net.bn_folded:
            net.fold_bn()  # fold_conv_bn drops the stale wq of each folded layer
        for q in _acts(net):
            q.enabled = True
    return a


@torch.no_grad()
def calibrate(net: GraphNet, x: torch.Tensor) -> None:
    """Post-training quantization: max-abs weight scales (the PTQ weight quantizers compute
    them) and, for each activation quantizer, ``max|y| / qmax`` over the float model's
    activations on ``x``."""
    if net.quant_config is None:
        raise RuntimeError("quantize_model() the network first")
    net.fold_bn()
    seen: dict[str, float] = {}
    qs = dict(net.acts.items())
    for q in qs.values():
        q.enabled = False
    was = net.training
    net.eval()
    hooks = []
    for k, q in qs.items():
        def hook(mod, inp, _out, k=k):
            seen[k] = max(seen.get(k, 0.0), float(inp[0].abs().max()))
        hooks.append(q.register_forward_hook(hook))
    try:
        net(x)
    finally:
        for h in hooks:
            h.remove()
        net.train(was)
    for k, q in qs.items():
        qmax = q.code_range[1]
        q.set_scale(seen.get(k, 0.0) / qmax if seen.get(k, 0.0) > 0 else 1.0)
        q.enabled = True
    for _, layer in quant_layers(net):
        layer.weight_quant.refresh(layer.weight)


@torch.no_grad()
def freeze(net: GraphNet) -> GraphNet:
    """Fold batch norm, freeze every quantizer (alpha = 1) and compute the integer graph; from
    now on ``net(x)`` is the exact integer inference (real-valued logits).  In place."""
    from .export import integerize

    require_graph(net)
    if net.quant_config is None:
        raise RuntimeError("quantize_model() the network first")
    if not net.bn_folded:
        net.fold_bn()
        for _, layer in quant_layers(net):
            layer.weight_quant.valid = False  # recomputed from the folded weight below
    for _, layer in quant_layers(net):
        if not layer.weight_quant.valid:
            layer.weight_quant.refresh(layer.weight)
    convert(net)
    for q in _acts(net):
        q.freeze()
    net.integer = integerize(net)
    net.frozen = True
    net.eval()
    return net


def is_quantized_layer(m: nn.Module) -> bool:
    return isinstance(m, QuantConv2d | QuantLinear)
