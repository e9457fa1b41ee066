"""Energy of a simulated run: count its events, price them, save them, and price a saved run again.

`run_energy(wl, mapping, arch, stats, samples, time_s)` is what `isaacsim.simulate` calls after
the timing model: the events of one inference (`isaacsim.energy.events`) priced with the arch's
component table over the inference's latency (`isaacsim.energy.price`). `write_energy(out,
report, events)` writes the events and the priced breakdown as tidy CSV and Parquet into a
run's record (`isaacsim run --out`); `reprice(dir, table)` reads them back and prices them with
another table, with no re-simulation.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from isaacsim.energy.events import count_events
from isaacsim.energy.price import EnergyReport, energy_report
from isaacsim.errors import ConfigError, ConfigWarning
from isaacsim.files import atomic_write

EVENTS = "events"
BREAKDOWN = "breakdown"


def run_energy(wl, mapping, arch, stats, samples: int, time_s: float | None = None,
               table=None) -> tuple[object, EnergyReport]:
    """(events, report) of one inference of a run whose per-layer statistics `stats` ({layer:
    LayerStats}) cover `samples` inferences, priced with `table` (default: the arch's); power
    over `time_s`, the timing model's latency (None: dynamic energy only, no power)."""
    events = count_events(wl, mapping, arch, stats, samples, time_s=time_s)
    return events, energy_report(events, arch, table, time_s, "latency", samples)


def _frame_out(frame, base: Path) -> None:
    atomic_write(base.with_suffix(".csv"), lambda tmp: frame.to_csv(tmp, index=False))
    try:
        atomic_write(base.with_suffix(".parquet"), lambda tmp: frame.to_parquet(tmp, index=False))
    except ImportError as e:  # pyarrow is a dependency; say so if it went missing
        raise ConfigError(f"cannot write {base.with_suffix('.parquet')}: {e}") from None


def write_energy(out: Path, report: EnergyReport, events) -> None:
    """events.{csv,parquet} (counts per inference) and breakdown.{csv,parquet} (priced) under `out`."""
    _frame_out(events, out / EVENTS)
    _frame_out(report.frame, out / BREAKDOWN)


def read_events(run_dir: str | os.PathLike):
    """The events table a run's --out holds (Parquet, else CSV), with its column types."""
    import pandas as pd

    d = Path(run_dir)
    pq, csv = d / f"{EVENTS}.parquet", d / f"{EVENTS}.csv"
    try:
        if pq.exists():
            df = pd.read_parquet(pq)
        elif csv.exists():
            df = pd.read_csv(csv, dtype={"layer": "string"})
        else:
            raise ConfigError(f"{run_dir}: no {EVENTS}.parquet or {EVENTS}.csv (write one with isaacsim run --out)")
    except (OSError, ValueError) as e:
        raise ConfigError(f"{run_dir}: cannot read the events table ({type(e).__name__}: {e})") from None
    missing = {"tile", "pe", "layer", "component", "action", "count"} - set(df.columns)
    if missing:
        raise ConfigError(f"{run_dir}: events table lacks column(s) {', '.join(sorted(missing))}")
    df["tile"] = df["tile"].astype("Int64")
    df["pe"] = df["pe"].astype("Int64")
    df["layer"] = df["layer"].astype("string")
    return df


def read_summary(run_dir: str | os.PathLike) -> dict:
    p = Path(run_dir) / "summary.json"
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{run_dir}: no summary.json (not a run directory of isaacsim run --out)") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"{p}: cannot read ({type(e).__name__}: {e})") from None


def read_arch(run_dir: str | os.PathLike):
    """The arch a saved run used (its config.yaml), without its ConfigWarnings: the run showed
    them when it ran, and re-pricing its counts changes nothing they warn about."""
    from isaacsim.config import load_arch

    p = Path(run_dir) / "config.yaml"
    if not p.exists():
        raise ConfigError(f"{run_dir}: no config.yaml (not a run directory of isaacsim run --out)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        return load_arch(p)


def reprice(run_dir: str | os.PathLike, table=None) -> EnergyReport:
    """Price a saved run's events with `table` (a name, path or ComponentTable; default: the
    run's own), over the run's inference time. No re-simulation."""
    s = read_summary(run_dir)
    e = s.get("energy") or {}
    return energy_report(read_events(run_dir), read_arch(run_dir), table, e.get("time_s"), "latency",
                         int(e.get("samples") or s.get("samples") or 1))
