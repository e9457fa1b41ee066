"""Ideal ADC: every sample (clipped to 0..2^R-1) converts exactly, in R operations."""

import numpy as np

from isaacsim.adc.registers import ADCRegisters


def clip(x: np.ndarray, regs: ADCRegisters) -> np.ndarray:
    """Samples as the ADC sees them: int64, clipped to 0..2^R-1."""
    return np.clip(np.asarray(x, dtype=np.int64), 0, 2**regs.resolution - 1)


def closed_form(x: np.ndarray, regs: ADCRegisters):
    """(code, msb, units, ops) in closed form; units are lossless LSBs."""
    xc = clip(x, regs)
    zeros = np.zeros_like(xc)
    return xc, zeros, xc, np.full_like(xc, regs.resolution)
