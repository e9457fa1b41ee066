"""The sweep result store: one row per design point, kept so that a killed sweep loses nothing.

A sweep directory holds:

- `spec.json`: the sweep's name, swept keys, workloads and every point (index, hash, values);
- `sweep.yaml`: the sweep file as it was run;
- `rows.jsonl`: the journal. Each finished point appends one JSON line, flushed and fsynced,
  before anything else is said about it. A line cut short by a kill is ignored on reading;
- `results.parquet` and `results.csv`: the rows so far (the last row per hash), each written
  to a temporary file and renamed over the old one, so a reader never sees a half-written table;
- `points/<hash>.json`: the full `Result.summary()` of each finished point (per-tile breakdown);
- `points/<hash>.registers.yaml`: the register file of a point calibrated first (`run.calibrate`),
  and `points/<hash>.calibrate.json` the calibration's state while it runs (removed once the
  register file is written).

Resuming reads the journal (and the Parquet table, if the journal is gone) and skips the hashes
already there.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from isaacsim.errors import ConfigError
from isaacsim.files import atomic_write_bytes, atomic_write_text

META = ["point", "hash", "workload", "status", "error"]
"""Leading columns of every row; the swept keys follow, then POINT_INFO, METRICS and RUN_INFO."""
SEED = "seed"
"""The seed column, and the axis key of the non-ideal datapath's seed (not an arch key)."""
POINT_INFO = [SEED, "calibrated"]
"""The point's seed (also a swept key when `seed` is an axis) and whether it was calibrated first."""
METRICS = [
    "energy_j", "latency_cycles", "latency_s", "power_w", "area_mm2", "area_used_mm2",
    "accuracy", "reference_accuracy", "agreement", "ops_per_conversion", "adc_energy_j",
    "adc_share", "conversions", "ad_ops", "samples", "tiles_used",
]
RUN_INFO = ["sim_s", "calib_s", "point_s", "host", "finished_at"]
RESERVED = set(META) | set(POINT_INFO) | set(METRICS) | set(RUN_INFO)

JOURNAL = "rows.jsonl"
PARQUET = "results.parquet"
CSV = "results.csv"
SPEC = "spec.json"
POINTS = "points"
REGISTERS = ".registers.yaml"
"""Suffix of a calibrated point's register file under POINTS (after its hash)."""
CALIB_STATE = ".calibrate.json"
"""Suffix of a calibration's state file under POINTS while the point runs."""


