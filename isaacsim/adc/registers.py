"""Per-layer ADC config registers (the registers near the ADC and S+A of paper 000 sec. III-D).

`ADCRegisters` is frozen and holds only what the hardware needs: the mode, the physical
resolution R, and the active mode's registers (uniform: bits K and step D; trq: n_r1, n_r2, m,
delta_r1 = D1, bias). Inactive registers are normalised to their defaults so two register sets
that code alike compare equal. Validation reuses `ADCConfig`; every failure is a `ConfigError`
that names the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from isaacsim.config.models import ADCConfig
from isaacsim.errors import ConfigError

REGISTERS = {
    "ideal": ("mode", "resolution"),
    "uniform": ("mode", "resolution", "bits", "delta"),
    "trq": ("mode", "resolution", "n_r1", "n_r2", "m", "delta_r1", "bias"),
}
"""The registers each mode uses, in the order `to_dict` writes them."""

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
        uniform = cfg.mode == "uniform"
        trq = cfg.mode == "trq"
        d = _DEFAULTS
        return cls(
            mode=cfg.mode,
            resolution=cfg.resolution,
            bits=cfg.effective_bits if uniform else cfg.resolution,
            delta=float(cfg.effective_delta) if uniform else 1.0,
            n_r1=cfg.n_r1 if trq else d.n_r1,
            n_r2=cfg.n_r2 if trq else d.n_r2,
            m=cfg.m if trq else d.m,
            delta_r1=float(cfg.delta_r1) if trq else d.delta_r1,
            bias=cfg.bias if trq else d.bias,
        )

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
        """The active mode's registers, plain Python values; `from_dict` reads it back equal."""
        return {k: getattr(self, k) for k in REGISTERS[self.mode]}

    # ---- derived
    @property
    def step(self) -> float:
        """Base step of the S+A integer units in lossless LSBs: 1 (ideal), D (uniform), D1 (trq)."""
        return {"ideal": 1.0, "uniform": self.delta, "trq": self.delta_r1}[self.mode]

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
        if self.mode == "ideal":
            return self.resolution
        if self.mode == "uniform":
            return self.bits
        return (1 if self.bias == 0 else 2) + max(self.n_r1, self.n_r2)

    def kernel_args(self) -> tuple[int, int, int, int, int, int, float]:
        """(mode, resolution, n_r1, n_r2, m, bias, step) as the numba kernels take them."""
        from isaacsim.kernels.sar import IDEAL, TRQ, UNIFORM

        code = {"ideal": IDEAL, "uniform": UNIFORM, "trq": TRQ}[self.mode]
        if self.mode == "uniform":
            return code, self.resolution, 0, self.bits, 0, 0, float(self.delta)
        return code, self.resolution, self.n_r1, self.n_r2, self.m, self.bias, float(self.step)
