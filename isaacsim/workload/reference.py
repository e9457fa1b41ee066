"""Integer reference executor: the golden numpy model of a workload graph, with a pluggable matmul.

Every rule here is pure integer arithmetic on int64 (docs/workloads.md gives the formulas), so the
result is bit-exact on any machine. `matmul(node_name, x2d, w2d) -> int64 (N, M)` computes each
conv (per group, via im2col) and linear product; the default is `x2d @ w2d`; the simulated executor
swaps in the crossbar datapath (`isaacsim.mvm`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from isaacsim.errors import WorkloadError
from isaacsim.workload.format import TensorFormat
from isaacsim.workload.im2col import conv_output_hw, conv_weight_matrix, fold_output, im2col, pool_output_hw
from isaacsim.workload.io import Workload, pair

MatMul = Callable[[str, np.ndarray, np.ndarray], np.ndarray]


def exact_matmul(node_name: str, x2d: np.ndarray, w2d: np.ndarray) -> np.ndarray:
    """The default product: int64 x @ w."""
    return x2d.astype(np.int64) @ w2d.astype(np.int64)


def round_shift(v: np.ndarray, shift: int) -> np.ndarray:
    """round_half_up(v / 2^shift) = floor((v + 2^(shift-1)) / 2^shift), arithmetic shift on int64."""
    v = np.asarray(v, dtype=np.int64)
    return (v + (1 << (shift - 1))) >> shift if shift > 0 else v


def clamp(v: np.ndarray, fmt: TensorFormat) -> np.ndarray:
    return np.clip(v, fmt.lo, fmt.hi)


def _per_channel(v, ndim: int) -> np.ndarray:
    """A (C,) vector or scalar broadcast against (B, C, ...) of ndim dims."""
    v = np.asarray(v, dtype=np.int64)
    return v.reshape((1, -1) + (1,) * (ndim - 2)) if v.ndim == 1 else v


def float32_scale(v: np.ndarray, mult) -> np.ndarray:
    """round_half_even(float32(v) * float32(mult)) as int64: the float32 requantization of
    onnxruntime's integer kernels (v integer, exact in float32 below 2^24, rounded like the kernels above)."""
    y = np.asarray(v).astype(np.float32) * np.asarray(mult, dtype=np.float32)
    return np.rint(y).astype(np.int64)


def _rescale(v: np.ndarray, rq, mult, ndim: int) -> np.ndarray:
    """v rescaled by the requant's mode (without the zero point): dyadic or float32."""
    if rq.mode == "float32":
        m = np.asarray(mult, dtype=np.float32)
        return float32_scale(v, m.reshape((1, -1) + (1,) * (ndim - 2)) if m.ndim == 1 else m)
    return round_shift(v * _per_channel(mult, ndim), rq.shift)


def _matrix_requant(wl: Workload, n, acc: np.ndarray) -> np.ndarray:
    rq = n.requant
    v = acc
    if n.bias is not None:
        v = v + _per_channel(wl.arrays[n.bias], acc.ndim)
    if v.size and int(np.abs(v).max()) >= 2**31:
        raise WorkloadError(f"layer {n.name!r}: accumulator + bias overflows int32")
    mult = wl.arrays[rq.multiplier] if isinstance(rq.multiplier, str) else rq.multiplier
    y = _rescale(v, rq, mult, acc.ndim) + rq.zero_point
    return _finish(y, rq, n.activation == "relu")


def _finish(y: np.ndarray, rq, relu: bool) -> np.ndarray:
    """Zero-point-shifted codes -> output codes: the fused relu, the format's clamp and the requant's clip."""
    if relu:
        y = np.maximum(y, rq.zero_point)
    y = clamp(y, rq)
    return y if rq.clip is None else np.clip(y, rq.clip[0], rq.clip[1])


