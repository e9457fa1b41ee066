"""Export of a frozen GraphNet: its integer graph, the exact torch inference of it, the workload.

This module owns the step from a trained, fake-quantized model to the integer model the
simulator runs.  :func:`integerize` reads each layer's frozen weight codes ``q`` and scales
``gamma`` (:class:`~isaacsim.train.quant.WeightQuantizer`), the activation scales
(:class:`~isaacsim.train.quant.ActQuantizer`) and the float biases, and gives them the
integer forms of docs/workloads.md (the rules of :mod:`isaacsim.workload.ptq`): bias in
accumulator units ``rint(b / (s_in * gamma))`` (a channel whose weights decayed to nothing gets
a coarser scale so that fits int32: :func:`_fit_bias`), requant ``s_in * gamma / s_out`` as an int32
multiplier and a shift (the dyadic rescale of integer-only inference), round half up, clamps.
:func:`exact_forward` runs that integer graph with torch ops: convolutions in float64 on
integer values (every sum < 2^53, so exact in any order), requantization in int64.  It is the
frozen model's forward, so "the trained model's fake-quantized inference" and the exported
workload are the same computation; the tests hold the simulator's crossbar datapath with an
ideal ADC to it, bit for bit.  :func:`export` writes the workload directory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from isaacsim.errors import WorkloadError
from isaacsim.workload import ptq as fgraph
from isaacsim.workload.format import TensorFormat
from isaacsim.workload.io import Workload, build, pair, save_workload

__all__ = ["exact_forward", "exact_predict", "export", "integerize"]


def _act_format(q) -> TensorFormat:
    return TensorFormat(bits=q.bits, signed=bool(q.signed), scale=float(q.scale), zero_point=0)


def _fit_bias(codes: np.ndarray, gamma: np.ndarray, bias, s_in: float):
    """Integer codes, and per-channel scales coarsened where the bias would leave int32.

    A channel whose weights decayed to almost nothing has a tiny ``gamma``, so its bias in
    accumulator units ``b / (s_in * gamma)`` can exceed 2^31.  Such a channel's scale is raised
    to ``|b| / (s_in * 2^30)`` and its codes re-rounded on the coarser grid (they become 0 or
    nearly so); its output is then the bias alone, as it all but was.  Other channels are
    untouched.  Returns (int64 codes, gamma)."""
    codes = np.rint(codes).astype(np.int64)
    gamma = np.broadcast_to(gamma, (codes.shape[0],)).astype(np.float64)
    if bias is None:
        return codes, gamma
    need = np.abs(bias) / (s_in * 2.0**30)
    bad = gamma < need
    if bad.any():
        shape = (-1,) + (1,) * (codes.ndim - 1)
        ratio = (gamma[bad] / need[bad]).reshape(shape)
        codes[bad] = np.rint(codes[bad] * ratio).astype(np.int64)
        gamma = np.where(bad, need, gamma)
    return codes, gamma


@torch.no_grad()
def integerize(net, *, name: str | None = None, description: str = "") -> Workload:
    """The integer graph of a frozen (or fully calibrated) GraphNet, validated, without data."""
    from .graph import require_graph

    require_graph(net)
    fmts: dict[str, TensorFormat] = {"input": fgraph.input_format(net.spec)}
    arrays: dict[str, np.ndarray] = {}
    graph = []
    for n in net.nodes:
        nm, op = n["name"], n["op"]
        fin = [fmts[i] for i in n["inputs"]]
        if op in (*fgraph.MATRIX_OPS, "add"):
            q = net.act(nm)
            if q is None or not q.initialized:
                raise WorkloadError(f"layer {nm!r}: no activation scale (quantize and train or "
                                    f"calibrate the model before export)")
            fout = _act_format(q)
        if op in fgraph.MATRIX_OPS:
            layer = net.layer(nm)
            wq = layer.weight_quant
            if not wq.valid:
                raise WorkloadError(f"layer {nm!r}: no quantized weight yet")
            codes = wq.codes.to(torch.float64).cpu().numpy()
            gamma = wq.gamma.to(torch.float64).reshape(-1).cpu().numpy()
            bias = None if layer.bias is None else layer.bias.detach().double().cpu().numpy()
            codes, gamma = _fit_bias(codes, gamma, bias, fin[0].scale)
            node = fgraph.matrix_node(n, codes, gamma, bias, fin[0], fout,
                                      net.relu_out[nm], max(2, wq.bits), arrays)  # binary +-1 in 2 bits
        elif op == "add":
            node = fgraph.mix_node(n, fin, fout, net.relu_out[nm])
        elif op == "concat":
            fout = fgraph.concat_format(fin, max(f.bits for f in fin))
            node = fgraph.mix_node(n, fin, fout, False)
        else:
            fout = fin[0]
            node = fgraph.relu_node(n, fin[0]) if op == "relu" else fgraph.pass_node(n)
        fmts[nm] = fout
        graph.append(node)
    man = fgraph.manifest(net.spec, graph, name=name or net.name, description=description)
    return build(man, arrays)


# ------------------------------------------------------------------------ exact inference


def _input_codes(net, x) -> torch.Tensor:
    """Real inputs in [0, 1] -> the workload's 8-bit input codes (the numpy rule of ptq, so the
    exported eval set and this forward see the same codes); integer tensors pass as codes."""
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            return x.to(torch.float64)
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.dtype.kind != "f":
        return torch.from_numpy(x.astype(np.float64))
    return torch.from_numpy(fgraph.quantize_input(net.spec, x).astype(np.float64))


def _round_shift(v: torch.Tensor, shift: int) -> torch.Tensor:
    return torch.bitwise_right_shift(v + (1 << (shift - 1)), shift) if shift > 0 else v


def _finish(y: torch.Tensor, rq, relu: bool) -> torch.Tensor:
    y = y + rq.zero_point
    if relu:
        y = torch.clamp(y, min=rq.zero_point)
    y = torch.clamp(y, rq.lo, rq.hi)
    return y if rq.clip is None else torch.clamp(y, rq.clip[0], rq.clip[1])


def _per_channel(v: np.ndarray, ndim: int) -> torch.Tensor:
    t = torch.from_numpy(np.asarray(v, dtype=np.int64))
    return t.reshape((1, -1) + (1,) * (ndim - 2)) if t.dim() == 1 else t


def _avg_round(total: torch.Tensor, count: int) -> torch.Tensor:
    t = torch.round(total).to(torch.int64)
    return torch.div(2 * t + count, 2 * count, rounding_mode="floor").to(torch.float64)


@torch.no_grad()
def exact_forward(net, x, wl: Workload | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer inference of ``wl`` (default: the frozen ``net.integer``) on inputs ``x`` (real
    values in [0, 1], or integer codes); returns (output codes int64, real outputs float64)."""
    wl = wl if wl is not None else net.integer
    if wl is None:
        raise RuntimeError("freeze() the model first")
    a = wl.arrays
    vals = {"input": _input_codes(net, x)}
    for n in wl.nodes:
        ins = [vals[i] for i in n.inputs]
        fin = [wl.formats[i] for i in n.inputs]
        x0, op = ins[0], n.op
        if op in ("conv2d", "linear"):
            w = torch.from_numpy(a[n.weight].astype(np.float64))
            if op == "conv2d":
                p = pair(n.padding)
                xp = F.pad(x0, (p[1], p[1], p[0], p[0]), value=float(fin[0].zero_point))
                acc = F.conv2d(xp, w, stride=pair(n.stride), dilation=pair(n.dilation),
                               groups=n.groups)
            else:
                acc = F.linear(x0, w)
            v = torch.round(acc).to(torch.int64)
            if n.bias is not None:
                v = v + _per_channel(a[n.bias], v.dim())
            if v.numel() and int(v.abs().max()) >= 2**31:
                raise WorkloadError(f"layer {n.name!r}: accumulator + bias overflows int32")
            mult = a[n.requant.multiplier] if isinstance(n.requant.multiplier, str) else n.requant.multiplier
            y = _round_shift(v * _per_channel(mult, v.dim()), n.requant.shift)
            y = _finish(y, n.requant, n.activation == "relu")
        elif op == "add":
            rq = n.requant
            if rq.mode != "dyadic":
                raise WorkloadError(f"layer {n.name!r}: requant mode {rq.mode!r} has no exact torch inference")
            total = sum((t.to(torch.int64) - f.zero_point) * m
                        for t, f, m in zip(ins, fin, rq.multipliers, strict=True))
            y = _finish(_round_shift(total, rq.shift), rq, n.activation == "relu")
        elif op == "concat":
            rq = n.requant
            y = torch.cat([_finish(_round_shift((t.to(torch.int64) - f.zero_point) * m, rq.shift), rq, False)
                           for t, f, m in zip(ins, fin, rq.multipliers, strict=True)], dim=1)
        elif op == "relu":
            y = (torch.clamp(x0, min=fin[0].zero_point) if n.clip is None
                 else torch.clamp(x0, n.clip[0], n.clip[1]))
        elif op == "maxpool":
            s = pair(n.stride if n.stride is not None else n.kernel)
            y = F.max_pool2d(x0, pair(n.kernel), s, pair(n.padding), ceil_mode=n.ceil_mode)
        elif op == "avgpool":
            k, p = pair(n.kernel), pair(n.padding)
            s = pair(n.stride if n.stride is not None else n.kernel)
            xp = F.pad(x0, (p[1], p[1], p[0], p[0]), value=float(fin[0].zero_point))
            y = _avg_round(F.avg_pool2d(xp, k, s, divisor_override=1), k[0] * k[1])
        elif op == "global_avgpool":
            y = _avg_round(x0.sum(dim=(2, 3), keepdim=True), x0.shape[2] * x0.shape[3])
        elif op == "flatten":
            y = x0.flatten(1)
        else:
            raise WorkloadError(f"layer {n.name!r}: op {op!r} has no exact torch inference")
        vals[n.name] = y.to(torch.float64)
    codes = torch.round(vals[wl.output]).to(torch.int64)
    f = wl.formats[wl.output]
    return codes, (codes - f.zero_point).to(torch.float64) * f.scale


def exact_predict(net, x, batch: int = 512) -> np.ndarray:
    """Class predictions (argmax of the output codes, first index on ties) of the frozen net."""
    n = len(x)
    out = [exact_forward(net, x[i:i + batch])[0].argmax(dim=1) for i in range(0, n, batch)]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def _dataset(net, d):
    if d is None:
        return None
    x, y = d if isinstance(d, tuple) else (d, None)
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    return fgraph.data(net.spec, (np.asarray(x), y))


def export(net, out, *, name: str | None = None, description: str = "", calib=None,
           eval=None) -> Workload:
    """Write the frozen net as a workload directory ``out`` (workload.yaml, arrays.npz and, when
    given, calib.npz / eval.npz from ``(x, y)`` pairs of real inputs in [0, 1]); returns the
    reloaded Workload."""
    from .graph import require_graph

    require_graph(net)
    if not getattr(net, "frozen", False):
        raise RuntimeError("freeze() the model before export")
    wl = integerize(net, name=name, description=description)
    return save_workload(wl, Path(out), calib=_dataset(net, calib), eval=_dataset(net, eval),
                         compress=True)
