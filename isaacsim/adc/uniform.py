"""Uniform SAR ADC: K bits with step D, round half up: q(x, D, K) = clamp(floor(x/D + 1/2), 0, 2^K - 1)."""

import numpy as np

from isaacsim.adc.ideal import clip
from isaacsim.adc.registers import ADCRegisters


def quantize(xr: np.ndarray, step: float, nbits: int) -> np.ndarray:
    """q(xr, step, nbits) as int64: the largest k <= 2^nbits - 1 with xr >= (k - 1/2) * step, else 0.

    The closed form floor(xr/step + 1/2) is corrected by one step where floating-point division
    and the comparator's threshold product disagree, so it matches the comparator exactly.
    """
    xr = np.asarray(xr, dtype=np.float64)
    top = 2**nbits - 1
    k = np.clip(np.floor(xr / step + 0.5), 0, top).astype(np.int64)
    k = np.where((k > 0) & (xr < (k - 0.5) * step), k - 1, k)
    k = np.where((k < top) & (xr >= (k + 0.5) * step), k + 1, k)
    return k


def closed_form(x: np.ndarray, regs: ADCRegisters):
    """(code, msb, units, ops); units are steps D, the value in LSBs is units * D."""
    code = quantize(clip(x, regs), regs.delta, regs.bits)
    return code, np.zeros_like(code), code, np.full_like(code, regs.bits)
