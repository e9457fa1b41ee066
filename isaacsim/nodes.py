"""The base of every validated config node (`Node`): frozen, unknown keys rejected, no booleans as numbers.

A base-layer module so that both the architecture config (`isaacsim.config`) and the ADC
config (`isaacsim.adc`, which sits below it) build on the same rules.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class Node(BaseModel):
    """Base of every config node: frozen, and an unknown key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, v: Any, info: ValidationInfo) -> Any:
        """YAML `yes`/`true` must not pass as the number 1 (pydantic's lax mode would allow it)."""
        if isinstance(v, bool) and info.field_name is not None:
            ann = cls.model_fields[info.field_name].annotation
            kinds = set(get_args(ann)) or {ann}
            if bool not in kinds and kinds & {int, float}:
                raise ValueError(f"expected a number, got the boolean {str(v).lower()}")
        return v