def _conv(wl: Workload, n, x: np.ndarray, matmul: MatMul, zp: int) -> np.ndarray:
    k, s, p, d = pair(n.kernel), pair(n.stride), pair(n.padding), pair(n.dilation)
    cols = im2col(x, k, s, p, d, n.groups, pad_value=zp)  # (g, B, N, K)
    wm = conv_weight_matrix(wl.arrays[n.weight], n.groups, contiguous=False)  # (g, K, M), no copy
    g, b, nn, kk = cols.shape
    ys = np.stack([np.asarray(matmul(n.name, cols[i].reshape(b * nn, kk), wm[i]), dtype=np.int64)
                   .reshape(b, nn, -1) for i in range(g)])
    return fold_output(ys, conv_output_hw(x.shape[2:], k, s, p, d))


def pool_windows(x: np.ndarray, k, s, p, fill, ceil_mode: bool = False):
    """Yield the kh*kw strided views of the padded (B, C, H, W) input, one per kernel offset
    (padding = fill, in x's dtype, and more of it at the bottom / right for the windows that
    `ceil_mode` adds; the float forward of `ptq` shares this)."""
    b, c, h, w = x.shape
    ho, wo = pool_output_hw((h, w), k, s, p, ceil_mode)
    hp = max(h + 2 * p[0], (ho - 1) * s[0] + k[0])
    wp = max(w + 2 * p[1], (wo - 1) * s[1] + k[1])
    xp = np.full((b, c, hp, wp), fill, dtype=x.dtype)
    xp[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x
    for i in range(k[0]):
        for j in range(k[1]):
            yield xp[:, :, i:i + s[0] * (ho - 1) + 1:s[0], j:j + s[1] * (wo - 1) + 1:s[1]]


def avg_round(total: np.ndarray, count: int) -> np.ndarray:
    """round_half_up(total / count) = floor((2*total + count) / (2*count))."""
    return (2 * total + count) // (2 * count)


def _average(n, windows: list[np.ndarray], count: int, fin: TensorFormat) -> np.ndarray:
    """avgpool/global_avgpool from the windows' cells (one array per window offset): their sum
    rounded half up in the input's format, or rescaled by the `requant`'s mode into its format."""
    rq = n.requant
    if rq is not None and rq.mode == "float32_mean":
        acc = np.float32(0)
        for w in windows:
            acc = acc + np.float32(fin.scale) * (w - fin.zero_point).astype(np.float32)
        q = np.rint(acc / np.float32(count) / np.float32(rq.scale) + np.float32(rq.zero_point))
        return clamp(q.astype(np.int64), rq)
    total = sum(windows)
    if rq is None:
        return avg_round(total, count)
    return clamp(float32_scale(total - count * fin.zero_point, rq.multiplier) + rq.zero_point, rq)


def _fma32(x: np.ndarray, m: np.float32, c: np.ndarray) -> np.ndarray:
    """float32 fma(x, m, c), rounded once: x an integer code, m and c float32, so x * m + c is exact
    in float64 and one rounding to float32 remains."""
    return (np.asarray(x, dtype=np.float64) * np.float64(m) + np.asarray(c, dtype=np.float64)).astype(np.float32)


def _add_fma(ins, fin, rq) -> np.ndarray:
    """mode float32_fma: round_half_even(fma(x_0, m_0, fma(x_1, m_1, c))) with the zero points in c."""
    m0, m1 = (np.float32(m) for m in rq.multipliers)
    c = np.float32(np.float32(rq.zero_point) - (np.float32(m0 * np.float32(fin[0].zero_point))
                                                + np.float32(m1 * np.float32(fin[1].zero_point))))
    return np.rint(_fma32(ins[0], m0, _fma32(ins[1], m1, c))).astype(np.int64)


def _mix(n, ins, fin) -> np.ndarray:
    """add / concat: each input's centred codes times its multiplier, summed (add) or each on its own
    (concat), rescaled by the requant's mode, zero point added, clamped."""
    rq = n.requant
    if rq.mode == "float32_fma":
        return _finish(_add_fma(ins, fin, rq), rq, n.activation == "relu")
    f32 = rq.mode == "float32"
    terms = [np.asarray(v - f.zero_point).astype(np.float32) * np.float32(m) if f32 else (v - f.zero_point) * m
             for v, f, m in zip(ins, fin, rq.multipliers, strict=True)]

    def scale(t):
        return np.rint(t).astype(np.int64) if f32 else round_shift(t, rq.shift)
    if n.op == "add":
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return _finish(scale(total) + rq.zero_point, rq, n.activation == "relu")
    return np.concatenate([_finish(scale(t) + rq.zero_point, rq, False) for t in terms], axis=1)


def execute(wl: Workload, x, *, matmul: MatMul | None = None, return_nodes: bool = False):
    """Run the graph on integer inputs x (B, *input.shape); return the output node's int64 codes
    (B, ...), or (output, {node name: output}) with return_nodes."""
    mm = matmul or exact_matmul
    x = np.asarray(x)
    inp = wl.manifest.input
    if x.dtype.kind not in "iu":
        raise WorkloadError(f"inputs must be integers, got dtype {x.dtype}")
    if tuple(x.shape[1:]) != tuple(inp.shape):
        raise WorkloadError(f"inputs have shape {x.shape}, expected (B, {', '.join(map(str, inp.shape))})")
    if x.size and (int(x.min()) < inp.lo or int(x.max()) > inp.hi):
        raise WorkloadError(f"input codes must lie in {inp.lo}..{inp.hi}")
    vals: dict[str, np.ndarray] = {"input": x.astype(np.int64)}
    fmts = wl.formats
    for n in wl.manifest.graph:
        ins = [vals[i] for i in n.inputs]
        fin = [fmts[i] for i in n.inputs]
        a = ins[0]
        if n.op == "conv2d":
            y = _matrix_requant(wl, n, _conv(wl, n, a, mm, fin[0].zero_point))
        elif n.op == "linear":
            w = wl.arrays[n.weight].astype(np.int64).T
            y = _matrix_requant(wl, n, np.asarray(mm(n.name, a, w), dtype=np.int64))
        elif n.op == "relu":
            y = np.maximum(a, fin[0].zero_point) if n.clip is None else np.clip(a, n.clip[0], n.clip[1])
        elif n.op == "maxpool":
            k = pair(n.kernel)
            s = pair(n.stride if n.stride is not None else n.kernel)
            y = np.maximum.reduce(list(pool_windows(a, k, s, pair(n.padding), np.iinfo(np.int64).min, n.ceil_mode)))
        elif n.op == "avgpool":
            k = pair(n.kernel)
            s = pair(n.stride if n.stride is not None else n.kernel)
            y = _average(n, list(pool_windows(a, k, s, pair(n.padding), fin[0].zero_point)), k[0] * k[1], fin[0])
        elif n.op == "global_avgpool":
            h, w = a.shape[2:]
            if n.requant is not None and n.requant.mode == "float32_mean":
                cells = [a[:, :, i:i + 1, j:j + 1] for i in range(h) for j in range(w)]
            else:
                cells = [a.sum(axis=(2, 3), keepdims=True)]
            y = _average(n, cells, h * w, fin[0])
        elif n.op == "flatten":
            y = a.reshape(a.shape[0], -1)
        else:  # add, concat
            y = _mix(n, ins, fin)
        vals[n.name] = np.asarray(y, dtype=np.int64)
    out = vals[wl.output]
    if return_nodes:
        del vals["input"]
        return out, vals
    return out


def predict(wl: Workload, x, *, matmul: MatMul | None = None) -> np.ndarray:
    """Top-1 class per input: argmax of the output codes (lowest index on ties)."""
    out = execute(wl, x, matmul=matmul)
    return out.reshape(out.shape[0], -1).argmax(axis=1)
