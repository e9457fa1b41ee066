"""The ADC kind interface: everything the simulator asks of one ADC coding, in one place.

An ADC kind (ideal, uniform SAR, Twin Range Quantization, ...) is one module with one
`ADCKind` subclass, registered by name in `isaacsim.adc.kinds`; `adc.mode` in a config or a
register file picks it. Nothing outside `isaacsim.adc` branches on the mode: it asks the kind
(through `ADCRegisters` or `ADCConfig.kind`) for what it needs.

The methods take the layer's `ADCRegisters` (`regs`), or the validated `ADCConfig` (`cfg`)
where they run while the config is built. A kind reuses the registers `ADCConfig` defines.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from isaacsim.adc.config import ADCConfig
    from isaacsim.adc.registers import ADCRegisters


class ADCKind(ABC):
    """One ADC coding: conversion, operation counts, kernel arguments, energy and register rules."""

    name: ClassVar[str]
    """The `adc.mode` value that selects this kind."""

    registers: ClassVar[tuple[str, ...]]
    """The registers this kind uses, `mode` and `resolution` first, in the order `to_dict` writes them."""

    has_ranges: ClassVar[bool] = False
    """True when a conversion lands in range R1 or R2 (MSB 0 or 1) and the run counts both."""

    config_registers_per_adc: ClassVar[int] = 0
    """Per-ADC config register units (component `trq_config`) written once per layer."""

    calibrated: ClassVar[bool] = False
    """True when `isaacsim calibrate` chooses this kind's registers per layer (a sweep's
    `run.calibrate` then calibrates the points of this kind before running them)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # ---- registers
    def check(self, cfg: ADCConfig) -> None:
        """Rules across registers; a ValueError naming the keys when one fails (none by default)."""
        return None

    def normalise(self, cfg: ADCConfig) -> dict[str, Any]:
        """The resolved values of the registers this kind uses beyond mode and resolution."""
        return {k: getattr(cfg, k) for k in self.registers[2:]}

    def coarse_note(self, cfg: ADCConfig) -> str | None:
        """Why a full-resolution register set is still coarser than lossless (a ConfigWarning), or None."""
        return None

    # ---- conversion
    @abstractmethod
    def step(self, regs: ADCRegisters) -> float:
        """Base step of the S+A integer units in lossless LSBs."""

    @abstractmethod
    def max_ops(self, regs: ADCRegisters) -> int:
        """Most A/D operations one conversion can take."""

    @abstractmethod
    def kernel_args(self, regs: ADCRegisters) -> tuple[int, int, int, int, int, int, float]:
        """(mode code, resolution, n_r1, n_r2, m, bias, step) as `isaacsim.kernels.sar` takes them."""

    @abstractmethod
    def closed_form(self, x: np.ndarray, regs: ADCRegisters) -> tuple[np.ndarray, ...]:
        """(code, msb, units, ops) int64 arrays in closed form; the SAR trace must equal it.

        msb is 1 for a conversion in range R2, and always 0 for a kind without `has_ranges`.
        """

    def trace(self, samples: np.ndarray, regs: ADCRegisters) -> tuple[np.ndarray, ...]:
        """(code, msb, units, ops) of a flat int64 array of samples, traced by the SAR kernel."""
        from isaacsim.kernels.sar import sar_convert_array

        return sar_convert_array(samples, *self.kernel_args(regs))

    # ---- presentation
    @abstractmethod
    def label(self, regs: ADCRegisters) -> str:
        """Short name for figure legends, e.g. `uniform 5b`."""

    @abstractmethod
    def describe(self, regs: ADCRegisters) -> str:
        """The register values in one line, for the run report's ADC column."""
