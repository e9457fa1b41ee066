"""Running a sweep (`run_sweep`): load a sweep file, skip the points already in the result store,
run the rest on the chosen executor with a progress bar, and commit each point as it finishes.
`isaacsim sweep` calls it and prints what it did.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isaacsim.errors import ConfigError
from isaacsim.kernels.cache import announce_compile
from isaacsim.progress import TerminalProgress
from isaacsim.sweep import store as st
from isaacsim.sweep.execute import payload
from isaacsim.sweep.executors import cpu_count, run_dask, run_local
from isaacsim.sweep.spec import Point, Sweep, load_sweep

DEFAULT_ROOT = Path("runs") / "sweeps"
"""Default parent of a sweep's output folder: runs/sweeps/<sweep name>."""


@dataclass
class SweepOutcome:
    """What one `run_sweep` call did."""

    out: Path
    points: int
    skipped: int
    ran: int = 0
    failed: int = 0
    wall_s: float = 0.0
    interrupted: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)


class _Bar(TerminalProgress):
    def __init__(self, enabled: bool, total: int, name: str) -> None:
        super().__init__(enabled, label="sweep {task.description}", extra=("points", "{task.fields[failed]}"), eta=True)
        self.task = None if self.p is None else self.p.add_task(name, total=total, failed="")

    def advance(self, failed: int) -> None:
        if self.p is not None:
            self.p.update(self.task, advance=1, failed=f"{failed} failed" if failed else "")


def _spec_doc(sw: Sweep) -> dict[str, Any]:
    from isaacsim import __version__

    return {
        "name": sw.name, "description": sw.spec.description, "sweep_file": str(sw.path.resolve()),
        "keys": sw.keys, "isaacsim_version": __version__,
        "groups": [{"kind": kind, "keys": keys} for kind, keys in sw.groups],
        "workloads": [{"label": w.label, "ref": w.ref, "fingerprint": w.fingerprint, "samples": w.samples}
                      for w in dict.fromkeys(p.workload for p in sw.points)],
        "points": [{"point": p.index, "hash": p.hash, "workload": p.workload.label, "values": p.values,
                    "seed": p.seed, "calibrate": p.calibrate} for p in sw.points],
    }


def _check_out(out: Path, name: str) -> None:
    spec = out / st.SPEC
    if spec.is_file():
        import json

        try:
            old = json.loads(spec.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError):
            old = None
        if old is not None and old != name:
            raise ConfigError(f"--out {out}: holds the results of sweep {old!r}, not {name!r}; choose another --out")


def _payload(p: Point, sw: Sweep, store: st.ResultStore) -> dict[str, Any]:
    """The point's payload; a calibrated point brings the register file an earlier run wrote
    (one that does not read is calibrated again) and where its calibration keeps its state."""
    if not p.calibrate:
        return payload(p, sw.spec.run)
    from isaacsim.adc.regfile import parse_registers

    regs = None
    path = store.registers_path(p.hash)
    if path.is_file():
        import yaml

        try:
            regs = yaml.safe_load(path.read_text(encoding="utf-8"))
            parse_registers(regs, str(path))
        except (OSError, ValueError, yaml.YAMLError, ConfigError):
            regs = None
    state = path.parent / f"{p.hash}{st.CALIB_STATE}"
    return payload(p, sw.spec.run, registers=regs, calib_state=str(state.resolve()))


def run_sweep(path: str | os.PathLike, *, out: str | os.PathLike | None = None, workers: int | None = None,
              scheduler: str | None = None, threads: int | None = None, retry_failed: bool = False,
              progress: bool = False,
              on_point: Callable[[dict[str, Any], int, int, float], None] | None = None) -> SweepOutcome:
    """Run (or resume) the sweep in `path`; returns what it did. Points already in the store
    under `out` (default runs/sweeps/<name>) are skipped. `on_point(row, i, n, elapsed_s)` is
    called as the i-th of the n points to run is committed."""
    sw = load_sweep(path)
    for k in sw.keys:
        if k in st.RESERVED and k != st.SEED:
            raise ConfigError(f"{sw.path}: axis {k!r} has the name of a result column; sweep a dotted key")
    out = Path(out) if out is not None else DEFAULT_ROOT / sw.name
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    _check_out(out, sw.name)
    store = st.ResultStore(out, sw.keys)
    store.write_spec(_spec_doc(sw), sw.text)
    done = store.done(retry_failed)
    seen: set[str] = set()
    pending = []
    for p in sw.points:
        if p.hash in done or p.hash in seen:
            continue
        seen.add(p.hash)
        pending.append(p)
    outcome = SweepOutcome(out=out, points=len(sw.points), skipped=len(sw.points) - len(pending))
    payloads = [_payload(p, sw, store) for p in pending]
    if progress and payloads:  # the sweep file is checked; the workers compile on a cold cache
        announce_compile()
    if scheduler is not None:
        it = run_dask(payloads, scheduler, threads or 1)
    else:
        n = min(workers or cpu_count(), max(1, len(payloads)))
        it = run_local(payloads, n, threads or max(1, cpu_count() // n))
    t0 = time.perf_counter()
    try:
        with _Bar(progress, len(payloads), sw.name) as bar:
            for i, (_, row, summary) in enumerate(it, 1):
                store.add(row, summary)
                outcome.ran += 1
                outcome.failed += row.get("status") != "ok"
                outcome.rows.append(row)
                bar.advance(outcome.failed)
                if on_point is not None:
                    on_point(row, i, len(payloads), time.perf_counter() - t0)
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        outcome.wall_s = time.perf_counter() - t0
        store.flush(force=True)
    return outcome
