"""Price an events table with a component table: energy and power per row, and the run's totals.

energy = count x the table's energy per action; a "leakage" row's count is unit-seconds, priced
at the unit's leakage power (scaled to the arch's storage and bus sizes as for peak power).
power = energy / the inference time. Counting happens once (`isaacsim.energy.events`), so any
table can price a saved run again (`reprice`, `isaacsim report DIR --table FILE`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from isaacsim.components import UNITS, ComponentTable, load_table
from isaacsim.config.models import Arch
from isaacsim.errors import ConfigError

INFO_ACTIONS = frozenset({"convert", "shift"})
"""Actions counted for the record, never priced (ADC conversions: their cost is the A/D operations)."""


def _unit_price(table: ComponentTable, arch: Arch, component: str, action: str) -> float:
    entry = table.entry(component)
    if entry is None or action in INFO_ACTIONS:
        return 0.0  # optional units (trq_config, hypertransport) a table leaves out cost nothing
    if action == "leakage":
        return entry.leakage_w * UNITS[component].size_factor(arch, entry.capacity_bytes, entry.width_bits)
    if action not in entry.energy_j:
        have = ", ".join(sorted(entry.energy_j))
        raise ConfigError(f"component table {table.name!r}: components.{component}.energy_j has no action "
                          f"{action!r} (has: {have}), which this run counted")
    return entry.energy_j[action]


def price(events, arch: Arch, table: ComponentTable | str | os.PathLike | None = None,
          time_s: float | None = None):
    """A copy of `events` with `energy_j` (per inference) and `power_w` (energy / time_s, NaN
    without a time). table: a ComponentTable, a shipped name or a path; default the arch's."""
    table = _table(arch, table)
    out = events.copy()
    prices = {key: _unit_price(table, arch, *key) for key in set(zip(out["component"], out["action"], strict=True))}
    keys = zip(out["component"], out["action"], out["count"], strict=True)
    out["energy_j"] = [c * prices[(k, a)] for k, a, c in keys]
    out["power_w"] = out["energy_j"] / time_s if time_s else math.nan
    return out


def _table(arch: Arch, table) -> ComponentTable:
    if table is None:
        return load_table(arch.components.table)
    return table if isinstance(table, ComponentTable) else load_table(table)


@dataclass
class EnergyReport:
    """A priced run: the tidy `frame` (events + energy_j + power_w) and its totals."""

    frame: Any
    table: str
    time_s: float | None
    """Inference time the power is taken over (the timing model's latency), None without timing."""
    time_basis: str
    samples: int
    table_digest: str = ""
    """`ComponentTable.digest()` of the table that priced it: its exact numbers."""

    @property
    def energy_j(self) -> float:
        return math.fsum(self.frame["energy_j"])

    @property
    def leakage_j(self) -> float:
        return math.fsum(self.frame.loc[self.frame["action"] == "leakage", "energy_j"])

    @property
    def dynamic_j(self) -> float:
        return self.energy_j - self.leakage_j

    @property
    def power_w(self) -> float | None:
        return self.energy_j / self.time_s if self.time_s else None

    @property
    def adc_j(self) -> float:
        return math.fsum(self.frame.loc[self.frame["component"] == "adc", "energy_j"])

    @property
    def adc_share(self) -> float | None:
        e = self.energy_j
        return self.adc_j / e if e else None

    def by(self, *keys: str):
        """energy_j and power_w summed over `keys` (e.g. "component"; "tile", "component"),
        largest energy first when grouping by one key."""
        g = self.frame.groupby(list(keys), dropna=False, sort=False)[["energy_j", "power_w"]].sum(min_count=1)
        g = g.reset_index()
        return g.sort_values("energy_j", ascending=False, ignore_index=True) if len(keys) == 1 else g

    def breakdown_rows(self) -> list[dict]:
        """The `breakdown` rows of the run summary: one per (tile, pe, layer, component) with
        non-zero energy; they sum to `energy_j`."""
        keys = ["tile", "pe", "layer", "component"]
        nz = self.frame[self.frame["energy_j"] != 0]
        g = nz.groupby(keys, dropna=False, sort=False)[["energy_j"]].sum().reset_index()
        rows = []
        for tile, pe, layer, comp, e in g.itertuples(index=False, name=None):
            rows.append({"tile": None if _na(tile) else int(tile), "pe": None if _na(pe) else int(pe),
                         "layer": None if _na(layer) else str(layer), "component": comp, "energy_j": float(e),
                         "power_w": float(e) / self.time_s if self.time_s else None})
        return rows

    def as_dict(self) -> dict:
        """The summary's `energy` block (without the breakdown rows)."""
        comp = self.by("component")
        return {
            "table": self.table, "table_digest": self.table_digest, "energy_j": self.energy_j,
            "dynamic_j": self.dynamic_j, "leakage_j": self.leakage_j,
            "time_s": self.time_s, "time_basis": self.time_basis, "power_w": self.power_w,
            "adc_energy_j": self.adc_j, "adc_share": self.adc_share, "samples": self.samples,
            "by_component": {str(r.component): float(r.energy_j) for r in comp.itertuples()},
        }


def _na(v) -> bool:
    import pandas as pd

    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def energy_report(events, arch: Arch, table=None, time_s: float | None = None, time_basis: str = "latency",
                  samples: int = 1) -> EnergyReport:
    """Price `events` and wrap the result."""
    t = _table(arch, table)
    return EnergyReport(price(events, arch, t, time_s), t.name, time_s, time_basis if time_s else "none", samples,
                        t.digest())
