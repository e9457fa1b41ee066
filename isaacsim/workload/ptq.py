"""Post-training quantization (PTQ): a float graph -> an integer workload (format v1), numpy only.

A float graph spec mirrors the manifest (docs/workloads.md) without the integer parts::

    {"input": {"shape": [1, 28, 28], "range": [0.0, 1.0], "bits": 8},
     "graph": [{"name": "conv1", "op": "conv2d", "inputs": ["input"], "out_channels": 6,
                "kernel": 5, "padding": 2, "activation": "relu"}, ...]}

conv2d/linear nodes read float weights (Cout, Cin/groups, kh, kw) / (out, in) and optional float
biases from ``params`` under ``weight`` / ``bias`` (default keys ``"<name>.w"`` / ``"<name>.b"``;
``bias: None`` means none). :func:`float_forward` runs the graph in float (im2col + BLAS);
:func:`quantize_graph` calibrates activation ranges on float inputs and emits the workload. The
rules (docs/zoo.md): symmetric per-output-channel weights; 8-bit activations, unsigned with zero
point 0 after a ReLU, signed symmetric otherwise, ranges from a high percentile of the calibration
activations; per-channel int32 multipliers with one shift putting the largest in [2^30, 2^31).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from isaacsim.errors import WorkloadError
from isaacsim.workload.format import OPS, TensorFormat
from isaacsim.workload.im2col import conv_output_hw, conv_weight_matrix, fold_output, im2col, pool_output_hw
from isaacsim.workload.io import Dataset, Workload, build, pair, save_workload, weight_dtype
from isaacsim.workload.reference import pool_windows

DEFAULT_PERCENTILE = 99.99
MATRIX_OPS = ("conv2d", "linear")
_POOL = {"kernel", "stride", "padding"}
_KEYS = {
    "conv2d": {"weight", "bias", "out_channels", "kernel", "stride", "padding", "dilation", "groups",
               "activation", "weight_bits"},
    "linear": {"weight", "bias", "out_features", "activation", "weight_bits"},
    "relu": {"clip"}, "maxpool": _POOL | {"ceil_mode"}, "avgpool": _POOL, "global_avgpool": set(), "flatten": set(),
    "add": {"activation"}, "concat": set(),
}
_REQUIRED = {"conv2d": ("out_channels", "kernel"), "linear": ("out_features",), "maxpool": ("kernel",),
             "avgpool": ("kernel",)}


# ---------------------------------------------------------------- the spec


def _check_keys(where: str, op: Any, d: Mapping[str, Any]) -> None:
    """A known op, only its keys, and the keys it needs."""
    if op not in OPS:
        raise WorkloadError(f"{where}: unknown op {op!r}; valid ops: {', '.join(OPS)}")
    extra = set(d) - {"name", "op", "inputs"} - _KEYS[op]
    if extra:
        raise WorkloadError(f"{where}: unknown key(s) {sorted(extra)} for {op}; valid: {sorted(_KEYS[op])}")
    for k in _REQUIRED.get(op, ()):
        if k not in d:
            raise WorkloadError(f"{where}: {op} needs {k!r}")


def _check_inputs(where: str, op: str, inputs: list, seen: set[str]) -> None:
    """Inputs name earlier nodes (or 'input'): two or more for add / concat, else one."""
    if not inputs or any(x not in seen for x in inputs):
        raise WorkloadError(f"{where}: inputs {inputs} must name earlier nodes or 'input'")
    if op in ("add", "concat") and len(inputs) < 2 or op not in ("add", "concat") and len(inputs) != 1:
        raise WorkloadError(f"{where}: {op} takes {'two or more inputs' if op in ('add', 'concat') else 'one input'}")


def _with_defaults(name: str, op: str, inputs: list, d: Mapping[str, Any]) -> dict:
    """The node dict with the op's keys and their defaults (weight/bias array names, stride, padding, ...)."""
    n = {"name": name, "op": op, "inputs": inputs, **{k: v for k, v in d.items() if k in _KEYS[op]}}
    if op in MATRIX_OPS:
        n.setdefault("weight", f"{name}.w")
        n.setdefault("bias", f"{name}.b")
    if op == "conv2d":
        for k, v in (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1)):
            n.setdefault(k, v)
    if op in ("maxpool", "avgpool"):
        n.setdefault("stride", n["kernel"])
        n.setdefault("padding", 0)
    return n


