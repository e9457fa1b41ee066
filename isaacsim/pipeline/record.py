"""A run's record on disk: what `simulate(..., out=DIR)` (and `isaacsim run --out DIR`) leaves.

DIR holds config.yaml (the resolved arch, written before the run starts), and, written when the
run ends however it ends (a failure or an interrupt included): summary.json (`Result.summary()`),
layers.csv (`Result.to_frame()`), registers.yaml (the per-layer registers used, register-file
format) and, when the energy was priced, events.csv/.parquet (counts per inference) and
breakdown.csv/.parquet (priced; `isaacsim report DIR` draws them, docs/energy.md), and after a
run with at least one sample profile.json (the A/D-operation profile that a timing-only run
reads, `isaacsim.timing.profile`). Every file is written atomically (`isaacsim.files`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from isaacsim.config.models import Arch
from isaacsim.errors import ConfigError
from isaacsim.files import atomic_write, atomic_write_text

if TYPE_CHECKING:
    from isaacsim.pipeline.result import Result


def out_dir(out: str | os.PathLike, label: str = "out") -> Path:
    """`out` as a Path; ConfigError naming `label` (e.g. "--out") if it exists and is not a folder."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{label} {out}: exists and is not a directory")
    return p


@contextlib.contextmanager
def _writing(out: Path) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        raise ConfigError(f"out {out}: cannot write ({e.__class__.__name__}: {e.strerror or e})") from None


def write_config(out: Path, arch: Arch) -> None:
    """config.yaml under `out` (created if needed): the resolved arch, which `load_arch` reads back equal."""
    with _writing(out):
        atomic_write_text(out / "config.yaml", yaml.safe_dump(arch.model_dump(mode="json"), sort_keys=False))


def write_results(out: Path, res: Result) -> None:
    """summary.json, layers.csv, registers.yaml and, when there are any, the energy tables and
    profile.json under `out` (module docstring)."""
    from isaacsim.adc.regfile import save_registers

    meta = {"arch": res.arch.name, "workload": res.workload, "written_by": "isaacsim run"}
    with _writing(out):
        atomic_write_text(out / "summary.json", json.dumps(res.summary(), indent=2) + "\n")
        frame = res.to_frame()
        atomic_write(out / "layers.csv", lambda tmp: frame.to_csv(tmp, index=False))
        atomic_write(out / "registers.yaml", lambda tmp: save_registers(tmp, res.registers(), meta=meta))
        if res.energy is not None:
            from isaacsim.energy.runs import write_energy

            write_energy(out, res.energy, res.events)
        if res.samples:
            from isaacsim.timing.profile import profile_of

            atomic_write_text(out / "profile.json", json.dumps(profile_of(res), indent=1) + "\n")


def recording(out: Path | None, res: Result) -> contextlib.AbstractContextManager:
    """A context around a run: config.yaml on entry, the results on exit, whatever the exit
    (nothing when `out` is None)."""
    return contextlib.nullcontext() if out is None else _recording(out, res)


@contextlib.contextmanager
def _recording(out: Path, res: Result) -> Iterator[None]:
    write_config(out, res.arch)
    try:
        yield
    finally:
        write_results(out, res)


__all__ = ["out_dir", "recording", "write_config", "write_results"]
