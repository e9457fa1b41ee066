"""Quantization-aware training front-end: alpha-blending and PPQ, from "Learning low-precision
neural networks without Straight-Through Estimator (STE)" (the alpha-blending paper).

Importing this package imports torch; ``isaacsim`` itself never does.  The modules:
``ppq`` (Algorithm 2 and the max-abs scale), ``schedule`` (Eq. 6), ``quant`` (blended, STE and
PTQ weight quantizers, the EMA activation quantizer, quantized Conv2d/Linear) and ``api``
(prepare / step / hold_blended_weights / convert / fold_batchnorm), ``toy`` (the paper's Figure 3
problem in plain Python).
"""

from .api import (
    convert,
    fold_batchnorm,
    fold_conv_bn,
    hold_blended_weights,
    prepare,
    quant_layers,
    set_alpha,
    step,
)
from .ppq import code_range, maxabs, ppq
from .quant import (
    METHODS,
    ActQuantizer,
    QuantConv2d,
    QuantLinear,
    WeightQuantizer,
    blend,
    fake_quant,
    ste,
    ste_blend,
)
from .schedule import AlphaSchedule, alpha

__all__ = [
    "METHODS", "ActQuantizer", "AlphaSchedule", "QuantConv2d", "QuantLinear", "WeightQuantizer",
    "alpha", "blend", "code_range", "convert", "fake_quant", "fold_batchnorm", "fold_conv_bn",
    "hold_blended_weights", "maxabs", "ppq", "prepare", "quant_layers", "set_alpha", "ste", "ste_blend", "step",
]