def _clean(v: Any) -> Any:
    """JSON-safe scalars: numpy scalars become Python ones, NaN and inf become None."""
    if hasattr(v, "item") and not isinstance(v, (str, bytes)) and getattr(v, "shape", None) == ():
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class ResultStore:
    """Rows of one sweep directory. `add` commits a finished point (journal, then tables)."""

    def __init__(self, root: str | os.PathLike, keys: Iterable[str] = (), *, min_interval_s: float = 1.0,
                 read_only: bool = False):
        self.root = Path(root)
        self.read_only = read_only
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"--out {self.root}: exists and is not a directory")
        if not read_only:
            try:
                (self.root / POINTS).mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ConfigError(f"--out {self.root}: cannot create "
                                  f"({e.__class__.__name__}: {e.strerror or e})") from None
        self.keys = [k for k in keys if k not in RESERVED]
        self.rows: dict[str, dict[str, Any]] = {}
        self.min_interval_s = min_interval_s
        self._last_write = 0.0
        self._write_cost = 0.0
        self._dirty = False
        self._load()

    # ---- reading
    def _load(self) -> None:
        journal = self.root / JOURNAL
        if journal.exists():
            if not self.read_only:
                _end_torn_line(journal)
            for row in read_journal(journal):
                self.rows[row["hash"]] = row
        elif (self.root / PARQUET).exists():
            for row in read_table(self.root).to_dict("records"):
                self.rows[row["hash"]] = {k: _clean(v) for k, v in row.items()}
        for row in self.rows.values():
            for k in row:
                if k not in RESERVED and k not in self.keys:
                    self.keys.append(k)

    def done(self, retry_failed: bool = False) -> set[str]:
        """Hashes already finished (with status ok; also the failed ones unless `retry_failed`)."""
        return {h for h, r in self.rows.items() if r.get("status") == "ok" or not retry_failed}

    # ---- writing
    def write_spec(self, spec: Mapping[str, Any], sweep_text: str | None = None) -> None:
        atomic_write_text(self.root / SPEC, json.dumps(spec, indent=1, default=str))
        if sweep_text is not None:
            atomic_write_text(self.root / "sweep.yaml", sweep_text)

    def add(self, row: Mapping[str, Any], summary: Mapping[str, Any] | None = None) -> None:
        """Commit one finished point: its summary file, the journal line, then (throttled) the
        tables. After this returns, a kill loses nothing of the point."""
        row = {k: _clean(v) for k, v in row.items()}
        if summary is not None:
            summary = self._write_registers(row["hash"], summary)
            atomic_write_text(self.root / POINTS / f"{row['hash']}.json", json.dumps(summary, default=_json_default))
        line = json.dumps(row, default=_json_default) + "\n"
        with open(self.root / JOURNAL, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.rows[row["hash"]] = row
        for k in row:
            if k not in RESERVED and k not in self.keys:
                self.keys.append(k)
        self._dirty = True
        now = time.monotonic()
        # rewrite the tables at most once a second, and so that writing costs <= 5% of the time
        if now - self._last_write >= max(self.min_interval_s, 20 * self._write_cost):
            self.flush()

    def registers_path(self, point_hash: str) -> Path:
        return self.root / POINTS / f"{point_hash}{REGISTERS}"

    def _write_registers(self, point_hash: str, summary: Mapping[str, Any]) -> Mapping[str, Any]:
        """Write the register file a calibrated point's summary carries (`calibration.document`),
        drop the calibration's state file, and return the summary without the document."""
        calib = summary.get("calibration")
        if not isinstance(calib, Mapping) or "document" not in calib:
            return summary
        import yaml

        path = self.registers_path(point_hash)
        doc = json.loads(json.dumps(calib["document"], default=_json_default))  # plain types for YAML
        atomic_write_text(path, yaml.safe_dump(doc, sort_keys=False))
        (self.root / POINTS / f"{point_hash}{CALIB_STATE}").unlink(missing_ok=True)
        rest = {k: v for k, v in calib.items() if k != "document"}
        return {**summary, "calibration": {**rest, "registers_file": path.name}}

    def flush(self, force: bool = False) -> None:
        """Rewrite results.parquet and results.csv from all rows (atomically), if anything changed
        (or always, with `force`: a resumed sweep brings tables a kill left behind up to date)."""
        if not (force or self._dirty) and (self.root / PARQUET).exists():
            return
        t0 = time.monotonic()
        df = self.frame()
        import io

        buf = io.BytesIO()
        _parquet_safe(df).to_parquet(buf, index=False)
        atomic_write_bytes(self.root / PARQUET, buf.getvalue())
        atomic_write_text(self.root / CSV, df.to_csv(index=False))
        self._last_write = time.monotonic()
        self._write_cost = self._last_write - t0
        self._dirty = False

    def frame(self):
        """All rows as a DataFrame sorted by point, columns META + keys + POINT_INFO + METRICS + RUN_INFO."""
        import pandas as pd

        cols = META + self.keys + POINT_INFO + METRICS + RUN_INFO
        rows = sorted(self.rows.values(), key=lambda r: (r.get("point") is None, r.get("point"), r["hash"]))
        return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)


def _json_default(v: Any) -> Any:
    import numpy as np

    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def _parquet_safe(df):
    """Object columns that mix types (a zip axis of numbers and names) are written as text."""
    import pandas as pd

    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            kinds = {type(v) for v in out[c] if v is not None and not (isinstance(v, float) and math.isnan(v))}
            if len(kinds) > 1 and not kinds <= {int, float}:
                out[c] = out[c].map(lambda v: None if v is None else str(v)).astype(pd.StringDtype())
    return out


def _end_torn_line(path: Path) -> None:
    """End a last line cut short by a kill, so the next appended row starts a line of its own."""
    with open(path, "rb+") as f:
        if f.seek(0, os.SEEK_END) > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The journal's rows; a line that does not parse (cut by a kill) is skipped."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("hash"), str):
                rows.append(row)
    return rows


def read_table(root: str | os.PathLike):
    """results.parquet of a sweep directory as a DataFrame; ConfigError naming the file if absent."""
    import pandas as pd

    p = Path(root) / PARQUET
    if not p.exists():
        raise ConfigError(f"{root}: no {PARQUET} (not a sweep directory; "
                          "write one with isaacsim sweep SWEEP.yaml --out DIR)")
    try:
        return pd.read_parquet(p)
    except Exception as e:  # a damaged file
        raise ConfigError(f"{p}: cannot read ({type(e).__name__}: {e})") from None


def is_sweep_dir(root: str | os.PathLike) -> bool:
    d = Path(root)
    return (d / SPEC).is_file() and ((d / PARQUET).is_file() or (d / JOURNAL).is_file())
