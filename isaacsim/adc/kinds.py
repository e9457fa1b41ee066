"""The ADC kinds by name: the one place a kind is registered, and `kind(name)` to look one up.

A new ADC coding is one module with an `ADCKind` subclass (`isaacsim.adc.base`) plus one entry
in `KINDS` below; `register` adds one at run time (a plug-in, or a test).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from isaacsim.adc import ideal, trq, uniform
from isaacsim.adc.base import ADCKind
from isaacsim.errors import ConfigError

KINDS: dict[str, ADCKind] = {k.name: k for k in (ideal.KIND, uniform.KIND, trq.KIND)}
"""Every registered ADC kind by its `adc.mode` name; the shipped ones first."""

SHIPPED = tuple(KINDS)
"""The kinds shipped with isaacsim (the JSON Schema's enum of `adc.mode`)."""


def names_text(quote: bool = True) -> str:
    """The registered names as a list in words: `'ideal', 'uniform' or 'trq'` (unquoted: `ideal, uniform or trq`)."""
    names = [repr(n) if quote else n for n in KINDS]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def kind(name: str) -> ADCKind:
    """The kind registered as `name`; a ConfigError listing the valid names otherwise."""
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"adc.mode: unknown ADC kind {name!r}; valid kinds: {', '.join(KINDS)}") from None


def register(k: ADCKind) -> ADCKind:
    """Add an ADC kind under `k.name` (a ValueError if the name is taken); returns it."""
    if k.name in KINDS:
        raise ValueError(f"an ADC kind named {k.name!r} is already registered")
    KINDS[k.name] = k
    return k


def unregister(name: str) -> None:
    """Remove a kind added by `register`; the shipped kinds stay."""
    if name in SHIPPED:
        raise ValueError(f"the shipped ADC kind {name!r} cannot be unregistered")
    KINDS.pop(name, None)


class KindTable(Mapping):
    """One attribute of every registered kind by name, e.g. `KindTable("registers")["trq"]`; live."""

    def __init__(self, attr: str) -> None:
        self.attr = attr

    def __getitem__(self, name: str) -> Any:
        return getattr(KINDS[name], self.attr)

    def __iter__(self) -> Iterator[str]:
        return iter(KINDS)

    def __len__(self) -> int:
        return len(KINDS)
