"""Architecture configuration: YAML -> frozen, validated `Arch` objects; presets; dotted overrides."""

from isaacsim.config.loader import PRESET_DIR, load_arch, parse_set, preset_names
from isaacsim.config.models import ADCConfig, Arch

__all__ = ["ADCConfig", "Arch", "PRESET_DIR", "load_arch", "parse_set", "preset_names"]
