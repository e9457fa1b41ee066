"""ADC models (ideal, uniform SAR, Twin Range Quantization) and their per-layer config registers.

`convert(x, adc)` is the public contract: bit-line samples in, decoded values and A/D operation
counts out. It runs the traced SAR kernel (`isaacsim.kernels.sar`); the per-mode modules hold
the closed forms the kernel is tested against.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from isaacsim.adc import ideal, trq, uniform
from isaacsim.adc.registers import REGISTERS, ADCRegisters
from isaacsim.config.models import ADCConfig

CLOSED_FORMS = {"ideal": ideal.closed_form, "uniform": uniform.closed_form, "trq": trq.closed_form}


def trace(x, adc: ADCRegisters | ADCConfig | Mapping[str, Any]):
    """(code, msb, units, ops) int64 arrays shaped like x, traced by the SAR kernel.

    units are integer multiples of the base step `ADCRegisters.of(adc).step`.
    """
    from isaacsim.kernels.sar import sar_convert_array

    regs = ADCRegisters.of(adc)
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub":
        raise ValueError(f"ADC samples must be integers, got dtype {arr.dtype}")
    flat = np.ascontiguousarray(arr, dtype=np.int64).ravel()
    out = sar_convert_array(flat, *regs.kernel_args())
    return tuple(o.reshape(arr.shape) for o in out)


def convert(x, adc: ADCRegisters | ADCConfig | Mapping[str, Any]):
    """Convert integer bit-line samples x (any shape) -> (values, ops).

    values are in lossless-LSB units: int64 when the base step is a whole number, float64
    otherwise (a non-integral D or D1); ops is the int64 number of A/D operations per sample,
    TRQ range detection included.
    """
    regs = ADCRegisters.of(adc)
    _, _, units, ops = trace(x, regs)
    if regs.integral_step:
        return units * int(regs.step), ops
    return units * regs.step, ops


__all__ = ["ADCRegisters", "CLOSED_FORMS", "REGISTERS", "convert", "trace"]
