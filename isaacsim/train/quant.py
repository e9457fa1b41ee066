"""Fake-quantization modules: blended (AB), straight-through (STE) and PTQ weights, activations.

This module owns what the forward and backward passes of a quantized layer compute.
:func:`blend` is Eq. 4 with the gradient of Eq. 5: ``w_ab = (1 - alpha) w + alpha wq`` with
``wq`` detached, so ``dL/dw = (1 - alpha) dL/dw_ab`` exactly and nothing flows through the
quantizer.  :func:`ste` is the baseline that shares everything but the gradient path: its
forward is ``wq`` itself and its backward passes ``dL/dwq`` straight to ``w``.
:class:`WeightQuantizer` keeps ``wq = gamma * q`` (PPQ for "ab"/"ste", the max-abs scale for
"ptq"), refreshed every ``every`` training forwards, and the current ``alpha``;
:class:`ActQuantizer` fake-quantizes activations with a PPQ scale tracked by an exponential
moving average in training and frozen in eval, using a clipped straight-through estimator for
the rounding (activations have no float counterpart to blend with, so AB cannot apply there).
:class:`QuantConv2d` and :class:`QuantLinear` are ``nn.Conv2d``/``nn.Linear`` with these
quantizers attached; biases stay float here (export decides their integer form).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .ppq import code_range, maxabs, ppq

__all__ = [
    "METHODS", "ActQuantizer", "QuantConv2d", "QuantLinear", "WeightQuantizer",
    "blend", "fake_quant", "ste", "ste_blend",
]

METHODS = ("ab", "ste", "ptq")


def blend(w: torch.Tensor, wq: torch.Tensor, alpha: float) -> torch.Tensor:
    """Eq. 4: ``(1 - alpha) * w + alpha * wq.detach()``; the gradient reaches ``w`` only
    through the ``(1 - alpha)`` path (Eq. 5).  At ``alpha = 1`` the value is exactly ``wq``."""
    a = float(alpha)
    return (1.0 - a) * w + a * wq.detach()


class _StraightThrough(torch.autograd.Function):
    """Forward returns ``wq`` bit for bit; backward hands the gradient to ``w`` unchanged."""

    @staticmethod
    def forward(ctx, w, wq):  # noqa: D102
        return wq.detach().clone()

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        return grad, None


def ste(w: torch.Tensor, wq: torch.Tensor) -> torch.Tensor:
    """STE (Eq. 2-3): the forward value is ``wq``; ``dL/dw`` is ``dL/dwq`` evaluated at ``wq``."""
    return _StraightThrough.apply(w, wq)


def ste_blend(w: torch.Tensor, wq: torch.Tensor, alpha: float) -> torch.Tensor:
    """The STE twin of :func:`blend`: the same forward value ``(1 - alpha) w + alpha wq``, but
    the quantizer is passed straight through, so ``dL/dw = dL/dw'`` (the full gradient) for
    every alpha.  At ``alpha = 1`` it is plain STE; at 0 the float layer."""
    a = float(alpha)
    return (1.0 - a) * w + a * ste(w, wq)


class _ClippedRound(torch.autograd.Function):
    """``gamma * clamp(round(x / gamma), lo, hi)``; gradient 1 inside the range, 0 outside."""

    @staticmethod
    def forward(ctx, x, gamma, lo, hi):  # noqa: D102
        q = torch.clamp(torch.round(x / gamma), lo, hi)
        ctx.save_for_backward((x >= lo * gamma) & (x <= hi * gamma))
        return q * gamma

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        (inside,) = ctx.saved_tensors
        return grad * inside, None, None, None


def fake_quant(x: torch.Tensor, gamma: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """Fake-quantize ``x`` on the grid ``gamma * {lo..hi}`` with a clipped STE gradient."""
    return _ClippedRound.apply(x, gamma.to(x.dtype), lo, hi)


class WeightQuantizer(nn.Module):
    """Maps a float weight to the weight a quantized layer computes with.

    ``method``: "ab" (blend with ``alpha``), "ste" (the same blended forward, gradient passed
    straight through the quantizer: :func:`ste_blend`; at ``alpha = 1`` plain STE) or "ptq"
    (``wq`` forward, no gradient to ``w``; the scale is max-abs with no PPQ iterations).
    ``wq = gamma * q`` is recomputed from ``w`` on the first forward and then
    on every ``every``-th forward in training mode; eval mode reuses the cached ``wq`` (so
    evaluation sees what training last used) and computes it only if none exists.
    :meth:`freeze` (used by ``convert``) fixes ``wq`` and sets ``alpha = 1``; :meth:`invalidate`
    drops the cache after the float weight was changed outside training (e.g. BN folding).
    ``wq``, ``gamma``, ``alpha`` and the counters are saved in the state dict.
    """

    def __init__(self, bits: int = 8, per_channel: bool = True, every: int = 1,
                 method: str = "ab", channel_dim: int = 0, ppq_iters: int = 100) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        code_range(bits, signed=True)
        self.bits, self.per_channel, self.every, self.method = bits, per_channel, every, method
        self.channel_dim, self.ppq_iters = channel_dim, ppq_iters
        self.alpha = 1.0 if method == "ptq" else 0.0
        self.calls = 0
        self.frozen = False
        self.valid = False
        self.register_buffer("wq", torch.empty(0))
        self.register_buffer("gamma", torch.empty(0))

    # -- cache ------------------------------------------------------------------------------
    @torch.no_grad()
    def quantize(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(gamma, q)`` for ``w`` by this quantizer's method, without touching the cache."""
        dim = self.channel_dim if self.per_channel else None
        if self.method == "ptq":
            return maxabs(w.detach(), self.bits, per_channel_dim=dim)
        # Algorithm 2 restarts from max|w| each time: a warm start could keep a stale scale.
        return ppq(w.detach(), self.bits, per_channel_dim=dim, max_iter=self.ppq_iters)

    @torch.no_grad()
    def refresh(self, w: torch.Tensor) -> None:
        """Recompute and cache ``gamma`` and ``wq = gamma * q`` from ``w``."""
        if self.frozen:
            raise RuntimeError("this quantizer is frozen (converted); its wq cannot change")
        gamma, q = self.quantize(w)
        self.gamma = gamma.detach().clone()
        self.wq = (gamma * q).detach().clone()
        self.valid = True

    def invalidate(self) -> None:
        if self.frozen:
            raise RuntimeError("this quantizer is frozen (converted); its wq cannot change")
        self.valid = False

    def freeze(self, w: torch.Tensor | None = None) -> None:
        if not self.valid:
            if w is None:
                raise RuntimeError("nothing to freeze: no wq computed yet and no weight given")
            self.refresh(w)
        self.alpha = 1.0
        self.frozen = True

    @property
    def codes(self) -> torch.Tensor:
        """The integer codes ``q`` of the cached ``wq`` (as a float tensor of integers)."""
        return torch.round(self.wq / self.gamma)

    # -- forward ----------------------------------------------------------------------------
    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if not self.frozen and self.method != "ptq" and self.alpha == 0.0:
            return w  # the float phase before T0: (1 - 0) w + 0 wq is w, PPQ would be wasted
        if not self.frozen:
            if self.training:
                if not self.valid or self.calls % self.every == 0:
                    self.refresh(w)
                self.calls += 1
            elif not self.valid:
                self.refresh(w)
        wq = self.wq.to(dtype=w.dtype)
        if self.method == "ab" and not self.frozen:
            return blend(w, wq, self.alpha)
        if self.method == "ste" and not self.frozen:
            return ste_blend(w, wq, self.alpha)
        return wq.detach()

    # -- persistence ------------------------------------------------------------------------
    def get_extra_state(self) -> dict:
        return {"alpha": self.alpha, "calls": self.calls, "frozen": self.frozen,
                "valid": self.valid}

    def set_extra_state(self, state: dict) -> None:
        self.alpha, self.calls = float(state["alpha"]), int(state["calls"])
        self.frozen, self.valid = bool(state["frozen"]), bool(state["valid"])

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("wq", "gamma"):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return (f"bits={self.bits}, per_channel={self.per_channel}, every={self.every}, "
                f"method={self.method!r}, alpha={self.alpha:.4g}, frozen={self.frozen}")


