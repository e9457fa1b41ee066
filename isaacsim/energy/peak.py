"""Peak power and area from the component tables alone: every unit at its full rate.

Every registered unit (`components.units.UNITS`) gives its instance count and full-rate action
rate as functions of the arch; energy per action, leakage and area per unit come from the table.
Peak power of a unit = e_action x full-rate actions/s + leakage.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from isaacsim.components import UNITS, ComponentTable, Unit, load_table
from isaacsim.components.units import full_rate
from isaacsim.config.models import Arch
from isaacsim.errors import ConfigError


@dataclass(frozen=True)
class PeakRow:
    """One component at one level: units, their area and peak power (all per one PE, tile or chip)."""

    level: str  # "pe", "tile" or "chip"
    component: str
    count: float  # units per PE / per tile / per chip (router: a fraction per tile)
    action: str
    rate_per_unit_s: float  # full-rate actions per second of one unit
    energy_per_action_j: float
    area_mm2: float  # all `count` units
    peak_power_w: float  # all `count` units
    source: str

    def as_dict(self) -> dict:
        return asdict(self)


def peak_breakdown(arch: Arch, table: ComponentTable | None = None) -> list[PeakRow]:
    """Per-component rows for one PE, one tile (excluding its PEs) and the chip level (excluding tiles)."""
    table = table if table is not None else load_table(arch.components.table)
    rows = (_row(arch, table, unit) for unit in UNITS)
    return [r for r in rows if r is not None]


def _row(arch: Arch, table: ComponentTable, unit: Unit) -> PeakRow | None:
    """One unit's row; None when the arch has none of it, or when the table leaves out a unit whose
    peak does not need an entry (`Unit.peak_needs_entry`: TRQ config registers, priced at zero)."""
    count = unit.count(arch)
    if count == 0:
        return None
    entry = table.entry(unit.name)
    if entry is None:
        if not unit.peak_needs_entry:
            return None
        raise ConfigError(
            f"component table {table.name!r} has no entry components.{unit.name}, "
            f"which arch {arch.name!r} needs ({count:g} per {unit.level})"
        )
    rate = float(full_rate(unit, arch, table))
    e = entry.energy_j[unit.action]
    size = unit.size_factor(arch, entry.capacity_bytes, entry.width_bits)
    per_unit_w = e * rate + entry.leakage_w * size
    return PeakRow(unit.level, unit.name, count, unit.action, rate, e, entry.area_mm2 * size * count,
                   per_unit_w * count, entry.source)


@dataclass(frozen=True)
class PeakSummary:
    """Area and peak power of one PE, one tile (PEs included) and the chip (tiles included)."""

    rows: list[PeakRow]
    pe_area_mm2: float
    pe_power_w: float
    tile_area_mm2: float
    tile_power_w: float
    chip_area_mm2: float
    chip_power_w: float
    routers_per_chip: int


def peak_summary(arch: Arch, table: ComponentTable | None = None) -> PeakSummary:
    """Roll the rows up: tile = PEs x PE + tile units; chip = tiles x tile + chip units."""
    rows = peak_breakdown(arch, table)

    def total(level: str, key: str) -> float:
        return math.fsum(getattr(r, key) for r in rows if r.level == level)

    pe_a, pe_p = total("pe", "area_mm2"), total("pe", "peak_power_w")
    tile_a = arch.tile.pes * pe_a + total("tile", "area_mm2")
    tile_p = arch.tile.pes * pe_p + total("tile", "peak_power_w")
    chip_a = arch.chip.tiles * tile_a + total("chip", "area_mm2")
    chip_p = arch.chip.tiles * tile_p + total("chip", "peak_power_w")
    routers = math.ceil(arch.chip.tiles / arch.chip.tiles_per_router)
    return PeakSummary(rows, pe_a, pe_p, tile_a, tile_p, chip_a, chip_p, routers)
