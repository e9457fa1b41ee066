"""`ADCConfig`: the `adc:` section of an architecture config, validated against the registered ADC kinds.

`mode` names a kind (`isaacsim.adc.kinds`); the kind checks its registers against each other.
It lives with the ADC models, below `isaacsim.config`, which re-exports it as part of `Arch`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidatorFunctionWrapHandler, field_validator, model_validator
from pydantic_core import PydanticCustomError

from isaacsim.adc import kinds
from isaacsim.adc.base import ADCKind
from isaacsim.nodes import Node

ModeName = Literal[kinds.SHIPPED]  # type: ignore[valid-type]
"""The shipped kinds: the `adc.mode` enum of the JSON Schema and docs/config.md."""


class ADCConfig(Node):
    """The SAR ADC and its config registers; `mode` picks the coding (ideal, uniform or TRQ).

    All registers are present whatever the mode, so a sweep can switch modes without editing
    the others; only the active mode's registers are checked against each other.
    """

    mode: ModeName = Field("uniform", description="ADC coding: ideal, uniform SAR or Twin Range Quantization.")
    resolution: int = Field(
        8, ge=1, le=16, description="Physical SAR resolution R in bits (the comparator DAC's levels)."
    )
    bits: int | None = Field(None, ge=1, le=16, description="uniform: bits K kept per conversion; null means R.")
    delta: float | None = Field(None, gt=0, le=1e6, description="uniform: step D in lossless LSBs; null means 2^(R-K).")
    n_r1: int = Field(4, ge=0, le=16, description="trq: bits of the dense range R1 (N_R1).")
    n_r2: int = Field(4, ge=1, le=16, description="trq: bits of the wide range R2 (N_R2).")
    m: int = Field(4, ge=0, le=16, description="trq: non-uniformity; D2 = 2^m * D1 (the TRQ paper's Eq. 8).")
    delta_r1: float = Field(1.0, gt=0, le=1e6, description="trq: step D1 of R1 in lossless LSBs.")
    bias: int = Field(0, ge=0, le=65_535, description="trq: offset of R1 in units of D2; R1 starts at bias*D2.")
    sample_rate_msps: float = Field(
        1280.0, gt=0, le=1e6, description="Conversions per microsecond at full resolution (ISAAC: 1.28 GS/s = 1280)."
    )
    ops_per_cycle: float | None = Field(
        None, gt=0, le=1e6,
        description="A/D operations one ADC performs per system cycle; null means sample_rate * R / clock.",
    )
    offset_lsb: float = Field(
        0.0, ge=-1e3, le=1e3,
        description="Comparator offset in lossless LSBs, added to every bit-line sample before the SAR decides "
                    "(fixed; 0 is ideal). No sourced typical value (CrossSim's SAR model defaults its comparator "
                    "offset to 0); below one LSB is an assumption for a calibrated comparator. Non-ideal datapath: "
                    "docs/nonideal.md.",
    )
    noise_lsb: float = Field(
        0.0, ge=0, le=1e3,
        description="Comparator input-referred noise in lossless LSBs: the sigma of a Gaussian drawn once per "
                    "conversion (0 is ideal). Typical: at most about 1.3, aihwkit's default analog output noise "
                    "(0.06 against a 9-bit ADC step of 24/510), which covers the whole summation, not the comparator "
                    "alone. Non-ideal datapath: docs/nonideal.md.",
    )
    thresholds: Literal["grid", "nominal"] = Field(
        "grid",
        description="Where the SAR's thresholds sit for real-valued samples (non-ideal datapath only; integer "
                    "samples decide the same either way). grid: on the reference levels of the R-bit "
                    "converter, half-way between integer samples (a nominal threshold t moves to ceil(t) - 1/2, "
                    "so one on an integer moves half an LSB down, as the exact path rounds ties up); nominal: at "
                    "(k - 1/2) D itself, TRQ's range detection at lo and lo + 2^n_r1 D1. docs/nonideal.md.",
    )
    early_termination: bool = Field(
        True,
        description="A TRQ conversion that ends early frees the ADC (latency and energy fall); false: energy only.",
    )

    @field_validator("mode", mode="wrap")
    @classmethod
    def _registered_kind(cls, v: Any, handler: ValidatorFunctionWrapHandler) -> str:
        """Any registered kind, also one registered after import (the annotation lists the shipped ones)."""
        if isinstance(v, str) and v in kinds.KINDS:
            return v
        raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": kinds.names_text()})

    @property
    def kind(self) -> ADCKind:
        """The ADC kind `mode` names."""
        return kinds.kind(self.mode)

    @property
    def effective_bits(self) -> int:
        """Uniform bits K (R when unset)."""
        return self.resolution if self.bits is None else self.bits

    @property
    def effective_delta(self) -> float:
        """Uniform step D in lossless LSBs (2^(R-K) when unset)."""
        return float(2 ** (self.resolution - self.effective_bits)) if self.delta is None else self.delta

    @property
    def delta_r2(self) -> float:
        """TRQ step of R2: D2 = 2^m * D1."""
        return (2**self.m) * self.delta_r1

    @property
    def coarse_note(self) -> str | None:
        """Why these registers are coarser than lossless at full resolution (for a ConfigWarning), or None."""
        return self.kind.coarse_note(self)

    @model_validator(mode="after")
    def _check_registers(self) -> ADCConfig:
        self.kind.check(self)
        return self