class ActQuantizer(nn.Module):
    """Per-tensor activation fake-quantizer with an EMA-tracked PPQ scale (alpha-blending paper, sec. 3.2).

    In training mode each forward runs PPQ on the batch and updates
    ``scale = momentum * scale + (1 - momentum) * gamma_batch`` (the first batch sets it), then
    quantizes with the updated ``scale``; all-zero batches leave it unchanged.  Cost control
    (a reading of 3.2, which fixes neither): the first batch starts PPQ from its max-abs scale
    and runs up to ``ppq_iters`` refits; later batches start from the current ``scale`` and
    run ``warm_iters`` (PPQ converges slowly on one-sided activations, so the refits continue
    across batches instead of restarting), and the refits see an evenly strided subsample of
    at most ``sample`` values.  In eval mode,
    or once frozen, the scale is fixed.  Codes are unsigned {0..2^n-1} (``signed=False``),
    symmetric signed (``True``), or chosen on the first batch (``None``: signed if it has a
    negative value).  The rounding's gradient is a clipped straight-through estimator.
    With ``enabled = False`` the quantizer still observes training batches (so its EMA is warm)
    but passes values through unquantized: the float phase before T0 of a training window.
    """

    def __init__(self, bits: int = 8, signed: bool | None = False, momentum: float = 0.99,
                 ppq_iters: int = 100, sample: int = 16384, warm_iters: int = 5) -> None:
        super().__init__()
        self.sample, self.warm_iters = int(sample), int(warm_iters)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.bits, self.signed, self.momentum, self.ppq_iters = bits, signed, momentum, ppq_iters
        if signed is not None:
            code_range(bits, signed)
        self.initialized = False
        self.frozen = False
        self.enabled = True
        self.register_buffer("scale", torch.ones(()))

    @property
    def code_range(self) -> tuple[int, int]:
        if self.signed is None:
            raise RuntimeError("signedness not decided yet: run a training batch first")
        return code_range(self.bits, self.signed)

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        """EMA update of ``scale`` from one batch (what a training forward does first)."""
        if self.signed is None:
            self.signed = bool((x < 0).any())
            code_range(self.bits, self.signed)
        if not bool((x != 0).any()):
            return
        flat = x.detach().reshape(-1)
        lo, hi = code_range(self.bits, self.signed)
        if self.initialized:  # warm start: PPQ's refits continue across batches
            start, iters = self.scale.to(flat.dtype), self.warm_iters
        else:
            start = (flat.abs().max() if lo < 0 else flat.clamp(min=0).max()) / hi
            iters = self.ppq_iters
        if flat.numel() > self.sample:  # PPQ's refits on an evenly strided subsample
            flat = flat[:: -(-flat.numel() // self.sample)]
        gamma, _ = ppq(flat, self.bits, gamma=start, max_iter=iters, signed=self.signed)
        gamma = gamma.to(self.scale.dtype)
        if self.initialized:
            self.scale.mul_(self.momentum).add_((1.0 - self.momentum) * gamma)
        else:
            self.scale.copy_(gamma)
            self.initialized = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and not self.frozen:
            self.observe(x)
        if not self.enabled:
            return x
        if not self.initialized:
            raise RuntimeError("activation quantizer has no scale yet: run training (or "
                               "calibration) batches in train mode before evaluating")
        lo, hi = self.code_range
        return fake_quant(x, self.scale, lo, hi)

    @torch.no_grad()
    def set_scale(self, scale: float) -> None:
        """Fix the scale directly (post-training calibration); marks the quantizer initialized."""
        if self.signed is None:
            raise RuntimeError("set the signedness before the scale")
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale.fill_(float(scale))
        self.initialized = True

    def freeze(self) -> None:
        if not self.initialized:
            raise RuntimeError("cannot freeze an activation quantizer that has seen no data")
        self.frozen = True
        self.enabled = True

    def get_extra_state(self) -> dict:
        return {"signed": self.signed, "initialized": self.initialized, "frozen": self.frozen,
                "enabled": self.enabled}

    def set_extra_state(self, state: dict) -> None:
        self.signed = state["signed"]
        self.initialized, self.frozen = bool(state["initialized"]), bool(state["frozen"])
        self.enabled = bool(state.get("enabled", True))

    def extra_repr(self) -> str:
        return (f"bits={self.bits}, signed={self.signed}, momentum={self.momentum}, "
                f"scale={float(self.scale):.4g}, frozen={self.frozen}")


class _QuantMixin:
    """Shared plumbing: a weight quantizer, an optional input quantizer, and ``alpha``."""

    weight_quant: WeightQuantizer
    act_quant: ActQuantizer | None

    def _attach(self, wbits, abits, method, per_channel, every, act_signed, momentum):
        self.weight_quant = WeightQuantizer(wbits, per_channel=per_channel, every=every,
                                            method=method, channel_dim=0)
        self.act_quant = (None if abits is None
                          else ActQuantizer(abits, signed=act_signed, momentum=momentum))

    @property
    def alpha(self) -> float:
        return self.weight_quant.alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {value}")
        if self.weight_quant.frozen and value != 1.0:
            raise RuntimeError("a converted layer stays at alpha = 1")
        self.weight_quant.alpha = float(value)

    def quantized_weight(self) -> torch.Tensor:
        """The weight this layer's forward uses (blended, quantized or frozen)."""
        return self.weight_quant(self.weight)

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.act_quant is None else self.act_quant(x)


class QuantConv2d(_QuantMixin, nn.Conv2d):
    """``nn.Conv2d`` whose forward uses the quantizer's weight and (optionally) quantized input."""

    def __init__(self, *args, wbits: int = 8, abits: int | None = 8, method: str = "ab",
                 per_channel: bool = True, every: int = 1, act_signed: bool | None = False,
                 momentum: float = 0.99, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._attach(wbits, abits, method, per_channel, every, act_signed, momentum)

    @classmethod
    def from_float(cls, conv: nn.Conv2d, **qkw) -> QuantConv2d:
        """A quantized twin of ``conv`` that shares its ``weight`` and ``bias`` Parameters."""
        new = cls(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                  padding=conv.padding, dilation=conv.dilation, groups=conv.groups,
                  bias=conv.bias is not None, padding_mode=conv.padding_mode,
                  device=conv.weight.device, dtype=conv.weight.dtype, **qkw)
        new.weight = conv.weight
        new.bias = conv.bias
        new.train(conv.training)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(self._inputs(x), self.quantized_weight(), self.bias)


class QuantLinear(_QuantMixin, nn.Linear):
    """``nn.Linear`` whose forward uses the quantizer's weight and (optionally) quantized input."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 wbits: int = 8, abits: int | None = 8, method: str = "ab",
                 per_channel: bool = True, every: int = 1, act_signed: bool | None = False,
                 momentum: float = 0.99, device=None, dtype=None) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self._attach(wbits, abits, method, per_channel, every, act_signed, momentum)

    @classmethod
    def from_float(cls, lin: nn.Linear, **qkw) -> QuantLinear:
        """A quantized twin of ``lin`` that shares its ``weight`` and ``bias`` Parameters."""
        new = cls(lin.in_features, lin.out_features, bias=lin.bias is not None,
                  device=lin.weight.device, dtype=lin.weight.dtype, **qkw)
        new.weight = lin.weight
        new.bias = lin.bias
        new.train(lin.training)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self._inputs(x), self.quantized_weight(), self.bias)
