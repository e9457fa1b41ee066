"""Find and load component tables: a shipped name (isaac_32nm, trq_45nm) or a YAML path."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from isaacsim.components.schema import ComponentTable
from isaacsim.components.units import UNITS
from isaacsim.config.loader import format_validation_error
from isaacsim.errors import ConfigError
from isaacsim.files import read_yaml_mapping

TABLE_DIR = Path(__file__).resolve().parent / "tables"


def shipped_tables() -> list[str]:
    """Names of the tables shipped with the package."""
    return sorted(p.stem for p in TABLE_DIR.glob("*.yaml"))


def table_path(name_or_path: str | os.PathLike) -> Path:
    """The file a table reference points at: a shipped name first, else a path."""
    ref = str(name_or_path)
    if ref in shipped_tables():
        return TABLE_DIR / f"{ref}.yaml"
    p = Path(ref).expanduser()
    if not p.exists() and p.suffix == "":
        raise ConfigError(
            f"components.table: {ref!r} is neither a shipped table ({', '.join(shipped_tables())}) "
            "nor an existing YAML file"
        )
    return p.resolve()


@lru_cache(maxsize=32)
def _load(path: Path, mtime: float, units_version: int) -> ComponentTable:
    data = read_yaml_mapping(path, what="component table")
    try:
        return ComponentTable.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{path}: {format_validation_error(e, ComponentTable)}") from None


def load_table(name_or_path: str | os.PathLike) -> ComponentTable:
    """Load and validate a component table; every problem is one ConfigError naming file and key."""
    path = table_path(name_or_path)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = -1.0
    return _load(path, mtime, UNITS.version)