def _graph_node(i: int, d: Any, seen: set[str]) -> dict:
    """graph[i], checked against the nodes before it (seen), with defaults filled in."""
    if not isinstance(d, Mapping) or not isinstance(d.get("name"), str):
        raise WorkloadError(f"float graph: graph[{i}] must be a mapping with a 'name'")
    name, op = d["name"], d.get("op")
    where = f"float graph: layer {name!r}"
    _check_keys(where, op, d)
    if name in seen:
        raise WorkloadError(f"{where}: duplicate node name")
    inputs = list(d.get("inputs") or [])
    _check_inputs(where, op, inputs, seen)
    if d.get("activation") not in (None, "relu"):
        raise WorkloadError(f"{where}: activation must be 'relu' or None")
    if op == "relu" and d.get("clip") is not None:
        _check_clip(where, d["clip"])
    return _with_defaults(name, op, inputs, d)


def _check_clip(where: str, clip) -> None:
    """A relu node's `clip`: two real bounds [lo, hi] (None: unbounded), lo <= 0 < hi."""
    try:
        lo, hi = (None if v is None else float(v) for v in clip)
    except (TypeError, ValueError):
        raise WorkloadError(f"{where}: clip must be two bounds [lo, hi], got {clip!r}") from None
    lo = -np.inf if lo is None else lo
    hi = np.inf if hi is None else hi
    if not lo <= 0 < hi:
        raise WorkloadError(f"{where}: clip [{lo}, {hi}] must hold 0 and a positive upper bound")


def real_clip(n) -> tuple[float, float]:
    """The real bounds a relu node clamps to: its `clip` [lo, hi] (None: unbounded), or [0, inf)."""
    c = n.get("clip")
    if c is None:
        return 0.0, np.inf
    return (-np.inf if c[0] is None else float(c[0])), (np.inf if c[1] is None else float(c[1]))


def clip_codes(fmt: TensorFormat, lo: float, hi: float) -> list[int] | None:
    """Real clip bounds as codes of `fmt` (rounded half to even, within the format), or None for a
    plain relu (bounds [0, inf) on a format whose codes reach no further)."""
    c_lo = fmt.lo if not np.isfinite(lo) else int(np.clip(np.rint(lo / fmt.scale) + fmt.zero_point, fmt.lo, fmt.hi))
    c_hi = fmt.hi if not np.isfinite(hi) else int(np.clip(np.rint(hi / fmt.scale) + fmt.zero_point, fmt.lo, fmt.hi))
    if lo == 0 and c_hi == fmt.hi:
        return None
    return [c_lo, c_hi]


def relu_node(n, fin: TensorFormat) -> dict:
    """A relu node as a manifest node: its real clip bounds (if any) as codes of its input's format."""
    node = {"name": n["name"], "op": "relu", "inputs": list(n["inputs"])}
    codes = clip_codes(fin, *real_clip(n))
    if codes is not None:
        node["clip"] = codes
    return node


def graph_nodes(spec: Mapping[str, Any]) -> list[dict]:
    """The spec's nodes with defaults filled in, checked for keys, ops and references."""
    graph = spec.get("graph") if isinstance(spec, Mapping) else None
    if not isinstance(graph, (list, tuple)) or not graph:
        raise WorkloadError("float graph: 'graph' must be a non-empty list of nodes")
    seen = {"input"}
    out = []
    for i, d in enumerate(graph):
        n = _graph_node(i, d, seen)
        seen.add(n["name"])
        out.append(n)
    return out


def _input(spec) -> dict:
    inp = spec.get("input") if isinstance(spec, Mapping) else None
    if not isinstance(inp, Mapping) or "shape" not in inp:
        raise WorkloadError("float graph: 'input' must be a mapping with a 'shape'")
    (lo, hi), bits = (float(v) for v in inp.get("range", (0.0, 1.0))), int(inp.get("bits", 8))
    if not hi > lo or not 2 <= bits <= 16:
        raise WorkloadError(f"float graph: input range must have hi > lo and bits in 2..16, got {inp}")
    return {"shape": tuple(int(s) for s in inp["shape"]), "range": (lo, hi), "bits": bits}


