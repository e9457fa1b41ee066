"""ADC models (ideal, uniform SAR, Twin Range Quantization), their config and per-layer registers.

`convert(x, adc)` is the public contract: bit-line samples in, decoded values and A/D operation
counts out. It runs the kind's SAR trace (`isaacsim.kernels.sar`); each kind also has the closed
form the kernel is tested against. One module per kind (`ideal`, `uniform`, `trq`), each an
`ADCKind` (`base`), registered by name in `kinds`; `ADCConfig` (`config`) is the `adc:` section
of an architecture and `ADCRegisters` (`registers`) one layer's resolved registers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from isaacsim.adc.base import ADCKind
from isaacsim.adc.config import ADCConfig
from isaacsim.adc.kinds import KINDS, KindTable, kind, register, unregister
from isaacsim.adc.registers import ADCRegisters

CLOSED_FORMS: Mapping[str, Any] = KindTable("closed_form")
"""`CLOSED_FORMS[mode](x, regs)` -> (code, msb, units, ops) in closed form, for every registered kind."""

REGISTERS: Mapping[str, tuple[str, ...]] = KindTable("registers")
"""The registers each mode uses, in the order `ADCRegisters.to_dict` writes them."""


def trace(x, adc: ADCRegisters | ADCConfig | Mapping[str, Any]):
    """(code, msb, units, ops) int64 arrays shaped like x, traced by the SAR kernel.

    units are integer multiples of the base step `ADCRegisters.of(adc).step`.
    """
    regs = ADCRegisters.of(adc)
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub":
        raise ValueError(f"ADC samples must be integers, got dtype {arr.dtype}")
    flat = np.ascontiguousarray(arr, dtype=np.int64).ravel()
    out = regs.trace(flat)
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


__all__ = [
    "ADCConfig", "ADCKind", "ADCRegisters", "CLOSED_FORMS", "KINDS", "REGISTERS", "convert", "kind", "register",
    "trace", "unregister",
]
