"""Peak power and area from the component tables alone: every unit at its full rate (DESIGN 5).

Instance counts and full-rate action rates come from the arch; energy per action, leakage and
area per unit come from the table. Peak power of a unit = e_action x full-rate actions/s + leakage.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from isaacsim.components import REQUIRED_ACTIONS, ComponentTable, load_table
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


def _reads_per_s(arch: Arch) -> float:
    return 1e9 / arch.crossbar.read_latency_ns


def _adc_ops_per_s(arch: Arch) -> float:
    """A/D operations one ADC performs per second (sample rate x resolution, or the override)."""
    return arch.clock.per_second(arch.adc_ops_per_cycle)


def _adc_results_per_s(arch: Arch) -> float:
    """Conversions (ADC results) per second of one PE's ADCs together."""
    return arch.pe.adcs * _adc_ops_per_s(arch) / arch.adc.resolution


def _units(arch: Arch) -> list[tuple[str, str, float, float]]:
    """(level, component, count, full-rate actions/s per unit) for every unit the arch has."""
    pe, tile, chip, xb = arch.pe, arch.tile, arch.chip, arch.crossbar
    clk = float(arch.clock.hz)
    reads = _reads_per_s(arch)
    results = _adc_results_per_s(arch)
    trq_regs = pe.adcs if arch.adc.mode == "trq" else 0
    return [
        ("pe", "adc", pe.adcs, _adc_ops_per_s(arch)),
        ("pe", "dac", pe.crossbars * xb.rows, reads),
        ("pe", "sh", pe.crossbars * xb.cols, reads),
        ("pe", "crossbar", pe.crossbars, reads),
        ("pe", "shift_add", pe.shift_add_units, results / pe.shift_add_units),
        ("pe", "input_register", 1, pe.crossbars * xb.rows * xb.dac_bits / 8 * reads),
        ("pe", "output_register", 1, results * arch.datapath.psum_bits / 8),
        ("pe", "trq_config", trq_regs, 0.0),
        ("tile", "edram", 1, tile.edram_width_bits / 8 * clk),
        ("tile", "tile_bus", 1, tile.bus_width_bits / 8 * clk),
        ("tile", "router", 1 / chip.tiles_per_router, chip.tiles_per_router * chip.noc_link_bits / 8 * clk),
        ("tile", "tile_shift_add", tile.shift_add_units, clk),
        ("tile", "sigmoid", tile.sigmoid_units, clk),
        ("tile", "maxpool", tile.maxpool_units, clk),
        ("tile", "tile_output_register", 1 if tile.output_register_bytes else 0, tile.bus_width_bits / 8 * clk),
        ("chip", "hypertransport", chip.hypertransport_links, 0.0),
    ]


def size_factor(arch: Arch, name: str, capacity: float | None, width: float | None) -> float:
    """Linear area/leakage scaling of storage and buses to the arch's size."""
    sizes = {
        "input_register": arch.pe.input_register_bytes,
        "output_register": arch.pe.output_register_bytes,
        "edram": arch.tile.edram_kb * 1024,
        "tile_output_register": arch.tile.output_register_bytes,
    }
    f = 1.0
    if capacity is not None and name in sizes:
        f *= sizes[name] / capacity
    if width is not None and name == "tile_bus":
        f *= arch.tile.bus_width_bits / width
    return f


def peak_breakdown(arch: Arch, table: ComponentTable | None = None) -> list[PeakRow]:
    """Per-component rows for one PE, one tile (excluding its PEs) and the chip level (excluding tiles)."""
    table = table if table is not None else load_table(arch.components.table)
    rows: list[PeakRow] = []
    for level, name, count, rate in _units(arch):
        if count == 0:
            continue
        entry = table.entry(name)
        if entry is None:
            if name == "trq_config":
                continue  # a table without TRQ registers prices them at zero
            raise ConfigError(
                f"component table {table.name!r} has no entry components.{name}, "
                f"which arch {arch.name!r} needs ({count:g} per {level})"
            )
        if entry.full_rate_per_s is not None:
            rate = entry.full_rate_per_s
        action = REQUIRED_ACTIONS[name]
        e = entry.energy_j[action]
        size = size_factor(arch, name, entry.capacity_bytes, entry.width_bits)
        per_unit_w = e * rate + entry.leakage_w * size
        rows.append(
            PeakRow(level, name, count, action, rate, e, entry.area_mm2 * size * count, per_unit_w * count, entry.source)
        )
    return rows


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
