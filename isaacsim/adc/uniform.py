"""Uniform SAR ADC: K bits with step D, round half up: q(x, D, K) = clamp(floor(x/D + 1/2), 0, 2^K - 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from isaacsim.adc.base import ADCKind
from isaacsim.adc.ideal import clip

if TYPE_CHECKING:
    from isaacsim.adc.config import ADCConfig
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


class UniformADC(ADCKind):
    """`mode: uniform`: registers bits K (default R) and step D (default 2^(R-K))."""

    name = "uniform"
    registers = ("mode", "resolution", "bits", "delta")

    def check(self, cfg: ADCConfig) -> None:
        r = cfg.resolution
        if cfg.bits is not None and cfg.bits > r:
            raise ValueError(f"adc.bits={cfg.bits} exceeds adc.resolution={r}; allowed 1..{r}")

    def normalise(self, cfg: ADCConfig) -> dict[str, Any]:
        return {"bits": cfg.effective_bits, "delta": float(cfg.effective_delta)}

    def coarse_note(self, cfg: ADCConfig) -> str | None:
        if cfg.effective_delta <= 1:
            return None
        return f"uniform ADC with {cfg.effective_bits} bits (step {cfg.effective_delta:g}) is coarser than lossless"

    def step(self, regs: ADCRegisters) -> float:
        return regs.delta

    def max_ops(self, regs: ADCRegisters) -> int:
        return regs.bits

    def kernel_args(self, regs: ADCRegisters) -> tuple[int, int, int, int, int, int, float]:
        """The kernel's UNIFORM search takes the kept bits K as n_r2 and the step D."""
        from isaacsim.kernels.sar import UNIFORM

        return UNIFORM, regs.resolution, 0, regs.bits, 0, 0, float(regs.delta)

    def closed_form(self, x: np.ndarray, regs: ADCRegisters):
        """(code, msb, units, ops); units are steps D, the value in LSBs is units * D."""
        code = quantize(clip(x, regs), regs.delta, regs.bits)
        return code, np.zeros_like(code), code, np.full_like(code, regs.bits)

    def label(self, regs: ADCRegisters) -> str:
        return f"uniform {regs.bits}b"

    def describe(self, regs: ADCRegisters) -> str:
        return f"uniform {regs.bits}b step {regs.delta:g}"


KIND = UniformADC()
