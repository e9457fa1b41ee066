"""Per-layer register files: `{format_version: 1, layers: {LAYER: {mode: trq, ...}}, meta: {...}}`.

The file a calibration writes and `isaacsim run --registers FILE` reads (docs/running.md). YAML
or JSON (by suffix); read with `isaacsim.files.load_yaml` (safe) / `json.loads` only, and a key
written twice is refused in both. Each layer entry is a complete register set: `mode` is
required and keys left out take the `ADCConfig` defaults, not the architecture's. `meta` is an
optional free mapping (who wrote the file, for what) that the loader ignores, except that a run
warns when its `noise` (the non-ideality settings `isaacsim calibrate` calibrated under,
docs/nonideal.md) differs from the run's own. Every problem is
one `ConfigError` naming the file, and the layer and key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from isaacsim.adc.kinds import names_text
from isaacsim.adc.registers import ADCRegisters
from isaacsim.errors import ConfigError
from isaacsim.files import read_text_file, read_yaml_mapping

FORMAT_VERSION = 1
TOP_KEYS = ("format_version", "layers", "meta")


class _DuplicateKey(Exception):
    """A JSON object with a key written twice (json.loads would keep the last silently)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _read(path: Path) -> dict[str, Any]:
    if path.suffix.lower() != ".json":
        return read_yaml_mapping(path, "register")
    text = read_text_file(path, "register", "JSON")
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: JSON syntax error at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except _DuplicateKey as e:
        raise ConfigError(f"{path}: key {e.args[0]!r} appears twice in one object") from None
    except RecursionError:
        raise ConfigError(f"{path}: arrays and objects nested too deep") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    return data


def parse_registers(data: Mapping[str, Any], source: str = "<registers>") -> dict[str, ADCRegisters]:
    """Validate a register-file tree (already parsed) into {layer name: ADCRegisters}."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: top level must be a mapping of keys, got {type(data).__name__}")
    unknown = [str(k) for k in data if k not in TOP_KEYS]
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; valid keys: {', '.join(TOP_KEYS)}")
    version = data.get("format_version", FORMAT_VERSION)
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise ConfigError(
            f"{source}: format_version {version!r} is not supported (this version reads {FORMAT_VERSION})"
        )
    meta = data.get("meta")
    if meta is not None and not isinstance(meta, Mapping):
        raise ConfigError(f"{source}: meta must be a mapping, got {type(meta).__name__}")
    if "layers" not in data:
        raise ConfigError(f"{source}: 'layers' is missing (a mapping of layer name -> registers)")
    layers = data["layers"]
    if layers is None:
        return {}
    if not isinstance(layers, Mapping):
        raise ConfigError(f"{source}: layers must be a mapping of layer name -> registers, got {type(layers).__name__}")
    out: dict[str, ADCRegisters] = {}
    for name, regs in layers.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{source}: layers: layer names must be non-empty strings, got {name!r}")
        where = f"{source}: layers.{name}"
        if not isinstance(regs, Mapping):
            raise ConfigError(f"{where}: expected a mapping of registers, got {type(regs).__name__}")
        if "mode" not in regs:
            raise ConfigError(f"{where}: 'mode' is required ({names_text(quote=False)})")
        try:
            out[name] = ADCRegisters.from_dict(regs)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None
    return out


def load_registers(path: str | os.PathLike) -> dict[str, ADCRegisters]:
    """Read a YAML or JSON register file -> {layer name: ADCRegisters}; ConfigError on any problem."""
    p = Path(path)
    return parse_registers(_read(p), str(p))


def read_register_file(path: str | os.PathLike) -> tuple[dict[str, ADCRegisters], dict[str, Any]]:
    """(`load_registers(path)`, the file's `meta` mapping, {} when it has none)."""
    p = Path(path)
    data = _read(p)
    regs = parse_registers(data, str(p))
    return regs, dict(data.get("meta") or {})


def noise_mismatch(meta: Mapping[str, Any], noise: Mapping[str, Any]) -> list[str]:
    """The non-ideality settings (not the seed) on which a register file's `meta.noise` (what
    `isaacsim calibrate` records) differs from a run's `noise` (`Result.noise_summary()`);
    [] when they agree or the file records none."""
    rec = meta.get("noise")
    if not isinstance(rec, Mapping):
        return []
    return sorted(k for k in noise if k not in ("seed", "ideal") and k in rec and rec[k] != noise[k])


def registers_document(mapping: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The register-file tree for {layer name: registers (ADCRegisters, ADCConfig or dict)}."""
    doc: dict[str, Any] = {"format_version": FORMAT_VERSION}
    if meta:
        doc["meta"] = dict(meta)
    doc["layers"] = {str(name): ADCRegisters.of(r).to_dict() for name, r in mapping.items()}
    return doc


def save_registers(path: str | os.PathLike, mapping: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Path:
    """Write a register file (JSON for a .json suffix, else YAML) that `load_registers` reads back equal."""
    p = Path(path)
    doc = registers_document(mapping, meta)
    if p.suffix.lower() == ".json":
        p.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    else:
        p.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return p
