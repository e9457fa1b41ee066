"""The PyTorch-style entry points: prepare, step, convert, and batch-norm folding.

This module owns the model-level workflow of the alpha-blending paper's quantization-aware training:
:func:`prepare` swaps every ``nn.Conv2d``/``nn.Linear`` of a float model for
:class:`~isaacsim.train.quant.QuantConv2d`/:class:`~isaacsim.train.quant.QuantLinear`
**in place** (the same model object is returned, and the new layers share the old weight and
bias Parameters, so an optimizer built before or after ``prepare`` trains the same tensors);
:func:`step` sets every layer's alpha from Eq. 6 for a global step (call it each batch, or each
epoch for a per-epoch window); :func:`hold_blended_weights` keeps the optimizer off the AB weights
whose alpha is 1 (Algorithm 1's step is zero there); :func:`convert` sets alpha to 1 and freezes each layer's
quantized weight and activation scale; :func:`fold_batchnorm` folds eval-mode ``BatchNorm2d``
statistics into the preceding convolution (run it on the float model before ``prepare``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import nn

from .quant import QuantConv2d, QuantLinear
from .schedule import alpha as eq6_alpha

__all__ = ["convert", "fold_batchnorm", "fold_conv_bn", "hold_blended_weights", "prepare",
           "quant_layers", "set_alpha", "step"]


def quant_layers(model: nn.Module) -> Iterator[tuple[str, QuantConv2d | QuantLinear]]:
    """``(name, layer)`` for every quantized layer of ``model``, in module order."""
    for name, mod in model.named_modules():
        if isinstance(mod, QuantConv2d | QuantLinear):
            yield name, mod


def prepare(model: nn.Module, wbits: int = 8, abits: int | None = 8, method: str = "ab",
            per_channel: bool = True, every: int = 1, t0: float = 0, t1: float = 1000,
            act_signed: bool | None = None, momentum: float = 0.99,
            skip: Iterable[str] = ()) -> nn.Module:
    """Swap Conv2d/Linear layers for quantized ones, in place; returns ``model``.

    ``abits=None`` leaves activations float.  ``act_signed=None`` lets each input quantizer
    pick signed codes if its first batch has negative values (post-ReLU inputs stay unsigned).
    ``t0``/``t1`` are the Eq. 6 window that :func:`step` uses (stored on the model as
    ``model.ab_window``).  Modules whose qualified names are in ``skip`` stay float.
    """
    skip = set(skip)
    qkw = dict(wbits=wbits, abits=abits, method=method, per_channel=per_channel, every=every,
               act_signed=act_signed, momentum=momentum)
    eq6_alpha(0, t0, t1)  # validates the window
    for parent_name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            full = f"{parent_name}.{child_name}" if parent_name else child_name
            if full in skip or isinstance(child, QuantConv2d | QuantLinear):
                continue
            if type(child) is nn.Conv2d:
                setattr(parent, child_name, QuantConv2d.from_float(child, **qkw))
            elif type(child) is nn.Linear:
                setattr(parent, child_name, QuantLinear.from_float(child, **qkw))
    model.ab_window = (t0, t1)
    return model


def set_alpha(model: nn.Module, value: float) -> None:
    """Set alpha on every non-frozen AB or STE layer (PTQ layers ignore alpha)."""
    for _, layer in quant_layers(model):
        if not layer.weight_quant.frozen and layer.weight_quant.method in ("ab", "ste"):
            layer.alpha = value


def step(model: nn.Module, global_step: float, t0: float | None = None,
         t1: float | None = None, every: int = 1) -> float:
    """Set every layer's alpha to Eq. 6 at ``global_step``; returns that alpha.

    The window defaults to the one given to :func:`prepare`.  ``every = f`` is Algorithm 1's
    frequency: alpha is raised only on steps that are multiples of ``f``, so between them it
    holds ``A(f * floor(step / f))``.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    global_step = every * (global_step // every)
    w0, w1 = getattr(model, "ab_window", (None, None))
    t0 = w0 if t0 is None else t0
    t1 = w1 if t1 is None else t1
    if t0 is None or t1 is None:
        raise ValueError("no alpha window: pass t0 and t1, or prepare() the model first")
    a = eq6_alpha(global_step, t0, t1)
    set_alpha(model, a)
    return a


def hold_blended_weights(model: nn.Module) -> int:
    """Call between ``loss.backward()`` and ``opt.step()``: drops the gradient of every AB layer's
    weight whose alpha has reached 1 (after T1), so the optimizer skips that weight entirely: no
    step, no momentum carried on, no weight decay. Algorithm 1's step ``lr (1 - alpha) dL/dw'`` is
    zero there, and this keeps it zero under any torch optimizer. Returns how many were held."""
    held = 0
    for _, layer in quant_layers(model):
        wq = layer.weight_quant
        if wq.method == "ab" and wq.alpha >= 1.0 and layer.weight.grad is not None:
            layer.weight.grad = None
            held += 1
    return held


@torch.no_grad()
def convert(model: nn.Module) -> nn.Module:
    """Freeze every quantized layer (alpha = 1, ``wq`` and activation scales fixed); in place.

    Each layer keeps the ``wq`` its last training forward used (computed now if it has none),
    so the converted model computes what training converged to even if the optimizer moved
    the float weights afterwards (momentum, weight decay).
    """
    for _, layer in quant_layers(model):
        layer.weight_quant.freeze(layer.weight)
        if layer.act_quant is not None:
            layer.act_quant.freeze()
    return model


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold ``bn``'s running statistics and affine parameters into ``conv``, in place.

    ``w' = w * g / sqrt(var + eps)`` per output channel and
    ``b' = (b - mean) * g / sqrt(var + eps) + beta``; ``conv`` gains a bias if it had none.
    """
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("batch norm without running statistics cannot be folded")
    if isinstance(conv, QuantConv2d):
        conv.weight_quant.invalidate()  # raises if frozen
    w = conv.weight
    inv = torch.rsqrt(bn.running_var.to(w.dtype) + bn.eps)
    g = inv if bn.weight is None else bn.weight.to(w.dtype) * inv
    beta = torch.zeros_like(g) if bn.bias is None else bn.bias.to(w.dtype)
    b = torch.zeros_like(g) if conv.bias is None else conv.bias
    new_b = (b - bn.running_mean.to(w.dtype)) * g + beta
    w.mul_(g.reshape(-1, *([1] * (w.dim() - 1))))
    if conv.bias is None:
        conv.bias = nn.Parameter(new_b)
    else:
        conv.bias.copy_(new_b)


def fold_batchnorm(model: nn.Module,
                   pairs: Iterable[tuple[str, str]] | None = None) -> nn.Module:
    """Fold Conv2d + BatchNorm2d pairs and replace each folded BN by ``nn.Identity``; in place.

    Without ``pairs``, folds every ``BatchNorm2d`` that directly follows a ``Conv2d`` inside an
    ``nn.Sequential`` (the only container whose order is its data flow); pass
    ``pairs=[("conv1", "bn1"), ...]`` (qualified names) for other models.  Uses running
    statistics, so the folded model equals the original in eval mode.
    """
    modules = dict(model.named_modules())
    todo: list[tuple[str, str]] = []
    if pairs is not None:
        todo = list(pairs)
    else:
        for name, mod in modules.items():
            if not isinstance(mod, nn.Sequential):
                continue
            kids = list(mod.named_children())
            for (n1, m1), (n2, m2) in zip(kids, kids[1:], strict=False):
                if isinstance(m1, nn.Conv2d) and isinstance(m2, nn.BatchNorm2d):
                    pre = f"{name}." if name else ""
                    todo.append((pre + n1, pre + n2))
    for conv_name, bn_name in todo:
        conv, bn = modules[conv_name], modules[bn_name]
        if not isinstance(conv, nn.Conv2d) or not isinstance(bn, nn.BatchNorm2d):
            raise TypeError(f"{conv_name!r}/{bn_name!r} are not a Conv2d/BatchNorm2d pair")
        if bn.num_features != conv.out_channels:
            raise ValueError(f"{bn_name!r} has {bn.num_features} features, "
                             f"{conv_name!r} {conv.out_channels} outputs")
        fold_conv_bn(conv, bn)
        parent_name, _, attr = bn_name.rpartition(".")
        parent = modules[parent_name] if parent_name else model
        setattr(parent, attr, nn.Identity())
    return model


