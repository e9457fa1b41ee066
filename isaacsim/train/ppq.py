"""Progressive Projection Quantization (Algorithm 2 of the alpha-blending paper) and the max-abs scale.

This module owns the choice of a scale ``gamma`` and integer codes ``q`` that approximate a
tensor as ``x ~= gamma * q``.  :func:`ppq` runs Algorithm 2: start from
``gamma = max|x| / qmax`` (unless a positive ``gamma`` is given), then alternate the projection
``q = clamp(round(x / gamma))`` onto the code set and the least-squares refit
``gamma = <x, q> / <q, q>`` until ``gamma`` stops changing.  Each step cannot increase the squared
error, so the loop reaches a fixed point (a local minimum) in a handful of iterations.
:func:`maxabs` is the one-shot initialisation alone, the scale of post-training quantization.
Both work per tensor or per channel (vectorised over channels) on torch tensors without
autograd; an all-zero tensor or channel keeps a positive ``gamma`` (1.0 unless one is given)
and codes 0 (+1 for binary codes).  Binary (signed 1-bit) codes are ``sign(x)``; PPQ's refit then
gives ``gamma = mean|x|``, the scale of XNOR-Net (Rastegari et al., ECCV 2016).
"""

from __future__ import annotations

import torch

__all__ = ["code_range", "maxabs", "ppq", "project"]


def code_range(bits: int, signed: bool = True) -> tuple[int, int]:
    """Integer code range: signed symmetric {-(2^(n-1)-1)..2^(n-1)-1}, unsigned {0..2^n-1};
    signed 1 bit is binary, the codes {-1, +1} (no 0: see :func:`project`)."""
    if signed:
        if bits < 1:
            raise ValueError(f"signed quantization needs bits >= 1, got {bits}")
        qmax = max(1, 2 ** (bits - 1) - 1)
        return -qmax, qmax
    if bits < 1:
        raise ValueError(f"unsigned quantization needs bits >= 1, got {bits}")
    return 0, 2**bits - 1


def project(x: torch.Tensor, gamma: torch.Tensor, bits: int, signed: bool = True) -> torch.Tensor:
    """The nearest codes: ``clamp(round(x / gamma))`` on the code range; for signed 1-bit (binary)
    codes ``sign(x)`` with 0 mapped to +1 (BinaryConnect's sign function, which the alpha-blending
    paper's BinaryNet experiment uses)."""
    if signed and bits == 1:
        return torch.where(x < 0, -torch.ones_like(x), torch.ones_like(x))
    lo, hi = code_range(bits, signed)
    return torch.clamp(torch.round(x / gamma), lo, hi)


def _flatten(x: torch.Tensor, per_channel_dim: int | None) -> torch.Tensor:
    """View ``x`` as (channels, elements); one row when per tensor."""
    if per_channel_dim is None:
        return x.reshape(1, -1)
    return x.movedim(per_channel_dim, 0).reshape(x.shape[per_channel_dim], -1)


def _gamma_shape(x: torch.Tensor, per_channel_dim: int | None) -> tuple[int, ...]:
    if per_channel_dim is None:
        return ()
    shape = [1] * x.dim()
    shape[per_channel_dim] = x.shape[per_channel_dim]
    return tuple(shape)


def _init_gamma(rows: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """max|x| / qmax per row (max(x, 0) / hi for unsigned codes); 1.0 where that is 0."""
    if lo < 0:
        peak = rows.abs().amax(dim=1, keepdim=True)
    else:
        peak = rows.clamp(min=0).amax(dim=1, keepdim=True)
    g = peak / hi
    return torch.where(g > 0, g, torch.ones_like(g))


def _given_gamma(gamma, rows: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    init = _init_gamma(rows, lo, hi)
    if gamma is None:
        return init
    g = torch.as_tensor(gamma, dtype=rows.dtype, device=rows.device).reshape(-1, 1)
    g = g.expand(rows.shape[0], 1).clone()
    return torch.where(g > 0, g, init)  # Algorithm 2: re-initialise when gamma <= 0


@torch.no_grad()
def maxabs(x: torch.Tensor, bits: int, per_channel_dim: int | None = None,
           signed: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Max-abs scale and its codes, no refinement: ``gamma = max|x| / qmax``.

    Returns ``(gamma, q)``; ``gamma`` broadcasts against ``x`` (a 0-dim tensor per tensor,
    size C along ``per_channel_dim`` and 1 elsewhere per channel) and ``q`` has ``x``'s shape
    and dtype, holding integers.
    """
    lo, hi = code_range(bits, signed)
    rows = _flatten(x, per_channel_dim)
    g = _init_gamma(rows, lo, hi)
    gamma = g.reshape(_gamma_shape(x, per_channel_dim))
    return gamma, project(x, gamma, bits, signed)


@torch.no_grad()
def ppq(x: torch.Tensor, bits: int, gamma=None, per_channel_dim: int | None = None,
        max_iter: int = 100, tol: float = 0.0, signed: bool = True
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Algorithm 2 (PPQ): alternate ``q = clamp(round(x/gamma))`` and ``gamma = <x,q>/<q,q>``.

    ``gamma``: optional starting scale (scalar, or one per channel); values <= 0 or ``None``
    start from the max-abs scale.  The loop stops when no channel's ``gamma`` moves by more than
    ``tol * gamma`` (``tol=0``: stops changing exactly) or after ``max_iter`` refits.  Returns
    ``(gamma, q)`` shaped as in :func:`maxabs`; ``q`` is computed with the returned ``gamma``.
    """
    lo, hi = code_range(bits, signed)
    rows = _flatten(x, per_channel_dim)
    g = _given_gamma(gamma, rows, lo, hi)
    for _ in range(max_iter):
        q = project(rows, g, bits, signed)
        qq = (q * q).sum(dim=1, keepdim=True)
        xq = (rows * q).sum(dim=1, keepdim=True)
        new = torch.where(qq > 0, xq / torch.where(qq > 0, qq, torch.ones_like(qq)), g)
        new = torch.where(new > 0, new, g)  # unsigned codes of a negative row: keep gamma
        done = bool(((new - g).abs() <= tol * g).all())
        g = new
        if done:
            break
    gamma_out = g.reshape(_gamma_shape(x, per_channel_dim))
    return gamma_out, project(x, gamma_out, bits, signed)
