"""JSON Schema of the architecture config, generated from the pydantic models (`isaacsim schema`)."""

from __future__ import annotations

from isaacsim.config.models import Arch


def arch_json_schema() -> dict:
    schema = Arch.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "isaacsim architecture"
    props = schema.setdefault("properties", {})
    props["extends"] = {"type": "string",
                        "description": "Preset name or path this file builds on; its keys override the parent's."}
    # Presets may also write dotted keys at the top level (`adc.mode: trq`).
    dotted = r"^[A-Za-z_]+(\.[A-Za-z_0-9]+)+$"
    schema["patternProperties"] = {dotted: {"description": "Dotted override of a nested key."}}
    return schema
