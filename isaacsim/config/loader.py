"""YAML -> Arch: reads files safely, resolves `extends`, applies dotted overrides, and turns
every validation failure into one ConfigError line that names the dotted key."""

from __future__ import annotations

import copy
import difflib
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from isaacsim.config.models import Arch
from isaacsim.errors import ConfigError
from isaacsim.files import (
    YAMLShapeError,
    load_yaml,
    read_yaml_mapping,
    yaml_error_text,
)

PRESET_DIR = Path(__file__).resolve().parents[2] / "arch_configs"
"""Shipped presets (the repository's arch_configs/); ISAACSIM_ARCH_PATH adds more folders."""


def preset_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("ISAACSIM_ARCH_PATH", "").split(os.pathsep) if p]
    return [*extra, PRESET_DIR]


def preset_names() -> list[str]:
    names: set[str] = set()
    for d in preset_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.yaml"))
    return sorted(names)


def _find_preset(ref: str, base_dir: Path | None, source: str = "extends") -> Path:
    cands: list[Path] = []
    p = Path(ref)
    names = [ref] if p.suffix in (".yaml", ".yml") else [ref, ref + ".yaml"]
    for name in names:
        if Path(name).is_absolute():
            cands.append(Path(name))
            continue
        if base_dir is not None:
            cands.append(base_dir / name)
        cands.extend(d / name for d in preset_dirs())
        cands.append(Path(name))
    for c in cands:
        if c.is_file():
            return c.resolve()
    raise ConfigError(f"{source}: no preset or file named {ref!r}; presets: {', '.join(preset_names())}")


def deep_merge(base: dict, over: Mapping) -> dict:
    """Recursive merge; mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def set_dotted(tree: dict, key: str, value: Any, source: str = "override") -> None:
    """Set `a.b.c` in a nested dict, creating mappings on the way; refuses to descend into a scalar."""
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"{source}: bad dotted key {key!r}")
    parts = key.split(".")
    node = tree
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, dict):
            raise ConfigError(f"{source}: {'.'.join(parts[: i + 1])} is a value, not a section, so {key} cannot be set")
        node = nxt
    node[parts[-1]] = value


def _split_dotted(data: dict, source: str) -> dict:
    """A preset may write `adc.mode: trq` at top level: apply such keys after the nested ones."""
    nested = {k: v for k, v in data.items() if not (isinstance(k, str) and "." in k)}
    for k, v in data.items():
        if isinstance(k, str) and "." in k:
            set_dotted(nested, k, v, source)
    return nested


def _anchor_table(data: dict, base_dir: Path) -> None:
    """A relative `components.table` path written in a file means relative to that file."""
    comp = data.get("components")
    ref = comp.get("table") if isinstance(comp, dict) else None
    if not isinstance(ref, str) or "/" not in ref and not ref.endswith((".yaml", ".yml")):
        return  # absent, not a string, or a shipped table name
    p = Path(ref).expanduser()
    if not p.is_absolute():
        comp["table"] = str(base_dir / p)


def _resolve(path: Path, chain: tuple[Path, ...]) -> dict:
    if path in chain:
        names = " -> ".join(p.name for p in (*chain, path))
        raise ConfigError(f"extends cycle: {names}")
    data = read_yaml_mapping(path, "architecture")
    parent_ref = data.pop("extends", None)
    data = _split_dotted(data, str(path))
    _anchor_table(data, path.parent)
    if parent_ref is None:
        return data
    if not isinstance(parent_ref, str):
        raise ConfigError(f"{path}: extends must be a preset name or path, got {type(parent_ref).__name__}")
    parent = _resolve(_find_preset(parent_ref, path.parent, f"{path}: extends"), (*chain, path))
    return deep_merge(parent, data)


def parse_set(item: str) -> tuple[str, Any]:
    """`KEY=VALUE` from the command line; VALUE is read as YAML (6 -> int, true -> bool)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, for example --set adc.bits=6")
    key, _, raw = item.partition("=")
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {item!r}: empty key before '='")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except YAMLShapeError as e:
        raise ConfigError(f"--set {item!r}: {yaml_error_text(e)}") from None
    except yaml.YAMLError:
        value = raw
    return key, value


