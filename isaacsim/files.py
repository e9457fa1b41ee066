"""Reading users' files and writing ours: one home for both.

Reading: a user's text or YAML file, where every failure (missing, a folder, unreadable, bad
YAML, not a mapping) is one `ConfigError` line naming the file (`yaml.safe_load` only).

Writing: the one atomic write every package uses.

A result, checkpoint, register file or trace is written to a temporary file in the same folder,
flushed and fsynced, then renamed over the target, so a reader (or a run killed part-way) sees
either the old file or the new one, never a torn one. The temporary file is removed on failure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from isaacsim.errors import ConfigError


def read_text_file(path: Path, what: str, kind: str = "YAML") -> str:
    """A user's text file; a missing, directory or unreadable path is one ConfigError line."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a {kind} {what} file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read {what} file ({e.__class__.__name__}: {e})") from None


def read_yaml_mapping(path: Path, what: str = "config") -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; every failure is one ConfigError line."""
    text = read_text_file(path, what)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        context = getattr(e, "context", None)
        problem = f"{context}: {problem}" if context else problem
        raise ConfigError(f"{path}: YAML syntax error{where}: {problem}") from None
    if data is None:
        raise ConfigError(f"{path}: {what} file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    return data


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], *, mode: int | None = None) -> None:
    """Have `write(tmp_path)` fill a temporary file beside `path`, fsync it, then rename it to `path`.

    The parent folder is created if missing. `mode` (e.g. 0o644) sets the file's permissions;
    by default the process umask applies, as for an ordinary `open`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, mode: int | None = None) -> None:
    """Write `data` to `path` atomically (`atomic_write`)."""
    atomic_write(path, lambda p: Path(p).write_bytes(data), mode=mode)


def atomic_write_text(path: str | os.PathLike, text: str, *, mode: int | None = None) -> None:
    """Write `text` (UTF-8) to `path` atomically (`atomic_write`)."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def _umask_mode() -> int:
    """0o666 less the process umask: what `open(path, "w")` would give a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "read_text_file", "read_yaml_mapping"]
