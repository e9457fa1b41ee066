"""Per-layer ADC config registers (the registers near the ADC and S+A, TRQ paper sec. III-D).

`ADCRegisters` is frozen and holds only what the hardware needs: the mode, the physical
resolution R, and the active kind's registers (uniform: bits K and step D; trq: n_r1, n_r2, m,
delta_r1 = D1, bias). Inactive registers are normalised to their defaults so two register sets
that code alike compare equal. Validation reuses `ADCConfig`; every failure is a `ConfigError`
that names the key. What depends on the mode is asked of the kind (`ADCRegisters.kind`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from isaacsim.adc import kinds
from isaacsim.adc.base import ADCKind
from isaacsim.adc.config import ADCConfig
from isaacsim.errors import ConfigError

_DEFAULTS = ADCConfig()


@dataclass(frozen=True)
class ADCRegisters:
    """One layer's ADC configuration; build it with `of`, `from_dict` or `from_config`."""

    mode: str
    resolution: int
    bits: int
    delta: float
    n_r1: int
    n_r2: int
    m: int
    delta_r1: float
    bias: int

    # ---- construction
    @classmethod
    def of(cls, adc: ADCRegisters | ADCConfig | Mapping[str, Any]) -> ADCRegisters:
        """Registers from registers, an `ADCConfig`, or a dict of ADC keys."""
        if isinstance(adc, ADCRegisters):
            return adc
        if isinstance(adc, ADCConfig):
            return cls.from_config(adc)
        if isinstance(adc, Mapping):
            return cls.from_dict(adc)
        raise ConfigError(f"adc: expected a dict, ADCConfig or ADCRegisters, got {type(adc).__name__}")

    @classmethod
    def from_config(cls, cfg: ADCConfig) -> ADCRegisters:
        """The kind's resolved registers; the others at their defaults (bits R, step D 1)."""
        d = _DEFAULTS
        inactive = {"bits": cfg.resolution, "delta": 1.0, "n_r1": d.n_r1, "n_r2": d.n_r2, "m": d.m,
                    "delta_r1": d.delta_r1, "bias": d.bias}
        return cls(mode=cfg.mode, resolution=cfg.resolution, **{**inactive, **cfg.kind.normalise(cfg)})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ADCRegisters:
        """Registers from a dict of `ADCConfig` keys (as in a YAML register file)."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"adc: expected a mapping of registers, got {type(data).__name__}")
        valid = sorted(ADCConfig.model_fields)
        for key in data:
            if key not in ADCConfig.model_fields:
                raise ConfigError(f"adc.{key}: unknown ADC key; valid keys: {', '.join(valid)}")
        try:
            cfg = ADCConfig.model_validate(dict(data))
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            raise ConfigError(f"adc.{where}: {msg}" if where else f"adc: {msg}") from None
        return cls.from_config(cfg)

    def to_dict(self) -> dict[str, Any]:
        """The active kind's registers, plain Python values; `from_dict` reads it back equal."""
        return {k: getattr(self, k) for k in self.kind.registers}

    # ---- what the kind says
    @property
    def kind(self) -> ADCKind:
        """The ADC kind `mode` names (`isaacsim.adc.kinds`)."""
        return kinds.kind(self.mode)

    @property
    def step(self) -> float:
        """Base step of the S+A integer units in lossless LSBs: 1 (ideal), D (uniform), D1 (trq)."""
        return self.kind.step(self)

    @property
    def integral_step(self) -> bool:
        """True when the base step is a whole number, so decoded values are integers."""
        return float(self.step).is_integer()

    @property
    def delta_r2(self) -> float:
        return (2**self.m) * self.delta_r1

    @property
    def max_ops(self) -> int:
        """Most A/D operations one conversion can take (R + 2 for TRQ with a bias)."""
        return self.kind.max_ops(self)

    @property
    def has_ranges(self) -> bool:
        """True when conversions fall in range R1 or R2 and runs count both (TRQ)."""
        return self.kind.has_ranges

    def kernel_args(self) -> tuple[int, int, int, int, int, int, float]:
        """(mode, resolution, n_r1, n_r2, m, bias, step) as the numba kernels take them."""
        return self.kind.kernel_args(self)

    def closed_form(self, x) -> tuple[np.ndarray, ...]:
        """(code, msb, units, ops) int64 arrays of samples x in closed form."""
        return self.kind.closed_form(x, self)

    def trace(self, samples: np.ndarray) -> tuple[np.ndarray, ...]:
        """(code, msb, units, ops) of a flat int64 array of samples, as the SAR traces them."""
        return self.kind.trace(samples, self)

    def label(self) -> str:
        """Short name for figure legends (`uniform 5b`, `TRQ (8b SAR)`, `ideal 8b`)."""
        return self.kind.label(self)

    def describe(self) -> str:
        """The register values in one line, for the run report's ADC column."""
        return self.kind.describe(self)