def raw_config(source: str | os.PathLike | Mapping, overrides: Mapping[str, Any] | None = None) -> tuple[dict, str]:
    """The merged, not yet validated, config tree and a label naming where it came from."""
    if isinstance(source, Mapping):
        data = copy.deepcopy(dict(source))  # overrides must not write into the caller's dict
        label = "<dict>"
        parent_ref = data.pop("extends", None)
        data = _split_dotted(data, label)
        if parent_ref is not None:
            if not isinstance(parent_ref, str):
                raise ConfigError(f"{label}: extends must be a preset name or path, got {type(parent_ref).__name__}")
            data = deep_merge(_resolve(_find_preset(parent_ref, None, f"{label}: extends"), ()), data)
    elif isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if not p.exists() and p.suffix == "":
            if p.name not in preset_names():
                raise ConfigError(
                    f"{source}: no such architecture file or preset; presets: {', '.join(preset_names())}")
            p = _find_preset(p.name, None)
        label = str(source)
        data = _resolve(p.resolve(), ())
    else:
        raise ConfigError(f"architecture must be a path or a mapping, got {type(source).__name__}")
    for k, v in (overrides or {}).items():
        set_dotted(data, k, v, f"override {k}")
    return data, label


def load_arch(source: str | os.PathLike | Mapping, overrides: Mapping[str, Any] | None = None) -> Arch:
    """Load and validate an architecture: a YAML path, a preset name, or a dict; `overrides` uses dotted keys."""
    data, label = raw_config(source, overrides)
    try:
        return Arch.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{label}: {format_validation_error(e, Arch)}") from None


# ---------------------------------------------------------------- error formatting


def _submodel(ann) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model inside an annotation (`M`, `M | None`, `dict[str, M]`), and whether
    it sits behind a mapping key."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann, False
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin in (dict, Mapping) and len(args) == 2:
        inner, _ = _submodel(args[1])
        return inner, True
    for a in args:
        inner, keyed = _submodel(a)
        if inner is not None:
            return inner, keyed
    return None, False


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        model, keyed = _submodel(model.model_fields[part].annotation)
        if keyed:
            if not parts:
                return None
            parts.pop(0)
    return model


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _range_text(root: type[BaseModel], loc: tuple) -> str:
    parent = _model_at(root, loc[:-1])
    if parent is None or loc[-1] not in parent.model_fields:
        return ""
    lo = hi = None
    lo_op = hi_op = ""
    for meta in parent.model_fields[loc[-1]].metadata:
        for attr, op in (("ge", ">="), ("gt", ">")):
            if getattr(meta, attr, None) is not None:
                lo, lo_op = getattr(meta, attr), op
        for attr, op in (("le", "<="), ("lt", "<")):
            if getattr(meta, attr, None) is not None:
                hi, hi_op = getattr(meta, attr), op
    if lo is None and hi is None:
        return ""
    parts = [f"{lo_op} {_num(lo)}" if lo is not None else "", f"{hi_op} {_num(hi)}" if hi is not None else ""]
    return "allowed " + " and ".join(p for p in parts if p)


def _yaml_type(v: Any) -> str:
    if v is None:
        return "null"
    names = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(v), type(v).__name__)


def format_validation_error(err: ValidationError, root: type[BaseModel]) -> str:
    msgs = []
    for e in err.errors(include_url=False):
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        path = ".".join(str(x) for x in loc) or "(top level)"
        kind = e["type"]
        if kind == "extra_forbidden":
            parent = _model_at(root, loc[:-1])
            valid = sorted(parent.model_fields) if parent else []
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f" (did you mean {'.'.join(map(str, (*loc[:-1], close[0])))!r}?)" if close else ""
            where = ".".join(map(str, loc[:-1])) or "the top level"
            msgs.append(f"{path}: unknown key{hint}; valid keys at {where}: {', '.join(valid)}")
        elif kind == "value_error":
            msg = str(e.get("ctx", {}).get("error", e["msg"]))
            rng = _range_text(root, loc) if loc else ""
            msg = f"{msg}; {rng}" if rng else msg
            msgs.append(msg if (not loc or path in msg) else f"{path}: {msg}")
        elif kind == "missing":
            msgs.append(f"{path}: required field missing")
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            msgs.append(f"{path}: expected a section (a mapping of keys), got {_yaml_type(e.get('input'))}")
        else:
            rng = _range_text(root, loc) if loc else ""
            got = e.get("input")
            got_s = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
            extra = f"; {rng}" if rng and rng not in e["msg"] else ""
            msgs.append(f"{path}: {e['msg'].lower()} (got {got_s}){extra}")
    return "; ".join(msgs)
