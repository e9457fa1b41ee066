"""im2col for integer conv2d inputs and the matching (K, M) weight matrices, pure numpy.

Orders (the contract between `im2col` and `conv_weight_matrix`):
- K (a row of the weight matrix, a column of the im2col matrix) runs over
  (c, i, j) with c the input channel within the group, i the kernel row, j the kernel column,
  j fastest: k = (c * kh + i) * kw + j. This is `w[o].reshape(-1)` for weights of shape
  (Cout, Cin/groups, kh, kw), and PyTorch's `unfold` order.
- N (a row of the im2col matrix) runs over output pixels row-major: n = oy * Wo + ox.
- M runs over the group's output channels: global channel = g * (Cout/groups) + m.

So for each group g, `im2col(x)[g] @ conv_weight_matrix(w, groups)[g]` is that group's conv
output as (N, M), and `fold_output` turns the per-group results back into (Cout, Ho, Wo).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _pair(v: int | tuple[int, int], what: str) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{what} must be an int or a pair (h, w), got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def conv_output_hw(
    input_hw: tuple[int, int],
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> tuple[int, int]:
    """Output spatial size: floor((H + 2p - d(k-1) - 1) / s) + 1 per axis."""
    k, s, p, d = (_pair(v, n) for v, n in ((kernel, "kernel"), (stride, "stride"),
                                            (padding, "padding"), (dilation, "dilation")))
    return tuple((h + 2 * pp - dd * (kk - 1) - 1) // ss + 1
                 for h, kk, ss, pp, dd in zip(input_hw, k, s, p, d, strict=True))  # type: ignore[return-value]


def pool_output_hw(input_hw: tuple[int, int], kernel, stride, padding, ceil_mode: bool = False) -> tuple[int, int]:
    """Pool output size: conv_output_hw, or with ceil_mode ceil((H + 2p - k) / s) + 1 per axis, less
    one where the last window would start in the bottom / right padding (the ONNX and torch rule)."""
    if not ceil_mode:
        return conv_output_hw(input_hw, kernel, stride, padding)
    out = []
    for h, k, s, p in zip(input_hw, _pair(kernel, "kernel"), _pair(stride, "stride"), _pair(padding, "padding"),
                          strict=True):
        o = -(-(h + 2 * p - k) // s) + 1
        if (o - 1) * s >= h + p:
            o -= 1
        out.append(o)
    return out[0], out[1]


def im2col(
    x: np.ndarray,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    pad_value: int = 0,
) -> np.ndarray:
    """Unfold an input (C, H, W) into per-group matrices (groups, N, K), or (B, C, H, W) into
    (groups, B, N, K); N = Ho*Wo output pixels row-major, K = (C/groups)*kh*kw in (c, i, j) order.

    `pad_value` fills the symmetric zero-padding border (use the input zero point for
    asymmetric-quantized inputs). The dtype of `x` is kept.
    """
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"im2col expects (C, H, W) or (B, C, H, W), got shape {x.shape}")
    batched = x.ndim == 4
    xb = x if batched else x[None]
    b, c, h, w = xb.shape
    kh, kw = _pair(kernel, "kernel")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    dh, dw = _pair(dilation, "dilation")
    if min(kh, kw, sh, sw, dh, dw, groups) < 1 or min(ph, pw) < 0:
        raise ValueError("kernel, stride, dilation and groups must be >= 1 and padding >= 0")
    if c % groups:
        raise ValueError(f"input channels {c} are not divisible by groups={groups}")
    ho, wo = conv_output_hw((h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    if ho < 1 or wo < 1:
        raise ValueError(f"kernel {(kh, kw)} with dilation {(dh, dw)} does not fit input {h}x{w} padded by {(ph, pw)}")
    if ph or pw:
        xp = np.full((b, c, h + 2 * ph, w + 2 * pw), pad_value, dtype=xb.dtype)
        xp[:, :, ph:ph + h, pw:pw + w] = xb
    else:
        xp = xb
    # win[b, c, oy, ox, i, j] = xp[b, c, oy*sh + i*dh, ox*sw + j*dw]: a strided view, gathered by one copy
    win = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :ho, :wo]
    cg = c // groups
    # (b, g, cg, ho, wo, kh, kw) -> (g, b, ho, wo, cg, kh, kw) = (g, b, N, K)
    win = win.reshape(b, groups, cg, ho, wo, kh, kw).transpose(1, 0, 3, 4, 2, 5, 6)
    out = np.ascontiguousarray(win).reshape(groups, b, ho * wo, cg * kh * kw)
    return out if batched else out[:, 0]


def conv_weight_matrix(w: np.ndarray, groups: int = 1, contiguous: bool = True) -> np.ndarray:
    """Weights (Cout, Cin/groups, kh, kw) -> per-group matrices (groups, K, M), K in (c, i, j) order.

    contiguous=False returns a view of w instead of a copy: each (K, M) matrix column-major, whose
    transpose (M, K) is contiguous, as the weight packer reads it."""
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(f"conv weights must be (Cout, Cin/groups, kh, kw), got shape {w.shape}")
    cout = w.shape[0]
    if groups < 1 or cout % groups:
        raise ValueError(f"output channels {cout} are not divisible by groups={groups}")
    mg = cout // groups
    wm = w.reshape(groups, mg, -1).transpose(0, 2, 1)
    return np.ascontiguousarray(wm) if contiguous else wm


def fold_output(y: np.ndarray, output_hw: tuple[int, int]) -> np.ndarray:
    """Per-group products (groups, [B,] N, M) -> conv output ([B,] groups*M, Ho, Wo)."""
    y = np.asarray(y)
    ho, wo = output_hw
    if y.ndim == 3:
        g, n, m = y.shape
        if n != ho * wo:
            raise ValueError(f"{n} rows do not make a {ho}x{wo} output")
        return y.transpose(0, 2, 1).reshape(g * m, ho, wo)
    if y.ndim == 4:
        g, b, n, m = y.shape
        if n != ho * wo:
            raise ValueError(f"{n} rows do not make a {ho}x{wo} output")
        return y.transpose(1, 0, 3, 2).reshape(b, g * m, ho, wo)
    raise ValueError(f"fold_output expects (groups, N, M) or (groups, B, N, M), got shape {y.shape}")