def input_format(spec) -> TensorFormat:
    """The integer input format: unsigned `bits` codes spanning the real `range` (affine: a negative
    lower end gets a zero point; [0, 1] with 8 bits is scale 1/255, zero point 0)."""
    inp = _input(spec)
    lo, hi = inp["range"]
    qmax = (1 << inp["bits"]) - 1
    scale = (hi - min(lo, 0.0)) / qmax
    zp = int(np.clip(np.rint(-min(lo, 0.0) / scale), 0, qmax))
    return TensorFormat(bits=inp["bits"], signed=False, scale=scale, zero_point=zp)


def quantize_input(spec, x) -> np.ndarray:
    """Real inputs -> integer codes in the input format (round half to even, clipped)."""
    f = input_format(spec)
    dtype = np.uint8 if f.bits <= 8 else np.uint16
    q = np.rint(np.asarray(x, dtype=np.float64) / f.scale) + f.zero_point
    return np.clip(q, f.lo, f.hi).astype(dtype)


def infer_shapes(spec) -> dict[str, tuple[int, ...]]:
    """Per-sample output shape of every node (and 'input'), checking that kernels fit."""
    shapes = {"input": _input(spec)["shape"]}
    for n in graph_nodes(spec):
        where = f"float graph: layer {n['name']!r}"
        ins = [shapes[i] for i in n["inputs"]]
        s0, op = ins[0], n["op"]
        if op in ("conv2d", "maxpool", "avgpool", "global_avgpool") and len(s0) != 3:
            raise WorkloadError(f"{where}: {op} needs a (C, H, W) input, got {s0}")
        if op == "conv2d":
            if s0[0] % n["groups"] or n["out_channels"] % n["groups"]:
                raise WorkloadError(f"{where}: channels {s0[0]} -> {n['out_channels']} not divisible by groups")
            hw = conv_output_hw(s0[1:], n["kernel"], n["stride"], n["padding"], n["dilation"])
            out = (n["out_channels"], *hw)
        elif op == "linear":
            if len(s0) != 1:
                raise WorkloadError(f"{where}: linear needs a (features,) input, got {s0} (add a flatten)")
            out = (n["out_features"],)
        elif op in ("maxpool", "avgpool"):
            out = (s0[0], *pool_output_hw(s0[1:], n["kernel"], n["stride"], n["padding"], bool(n.get("ceil_mode"))))
        elif op == "global_avgpool":
            out = (s0[0], 1, 1)
        elif op == "flatten":
            out = (int(np.prod(s0)),)
        elif op == "add":
            if any(s != s0 for s in ins):
                raise WorkloadError(f"{where}: add inputs have different shapes {ins}")
            out = s0
        elif op == "concat":
            if any(len(s) != len(s0) or s[1:] != s0[1:] for s in ins):
                raise WorkloadError(f"{where}: concat inputs differ in more than channels: {ins}")
            out = (sum(s[0] for s in ins), *s0[1:])
        else:
            out = s0
        if min(out) < 1:
            raise WorkloadError(f"{where}: kernel does not fit the input {s0}")
        shapes[n["name"]] = tuple(int(v) for v in out)
    return shapes


