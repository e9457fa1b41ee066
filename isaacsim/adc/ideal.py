"""Ideal ADC: every sample (clipped to 0..2^R-1) converts exactly, in R operations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from isaacsim.adc.base import ADCKind

if TYPE_CHECKING:
    from isaacsim.adc.registers import ADCRegisters


def clip(x: np.ndarray, regs: ADCRegisters) -> np.ndarray:
    """Samples as the ADC sees them: int64, clipped to 0..2^R-1."""
    return np.clip(np.asarray(x, dtype=np.int64), 0, 2**regs.resolution - 1)


class IdealADC(ADCKind):
    """`mode: ideal`: the lossless reference; registers: resolution R."""

    name = "ideal"
    registers = ("mode", "resolution")

    def step(self, regs: ADCRegisters) -> float:
        return 1.0

    def max_ops(self, regs: ADCRegisters) -> int:
        return regs.resolution

    def kernel_args(self, regs: ADCRegisters) -> tuple[int, int, int, int, int, int, float]:
        from isaacsim.kernels.sar import IDEAL

        return IDEAL, regs.resolution, regs.n_r1, regs.n_r2, regs.m, regs.bias, 1.0

    def closed_form(self, x: np.ndarray, regs: ADCRegisters):
        """(code, msb, units, ops) in closed form; units are lossless LSBs."""
        xc = clip(x, regs)
        zeros = np.zeros_like(xc)
        return xc, zeros, xc, np.full_like(xc, regs.resolution)

    def label(self, regs: ADCRegisters) -> str:
        return f"ideal {regs.resolution}b"

    def describe(self, regs: ADCRegisters) -> str:
        return f"ideal {regs.resolution}b"


KIND = IdealADC()
