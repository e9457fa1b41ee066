"""Twin Range Quantization (the TRQ paper, sec. III, Eqs. 7-8), registers n_r1, n_r2, m, D1, bias.

D2 = 2^m D1; theta = 2^n_r1 D1; lo = bias * D2; nu = 1 detection comparison (2 with a bias).
R1 (lo <= x < lo + theta): MSB 0, value lo + q(x - lo, D1, n_r1) * D1, nu + n_r1 operations.
R2 (otherwise): MSB 1, value q(x, D2, n_r2) * D2, nu + n_r2 operations.
Units are steps D1: an R1 code decodes to bias * 2^m + code, an R2 code to code << m.
Each ADC has a config register unit (`trq_config`) that a layer loads once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from isaacsim.adc.base import ADCKind
from isaacsim.adc.ideal import clip
from isaacsim.adc.uniform import quantize

if TYPE_CHECKING:
    from isaacsim.adc.config import ADCConfig
    from isaacsim.adc.registers import ADCRegisters


class TwinRangeADC(ADCKind):
    """`mode: trq`: registers n_r1, n_r2, m, delta_r1 (D1) and bias; counts R1 / R2 conversions."""

    name = "trq"
    registers = ("mode", "resolution", "n_r1", "n_r2", "m", "delta_r1", "bias")
    has_ranges = True
    config_registers_per_adc = 1
    calibrated = True

    def check(self, cfg: ADCConfig) -> None:
        r = cfg.resolution
        if cfg.n_r2 + cfg.m > r:
            raise ValueError(
                f"adc.n_r2 + adc.m = {cfg.n_r2} + {cfg.m} = {cfg.n_r2 + cfg.m} exceeds adc.resolution={r}; "
                f"m is allowed 0..{r - cfg.n_r2} (Twin Range Quantization paper, sec. III-D)"
            )
        if cfg.n_r1 > r:
            raise ValueError(f"adc.n_r1={cfg.n_r1} exceeds adc.resolution={r}; allowed 0..{r}")

    def step(self, regs: ADCRegisters) -> float:
        return regs.delta_r1

    def max_ops(self, regs: ADCRegisters) -> int:
        """R + 2 at most: detection (1 comparison, 2 with a bias) and the longer range's search."""
        return (1 if regs.bias == 0 else 2) + max(regs.n_r1, regs.n_r2)

    def kernel_args(self, regs: ADCRegisters) -> tuple[int, int, int, int, int, int, float]:
        from isaacsim.kernels.sar import TRQ

        return TRQ, regs.resolution, regs.n_r1, regs.n_r2, regs.m, regs.bias, float(regs.delta_r1)

    def closed_form(self, x: np.ndarray, regs: ADCRegisters):
        """(code, msb, units, ops) in closed form."""
        xc = clip(x, regs)
        d1 = regs.delta_r1
        lo = regs.bias * 2**regs.m * d1
        in_r1 = (xc >= lo) & (xc < lo + 2**regs.n_r1 * d1)
        nu = 1 if regs.bias == 0 else 2
        c1 = quantize(xc - lo, d1, regs.n_r1)
        c2 = quantize(xc, regs.delta_r2, regs.n_r2)
        code = np.where(in_r1, c1, c2)
        units = np.where(in_r1, regs.bias * 2**regs.m + c1, c2 << regs.m)
        ops = np.where(in_r1, nu + regs.n_r1, nu + regs.n_r2)
        return code, (~in_r1).astype(np.int64), units, ops.astype(np.int64)

    def label(self, regs: ADCRegisters) -> str:
        return f"TRQ ({regs.resolution}b SAR)"

    def describe(self, regs: ADCRegisters) -> str:
        bias = f" b={regs.bias}" if regs.bias else ""
        d1 = f" D1={regs.delta_r1:g}" if regs.delta_r1 != 1 else ""
        return f"trq n_r1={regs.n_r1} n_r2={regs.n_r2} m={regs.m}{d1}{bias}"


KIND = TwinRangeADC()
