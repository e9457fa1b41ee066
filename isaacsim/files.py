"""Reading users' files and writing ours: one home for both.

Reading: a user's text or YAML file, where every failure (missing, a folder, unreadable, bad
YAML, not a mapping) is one `ConfigError` line naming the file. YAML is read by `load_yaml`: the
safe loader (plain data only), which also refuses a key written twice in one mapping (YAML says
keys are unique; PyYAML would keep the last silently) and nesting deeper than `MAX_YAML_DEPTH`.

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

MAX_YAML_DEPTH = 100
"""Deepest nesting of lists and mappings a user's YAML may have (ours need fewer than ten)."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YAMLShapeError(yaml.MarkedYAMLError):
    """Well-formed YAML that we refuse: a key written twice in one mapping, or nesting too deep."""


class _StrictLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses duplicate keys and nesting deeper than MAX_YAML_DEPTH."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._checked: set[int] = set()

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise YAMLShapeError(problem=f"lists and mappings nested deeper than {MAX_YAML_DEPTH} levels",
                                     problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def flatten_mapping(self, node):
        # The first thing done to every mapping node (and to a `<<` merge's source), before merged
        # keys are folded in: the one place to see the keys exactly as written.
        if id(node) not in self._checked:
            self._checked.add(id(node))
            self._check_unique(node)
        super().flatten_mapping(node)

    def _check_unique(self, node) -> None:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # unhashable: construct_mapping reports it
                continue
            if first is not None:
                lines = f"lines {first} and {line}" if first != line else f"both on line {line}"
                raise YAMLShapeError(problem=f"key {key!r} appears twice ({lines})",
                                     problem_mark=key_node.start_mark)
            seen[key] = line


def load_yaml(text: str) -> Any:
    """`yaml.safe_load(text)` that also refuses a key written twice in one mapping and nesting
    deeper than MAX_YAML_DEPTH (a `YAMLShapeError`); every failure is a `yaml.YAMLError`."""
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except RecursionError:  # a backstop: MAX_YAML_DEPTH stops the nesting well before this
        raise YAMLShapeError(problem="nesting too deep") from None
    finally:
        loader.dispose()


def yaml_error_text(e: yaml.YAMLError) -> str:
    """One line for a YAML error, without the file name: `YAML syntax error at line 3, column 2:
    PROBLEM`, or for a `YAMLShapeError` e.g. `key 'adc' appears twice (lines 3 and 9)`."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    if isinstance(e, YAMLShapeError):
        if "appears twice" in problem or mark is None:
            return problem
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    context = getattr(e, "context", None)
    problem = f"{context}: {problem}" if context else problem
    return f"YAML syntax error{where}: {problem}"


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
        data = load_yaml(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: {yaml_error_text(e)}") from None
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


__all__ = ["MAX_YAML_DEPTH", "YAMLShapeError", "atomic_write", "atomic_write_bytes", "atomic_write_text",
           "load_yaml", "read_text_file", "read_yaml_mapping", "yaml_error_text"]