def param_shapes(spec) -> dict[str, tuple[int, ...]]:
    """Float parameter key -> shape for every conv2d/linear weight and bias the spec names."""
    shapes = infer_shapes(spec)
    out = {}
    for n in graph_nodes(spec):
        if n["op"] == "conv2d":
            kh, kw = pair(n["kernel"])
            cout = n["out_channels"]
            out[n["weight"]] = (cout, shapes[n["inputs"][0]][0] // n["groups"], kh, kw)
        elif n["op"] == "linear":
            cout = n["out_features"]
            out[n["weight"]] = (cout, shapes[n["inputs"][0]][0])
        else:
            continue
        if n["bias"] is not None:
            out[n["bias"]] = (cout,)
    return out


def count_macs(spec) -> dict[str, int]:
    """Multiply-accumulates per inference of each conv2d/linear node."""
    shapes = infer_shapes(spec)
    macs = {}
    for n in graph_nodes(spec):
        if n["op"] == "conv2d":
            kh, kw = pair(n["kernel"])
            cin = shapes[n["inputs"][0]][0] // n["groups"]
            macs[n["name"]] = int(np.prod(shapes[n["name"]])) * cin * kh * kw
        elif n["op"] == "linear":
            macs[n["name"]] = shapes[n["inputs"][0]][0] * n["out_features"]
    return macs


def _float(params, keys: dict, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Layer `name`'s (float64 weight, bias or None), made per call from the user's (checked) arrays,
    so a large network's weights are not all held twice."""
    return tuple(None if k is None else np.asarray(params[k], np.float64) for k in keys[name])


def _params(spec, params: Mapping[str, np.ndarray]) -> dict[str, tuple[str, str | None]]:
    """Node name -> (weight key, bias key or None) of each matrix layer, its arrays shape- and
    finiteness-checked against the spec (`_float` makes them float)."""
    want = param_shapes(spec)
    keys = {}
    for n in graph_nodes(spec):
        if n["op"] not in MATRIX_OPS:
            continue
        where = f"float graph: layer {n['name']!r}"
        if n["weight"] not in params:
            raise WorkloadError(f"{where}: weight {n['weight']!r} missing from params")
        b = params.get(n["bias"]) if n["bias"] is not None else None
        for key, a in ((n["weight"], params[n["weight"]]), (n["bias"], b)):
            if a is None:
                continue
            a = np.asarray(a)
            if a.shape != want[key]:
                raise WorkloadError(f"{where}: {key!r} has shape {a.shape}, expected {want[key]}")
            if not np.all(np.isfinite(a.astype(np.float64, copy=False))):
                raise WorkloadError(f"{where}: {key!r} holds NaN or infinite values")
        keys[n["name"]] = (n["weight"], n["bias"] if b is not None else None)
    return keys


# ---------------------------------------------------------------- float forward


def _float_node(n, ins, wb, dtype):
    op, a = n["op"], ins[0]
    if op == "conv2d":
        w, b = wb
        k, s, p, d = (pair(n[key]) for key in ("kernel", "stride", "padding", "dilation"))
        cols = im2col(a, k, s, p, d, n["groups"], pad_value=0)
        wm = conv_weight_matrix(w.astype(dtype), n["groups"])
        g, bsz, nn, kk = cols.shape
        ys = np.stack([(cols[i].reshape(bsz * nn, kk) @ wm[i]).reshape(bsz, nn, -1) for i in range(g)])
        y = fold_output(ys, conv_output_hw(a.shape[2:], k, s, p, d))
        if b is not None:
            y += b.astype(dtype)[None, :, None, None]
    elif op == "linear":
        w, b = wb
        y = a @ w.astype(dtype).T
        if b is not None:
            y += b.astype(dtype)
    elif op == "relu":
        lo, hi = real_clip(n)
        y = np.clip(a, lo, hi)
    elif op in ("maxpool", "avgpool"):
        k, s, p = pair(n["kernel"]), pair(n["stride"]), pair(n["padding"])
        if op == "maxpool":
            y = np.maximum.reduce(list(pool_windows(a, k, s, p, -np.inf, bool(n.get("ceil_mode")))))
        else:
            y = sum(pool_windows(a, k, s, p, 0)) / (k[0] * k[1])
    elif op == "global_avgpool":
        y = a.mean(axis=(2, 3), keepdims=True)
    elif op == "flatten":
        y = a.reshape(a.shape[0], -1)
    elif op == "add":
        y = sum(ins)
    else:  # concat
        y = np.concatenate(ins, axis=1)
    if n.get("activation") == "relu":
        y = np.maximum(y, 0)
    return np.asarray(y, dtype=dtype)


def _run(spec, params, x, dtype, visit, wb=None):
    """The float graph on x, `visit(node, output)` after each node (whose inputs are then freed
    once no later node reads them); `wb`: `_params(spec, params)` when the caller has it."""
    nodes = graph_nodes(spec)
    keys = _params(spec, params) if wb is None else wb
    shape = _input(spec)["shape"]
    x = np.asarray(x, dtype=dtype)
    if x.shape[1:] != shape:
        raise WorkloadError(f"float graph: inputs have shape {x.shape}, expected (B, {', '.join(map(str, shape))})")
    last_use = {i: k for k, n in enumerate(nodes) for i in n["inputs"]}
    vals = {"input": x}
    for k, n in enumerate(nodes):
        wb = _float(params, keys, n["name"]) if n["name"] in keys else None
        y = _float_node(n, [vals[i] for i in n["inputs"]], wb, dtype)
        vals[n["name"]] = y
        if visit is not None:
            visit(n, y)
            for i in n["inputs"]:
                if last_use[i] == k:
                    del vals[i]
    return vals


def float_forward(spec, params, x, *, dtype=np.float32, return_nodes: bool = False):
    """Run the float graph on real inputs x (B, *input.shape); return the output (B, ...), or
    (output, {node name: output}) with return_nodes."""
    vals = _run(spec, params, x, dtype, None)
    out = vals[graph_nodes(spec)[-1]["name"]]
    if return_nodes:
        del vals["input"]
        return out, vals
    return out


def consumers(nodes) -> dict[str, list[dict]]:
    cons: dict[str, list[dict]] = {n["name"]: [] for n in nodes}
    for n in nodes:
        for i in (i for i in n["inputs"] if i != "input"):
            cons[i].append(n)
    return cons


def relu_out(n, consumers) -> bool:
    """A conv/linear/add output is ReLU'd when it says so or when only relu nodes consume it
    (the relu is then fused into the producer's requant; the relu node stays, an identity)."""
    if n.get("activation") == "relu":
        return True
    cs = consumers[n["name"]]
    return n["op"] in (*MATRIX_OPS, "add") and bool(cs) and all(c["op"] == "relu" and real_clip(c)[0] >= 0
                                                                 for c in cs)


def consumer_bounds(n, consumers) -> tuple[float, float]:
    """The widest real range the relu nodes reading `n` let through ((-inf, inf) unless all its
    consumers are relu nodes): calibration need not cover values that every consumer clips."""
    cs = consumers[n["name"]]
    if not cs or any(c["op"] != "relu" for c in cs):
        return -np.inf, np.inf
    b = [real_clip(c) for c in cs]
    return min(lo for lo, _ in b), max(hi for _, hi in b)


def calibrate(spec, params, x, *, percentile: float = DEFAULT_PERCENTILE, wb=None) -> dict[str, float]:
    """Real range of each conv2d/linear/add output on real inputs x (quantized to the input
    format first, so calibration sees what the integer graph sees): the `percentile` of the values
    of a ReLU'd output, of the absolute values otherwise. `wb`: the checked float weights
    (`_params`) when the caller has them, so they are not copied twice."""
    if not 0 < percentile <= 100:
        raise WorkloadError(f"percentile must lie in (0, 100], got {percentile}")
    f = input_format(spec)
    xq = (quantize_input(spec, x).astype(np.float64) - f.zero_point) * f.scale
    cons = consumers(graph_nodes(spec))
    ranges: dict[str, float] = {}

    def visit(n, y):
        if n["op"] in (*MATRIX_OPS, "add"):
            v = np.clip(y, *consumer_bounds(n, cons))
            v = np.maximum(v, 0) if relu_out(n, cons) else np.abs(v)
            v = v.reshape(-1)
            r = float(np.percentile(v, percentile)) if v.size else 0.0
            ranges[n["name"]] = r if r > 0 else (float(v.max()) if v.size and v.max() > 0 else 1.0)

    _run(spec, params, xq, np.float32, visit, wb)
    return ranges


# ---------------------------------------------------------------- quantization


def fixed_point(ratios, where: str) -> tuple[np.ndarray, int]:
    """Real ratios -> (int64 multipliers, shift) with the largest multiplier in [2^30, 2^31)."""
    r = np.asarray(ratios, dtype=np.float64)
    rmax = float(r.max())
    if not np.all(np.isfinite(r)) or rmax <= 0 or r.min() < 0:
        raise WorkloadError(f"{where}: requant ratios must be finite and positive, got max {rmax:.3g}")
    _, e = np.frexp(rmax)  # rmax = mant * 2^e, mant in [0.5, 1)
    shift = min(31 - int(e), 62)
    if shift < 0:
        raise WorkloadError(f"{where}: requant ratio {rmax:.3g} needs a multiplier >= 2^31 (output scale too small)")
    m = np.rint(r * 2.0**shift).astype(np.int64)
    if m.max() >= 2**31:  # mant rounded up to 1: one bit less
        shift -= 1
        m = np.rint(r * 2.0**shift).astype(np.int64)
    return m, shift


def _out_format(r: float, relu: bool, bits: int) -> TensorFormat:
    qmax = (1 << bits) - 1 if relu else (1 << (bits - 1)) - 1
    return TensorFormat(bits=bits, signed=not relu, scale=r / qmax, zero_point=0)


def _real_max(f: TensorFormat) -> float:
    return f.scale * max(abs(f.lo - f.zero_point), abs(f.hi - f.zero_point))


def concat_format(fin: list[TensorFormat], bits: int) -> TensorFormat:
    """A concat's output format: unsigned with the coarsest input scale when every input is unsigned
    with zero point 0, else signed symmetric over the widest input range."""
    if all(not f.signed and f.zero_point == 0 for f in fin):
        return TensorFormat(bits=bits, signed=False, scale=max(f.scale for f in fin), zero_point=0)
    return _out_format(max(_real_max(f) for f in fin), False, bits)


def fmt_dict(f: TensorFormat) -> dict:
    return {"bits": f.bits, "signed": f.signed, "scale": float(f.scale), "zero_point": int(f.zero_point)}


def _matrix(n, w, b, fin: TensorFormat, fout: TensorFormat, relu: bool, wbits: int, arrays: dict) -> dict:
    """Quantize one conv2d/linear node: arrays added to `arrays`, the manifest node returned."""
    qmax = (1 << (wbits - 1)) - 1
    cout = w.shape[0]
    wmax = np.abs(w.reshape(cout, -1)).max(axis=1)
    s_w = wmax / qmax
    if b is not None:  # a near-dead channel: coarsen its scale so the bias fits in 2^30
        s_w = np.maximum(s_w, np.abs(b) / (fin.scale * 2.0**30))
    s_w[s_w <= 0] = s_w.max() if s_w.max() > 0 else 1.0 / qmax  # all-zero channels: any scale
    bshape = (cout,) + (1,) * (w.ndim - 1)
    wq = np.clip(np.rint(w / s_w.reshape(bshape)), -qmax, qmax).astype(np.int64)
    return matrix_node(n, wq, s_w, b, fin, fout, relu, wbits, arrays)


def matrix_node(n, wq: np.ndarray, s_w: np.ndarray, b, fin: TensorFormat, fout: TensorFormat, relu: bool,
                wbits: int, arrays: dict) -> dict:
    """The integer form of one conv2d/linear node whose weight is ``s_w[c] * wq[c, ...]`` (integer
    codes ``wq``, per-output-channel scales ``s_w``) and float bias ``b`` (or None): the bias in
    accumulator units ``rint(b / (scale_in * s_w))`` minus the input zero point times each row's sum,
    the requant multipliers of ``scale_in * s_w / scale_out``. Arrays go into ``arrays``; returns
    the manifest node. WorkloadError names the layer when the bias or accumulator leaves int32."""
    name = n["name"]
    where = f"layer {name!r}"
    cout = wq.shape[0]
    s_w = np.broadcast_to(np.asarray(s_w, dtype=np.float64).reshape(-1), (cout,)).copy()
    rows = wq.reshape(cout, -1)
    bias = np.zeros(cout) if b is None else np.rint(np.asarray(b, dtype=np.float64) / (fin.scale * s_w))
    bias = bias - fin.zero_point * rows.sum(axis=1)
    if np.abs(bias).max() >= 2**31:
        o = int(np.abs(bias).argmax())
        raise WorkloadError(f"{where}: bias of channel {o} is {bias[o]:.3g} in accumulator units, "
                            f"outside int32 (float bias too large for scale_in * scale_w)")
    worst = np.abs(rows).sum(axis=1) * max(abs(fin.lo), abs(fin.hi)) + np.abs(bias)
    if worst.max() >= 2**31:
        raise WorkloadError(f"{where}: the accumulator can reach {worst.max():.3g} >= 2^31 "
                            f"({rows.shape[1]} inputs of {fin.bits} bits x {wbits}-bit weights)")
    mult, shift = fixed_point(fin.scale * s_w / fout.scale, where)
    arrays[f"{name}.w"] = wq.astype(weight_dtype(wbits))
    arrays[f"{name}.m"] = mult.astype(np.int32)
    node = {"name": name, "op": n["op"], "inputs": list(n["inputs"]), "weight": f"{name}.w"}
    if b is not None or fin.zero_point:
        arrays[f"{name}.b"] = bias.astype(np.int32)
        node["bias"] = f"{name}.b"
    if n["op"] == "conv2d":
        node.update({k: n[k] for k in ("kernel", "stride", "padding", "dilation", "groups")},
                    out_channels=int(cout))
    else:
        node["out_features"] = int(cout)
    node.update(weight_bits=wbits, weight_scale=[float(s) for s in s_w],
                activation="relu" if relu else None,
                requant={"multiplier": f"{name}.m", "shift": shift, **fmt_dict(fout)})
    return node


def mix_node(n, fin: list[TensorFormat], fout: TensorFormat, relu: bool) -> dict:
    """The integer form of an add/concat node: one multiplier per input, ``scale_i / scale_out``."""
    nm, op = n["name"], n["op"]
    mult, shift = fixed_point([f.scale / fout.scale for f in fin], f"layer {nm!r}")
    node = {"name": nm, "op": op, "inputs": list(n["inputs"]),
            "requant": {"multipliers": [int(m) for m in mult], "shift": shift, **fmt_dict(fout)}}
    if op == "add":
        node["activation"] = "relu" if relu else None
    return node


def pass_node(n) -> dict:
    """A node without integer parameters (relu, pools, flatten) as a manifest node."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in n.items()}


def manifest(spec, graph: list[dict], *, name: str, description: str = "") -> dict:
    """The manifest dict of a quantized float graph (``graph``: its integer nodes)."""
    return {"format_version": 1, "name": name, "description": description,
            "input": {"shape": list(input_shape(spec)), **fmt_dict(input_format(spec))}, "graph": graph}


def data(spec, d) -> Dataset | None:
    """(x, y) / x / Dataset -> integer Dataset; float x is quantized with the input format."""
    if d is None:
        return None
    if isinstance(d, Dataset):
        x, y = d.x, d.y
    elif isinstance(d, tuple):
        x, y = d
    else:
        x, y = d, None
    x = np.asarray(x)
    if x.dtype.kind == "f":
        x = quantize_input(spec, x)
    return Dataset(x, None if y is None else np.asarray(y, dtype=np.int64))


def quantize_graph(spec, params: Mapping[str, np.ndarray], calib_x, *, name: str, description: str = "",
                   weight_bits: int = 8, act_bits: int = 8, percentile: float = DEFAULT_PERCENTILE,
                   calib_y=None, store_calib: bool = True, eval=None, out=None) -> Workload:
    """Quantize a float graph into a validated Workload (written to directory `out` when given).

    calib_x: real calibration inputs (B, *input.shape); they set the activation ranges and, with
    `store_calib`, are stored (as codes, with `calib_y`) as calib.npz. eval: (x, y), x or a
    Dataset, real (float) or already integer codes. Raises WorkloadError naming the layer when a
    weight, bias, accumulator or multiplier does not fit the format.
    """
    if not 2 <= weight_bits <= 16 or not 2 <= act_bits <= 16:
        raise WorkloadError(f"weight_bits and act_bits must lie in 2..16, got {weight_bits}, {act_bits}")
    nodes = graph_nodes(spec)
    wb = _params(spec, params)
    ranges = calibrate(spec, params, calib_x, percentile=percentile, wb=wb)
    cons = consumers(nodes)
    fin_input = input_format(spec)
    fmts: dict[str, TensorFormat] = {"input": fin_input}
    arrays: dict[str, np.ndarray] = {}
    graph = []
    for n in nodes:
        nm, op = n["name"], n["op"]
        relu = relu_out(n, cons)
        fin = [fmts[i] for i in n["inputs"]]
        if op in MATRIX_OPS:
            fout = _out_format(ranges[nm], relu, act_bits)
            w, b = _float(params, wb, nm)
            node = _matrix(n, w, b, fin[0], fout, relu, int(n.get("weight_bits", weight_bits)), arrays)
        elif op in ("add", "concat"):
            fout = _out_format(ranges[nm], relu, act_bits) if op == "add" else concat_format(fin, act_bits)
            node = mix_node(n, fin, fout, relu)
        else:
            fout = fin[0]
            node = relu_node(n, fin[0]) if op == "relu" else pass_node(n)
        fmts[nm] = fout
        graph.append(node)
    man = manifest(spec, graph, name=name, description=description)
    calib = data(spec, (np.asarray(calib_x, dtype=np.float64), calib_y)) if store_calib else None
    ev = data(spec, eval)
    if out is not None:
        return save_workload(man, Path(out), arrays=arrays, calib=calib, eval=ev)
    return build(man, arrays, calib, ev)


def input_shape(spec) -> tuple[int, ...]:
    """The per-sample input shape of a float graph spec."""
    return _input(spec)["shape"]


def dequantize(wl: Workload, codes, node: str | None = None) -> np.ndarray:
    """Integer codes of `node` (default: the output) -> real values scale * (code - zero_point)."""
    f = wl.formats[node or wl.output]
    return (np.asarray(codes, dtype=np.float64) - f.zero_point) * f.scale
