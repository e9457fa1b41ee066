"""The hardware units, registered in one place: one `Unit` record per unit of the chip.

A unit's record says everything the rest of the simulator needs to know about it as a unit:
where it sits (PE, tile or chip), its full-rate action (the one whose energy x full rate is its
peak dynamic power), whether a component table may leave it out, how many the arch has and at
what full rate they run (functions of the arch), which arch size its area and leakage scale
with, the timing stage it backs, and how figures and `describe` show it. From the registry
(`UNITS`, in hardware order) come the component-table schema (`components.schema`), peak power
and area (`energy.peak`), the leakage rows and the check on counted units (`energy.events`),
the timing stages' resources and counts (`timing.stages`) and the figures' colours and labels
(`report.figures`). Adding a unit is one `UNITS.register(Unit(...))`; the timing model uses
a new stage only where its own code asks for it by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from isaacsim.config.clock import exact
from isaacsim.config.models import Arch

LEVELS = ("pe", "tile", "chip")
"""Where a unit sits; its count is per PE, per tile (outside its PEs) or per chip (outside its tiles)."""

SIZE_KEYS = ("capacity_bytes", "width_bits")
"""The table-entry keys a unit's area and leakage may scale with."""

ArchFn = Callable[[Arch], Any]


@dataclass(frozen=True)
class Size:
    """The arch size a unit's area and leakage scale with, linearly: the table entry's `key`
    (`capacity_bytes` or `width_bits`) gives the size its numbers refer to, `of(arch)` the arch's."""

    key: str
    of: ArchFn


@dataclass(frozen=True)
class StageSpec:
    """The timing stage a unit backs: its latency is the table's, or `latency_ns.<override>`; its
    rate is the unit's full rate (`full_rate`) in `item_unit`s. `count(arch)`: units per level as
    the timing model sees them, when not the unit's own count."""

    name: str
    item_unit: str
    override: str | None = None
    count: ArchFn | None = None


@dataclass(frozen=True)
class Unit:
    """One hardware unit (module docstring)."""

    name: str
    level: str
    action: str
    """The full-rate action: its energy x `rate(arch)` is the unit's peak dynamic power."""
    count: ArchFn
    """Units per PE, per tile or per chip (by `level`); 0 when the arch has none."""
    rate: ArchFn
    """Full-rate actions per second of one unit (a table's `full_rate_per_s` takes precedence)."""
    label: str
    """Short name in figures ("S+A")."""
    long_label: str
    """Name in `describe` ("router (share)")."""
    color: str
    """Fixed colour (hex) in every figure."""
    description: str
    optional: bool = False
    """A component table may leave the unit out (it then costs nothing in a run's energy)."""
    peak_needs_entry: bool = True
    """Peak power and area need the table's entry whenever the arch has the unit; False: an
    optional unit the table leaves out is left out of the peak too."""
    size: Size | None = None
    stage: StageSpec | None = None
    follows: tuple[str, ArchFn] | None = None
    """(unit, factor): the unit takes every action of that unit's units, so its full rate is the
    other unit's full rate x factor(arch) (the PE output register follows the S+A)."""
    paced_by_latency: bool = False
    """The unit does one action per its latency (`latency_ns.<stage override>`, else the table's
    `latency_ns`), which then sets its full rate in place of `rate`."""

    def size_factor(self, arch: Arch, capacity_bytes: float | None, width_bits: float | None) -> float:
        """Linear area/leakage scaling of the table's numbers (given for `capacity_bytes` or
        `width_bits`) to the arch's size; 1 for a unit that does not scale or an entry without a size."""
        if self.size is None:
            return 1.0
        ref = capacity_bytes if self.size.key == "capacity_bytes" else width_bits
        return 1.0 if ref is None else self.size.of(arch) / ref


class Registry:
    """The registered units in hardware order; look one up by name (`UNITS["adc"]`).

    `register` / `unregister` tell the subscribers (the component-table schema), so every
    consumer sees the same units."""

    def __init__(self, units: tuple[Unit, ...]):
        self._units: dict[str, Unit] = {}
        self._actions: dict[str, str] = {}
        self._listeners: list[Callable[[], None]] = []
        self.version = 0
        """Bumped by every change (the table loader's cache key)."""
        for u in units:
            self._add(u)

    def _add(self, unit: Unit) -> None:
        problem = self._problem(unit)
        if problem:
            raise ValueError(f"hardware unit {unit.name!r}: {problem}")
        self._units[unit.name] = unit
        self._actions[unit.name] = unit.action

    def _problem(self, unit: Unit) -> str:
        if unit.name in self._units:
            return "already registered"
        if unit.level not in LEVELS:
            return f"level must be one of {', '.join(LEVELS)}, got {unit.level!r}"
        if unit.size is not None and unit.size.key not in SIZE_KEYS:
            return f"size key must be one of {', '.join(SIZE_KEYS)}, got {unit.size.key!r}"
        other = self.backing(unit.stage.name) if unit.stage is not None else None
        return f"stage {unit.stage.name!r} is already backed by {other.name!r}" if other else ""

    def register(self, unit: Unit) -> Unit:
        """Add `unit` after the registered ones; returns it."""
        self._add(unit)
        self._changed()
        return unit

    def unregister(self, name: str) -> None:
        """Remove the unit called `name`."""
        del self._units[self[name].name], self._actions[name]
        self._changed()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every change."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        self.version += 1
        for fn in self._listeners:
            fn()

    def __getitem__(self, name: str) -> Unit:
        try:
            return self._units[name]
        except KeyError:
            raise KeyError(f"unknown hardware unit {name!r}; units: {', '.join(self._units)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._units

    def __iter__(self) -> Iterator[Unit]:
        return iter(tuple(self._units.values()))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._units)

    @property
    def actions(self) -> Mapping[str, str]:
        """{unit: full-rate action}, live (a read-only view)."""
        return MappingProxyType(self._actions)

    def at(self, level: str) -> tuple[Unit, ...]:
        """The units of one level, in order."""
        return tuple(u for u in self._units.values() if u.level == level)

    def backing(self, stage: str) -> Unit | None:
        """The unit whose timing stage is called `stage`, if any."""
        return next((u for u in self._units.values() if u.stage is not None and u.stage.name == stage), None)


# ---------------------------------------------------------------------------- full rates

def full_rate(unit: Unit, arch: Arch, table=None) -> Fraction:
    """Full-rate actions per second of one unit, exact: the component table's `full_rate_per_s`
    when it gives one, else one action per the unit's latency (`paced_by_latency`), else the
    rate of the unit it follows x its factor, else the unit's own rate. The one rate both the
    timing model enforces and peak power is taken at, so a unit busy at this rate draws exactly
    its peak power."""
    entry = table.entry(unit.name) if table is not None else None
    if entry is not None and getattr(entry, "full_rate_per_s", None) is not None:
        return exact(entry.full_rate_per_s)
    if unit.follows is not None:
        other, factor = unit.follows
        return full_rate(UNITS[other], arch, table) * Fraction(factor(arch))
    if unit.paced_by_latency:
        key = unit.stage.override if unit.stage is not None else None
        lat = getattr(arch.latency_ns, key) if key is not None else None
        lat = lat if lat is not None else getattr(entry, "latency_ns", None)
        if lat is not None:
            return Fraction(10**9) / exact(lat)
    return Fraction(unit.rate(arch))


def _reads_per_s(arch: Arch) -> Fraction:
    return Fraction(10**9) / exact(arch.crossbar.read_latency_ns)


def _adc_ops_per_s(arch: Arch) -> Fraction:
    """A/D operations one ADC performs per second (sample rate x resolution, or the override)."""
    return arch.adc_ops_per_cycle * arch.clock.hz


def _adc_results_per_s(arch: Arch) -> Fraction:
    """Conversions (ADC results) per second of one PE's ADCs together, at full resolution."""
    return arch.pe.adcs * _adc_ops_per_s(arch) / arch.adc.resolution


def _tile_hz(arch: Arch) -> Fraction:
    """The tile's digital clock (`tile.clock_mhz`, else the system clock), per second."""
    return arch.tile_clock.hz


def _ir_bytes_per_s(arch: Arch) -> Fraction:
    """Input register port: the DACs' reads (rows x DAC bits per crossbar read) plus the window
    writes that refill it (rows x input bits per input vector, i.e. per `input_cycles` reads)."""
    per_read = Fraction(arch.pe.crossbars * arch.crossbar.rows, 8) * (
        arch.crossbar.dac_bits + Fraction(arch.datapath.input_bits, arch.input_cycles))
    return per_read * _reads_per_s(arch)


def _or_bytes_per_s(arch: Arch) -> Fraction:
    """Output register port: a partial-sum write per S+A result, plus a read per column and
    window (one per `input_cycles` writes), at the ADCs' full-resolution result rate (the rate
    when no table paces the S+A; `follows` ties it to the S+A's rate)."""
    return _adc_results_per_s(arch) * _or_per_sa_result(arch)


def _or_per_sa_result(arch: Arch) -> Fraction:
    """Output-register bytes per S+A result of one PE: the write and its share of the reads."""
    return Fraction(arch.datapath.psum_bits, 8) * (1 + Fraction(1, arch.input_cycles))


def _trq_config_registers(arch: Arch) -> int:
    """Config registers per PE: the ADC kind's registers per ADC (TRQ: one) times the ADCs."""
    return arch.pe.adcs * arch.adc.kind.config_registers_per_adc


def _bus_bytes(arch: Arch) -> Fraction:
    return Fraction(arch.tile.bus_width_bits, 8)


def _one(_arch: Arch) -> int:
    return 1


# Colours: the ADC is the one saturated red, so it stands out in every figure; the TRQ config
# register is pale pink, ADC-side but not competing with it.
_PE = (
    Unit("adc", "pe", "op", lambda a: a.pe.adcs, _adc_ops_per_s, "ADC", "ADC", "#d62728",
         "SAR ADC; op = one A/D operation (one bit decision, Eq. 6 of the TRQ paper: E = e_op x ops)",
         stage=StageSpec("adc", "A/D ops")),
    Unit("dac", "pe", "drive", lambda a: a.pe.crossbars * a.crossbar.rows, _reads_per_s, "DAC", "DAC", "#1f77b4",
         "row DAC; drive = one row driven for one crossbar read"),
    Unit("sh", "pe", "sample", lambda a: a.pe.crossbars * a.crossbar.cols, _reads_per_s, "S+H", "S+H", "#aec7e8",
         "sample-and-hold; sample = one column sampled per crossbar read"),
    Unit("crossbar", "pe", "read", lambda a: a.pe.crossbars, _reads_per_s, "crossbar", "crossbar", "#2ca02c",
         "ReRAM crossbar; read = one whole-array read (all rows driven, all columns sensed)",
         stage=StageSpec("crossbar_read", "reads")),
    Unit("shift_add", "pe", "add", lambda a: a.pe.shift_add_units,
         lambda a: _adc_results_per_s(a) / a.pe.shift_add_units, "S+A", "S+A", "#ff7f0e",
         "PE shift-and-add; add = one ADC result shifted and added into a partial sum",
         stage=StageSpec("shift_add", "results", "shift_add"), paced_by_latency=True),
    Unit("input_register", "pe", "read_byte", _one, _ir_bytes_per_s,
         "input reg", "input register", "#9467bd", "PE input register; read_byte = one byte to the DACs",
         size=Size("capacity_bytes", lambda a: a.pe.input_register_bytes),
         stage=StageSpec("input_register", "bytes", "register_access")),
    Unit("output_register", "pe", "write_byte", _one, _or_bytes_per_s,
         "output reg", "output register", "#c5b0d5", "PE output register; write_byte = one partial-sum byte",
         size=Size("capacity_bytes", lambda a: a.pe.output_register_bytes),
         stage=StageSpec("output_register", "bytes", "register_access"),
         follows=("shift_add", lambda a: a.pe.shift_add_units * _or_per_sa_result(a))),
    Unit("trq_config", "pe", "write", _trq_config_registers, lambda a: Fraction(0), "TRQ config", "TRQ config register",
         "#f7b6d2", "TRQ config register of one ADC; write = loading it (once per layer and inference)", optional=True,
         peak_needs_entry=False,
         stage=StageSpec("config_load", "layer loads", count=_one), paced_by_latency=True),
)

_TILE = (
    Unit("edram", "tile", "read_byte", _one, lambda a: Fraction(a.tile.edram_width_bits, 8) * _tile_hz(a),
         "eDRAM", "eDRAM buffer", "#8c564b", "tile eDRAM buffer; read_byte = one byte read",
         size=Size("capacity_bytes", lambda a: a.tile.edram_kb * 1024),
         stage=StageSpec("edram", "bytes", "edram_access")),
    Unit("tile_bus", "tile", "byte_hop", _one, lambda a: _bus_bytes(a) * _tile_hz(a),
         "tile bus", "tile bus", "#c49c94", "bus between a tile's eDRAM and PEs; byte_hop = one byte moved",
         size=Size("width_bits", lambda a: a.tile.bus_width_bits),
         stage=StageSpec("tile_bus", "bytes", "tile_bus")),
    Unit("router", "tile", "byte_hop", lambda a: 1 / a.chip.tiles_per_router,
         lambda a: a.chip.tiles_per_router * Fraction(a.chip.noc_link_bits, 8) * a.noc_clock.hz,
         "router", "router (share)", "#7f7f7f",
         "on-chip router shared by `chip.tiles_per_router` tiles; byte_hop = one byte over one hop",
         stage=StageSpec("noc_link", "bytes", "router_hop")),
    Unit("tile_shift_add", "tile", "add", lambda a: a.tile.shift_add_units, _tile_hz, "tile S+A", "tile S+A",
         "#ffbb78", "tile shift-and-add merging PE outputs; add = one addition",
         stage=StageSpec("tile_shift_add", "adds")),
    Unit("sigmoid", "tile", "op", lambda a: a.tile.sigmoid_units, _tile_hz, "sigmoid", "sigmoid (NFU)", "#bcbd22",
         "NFU activation unit; op = one element", stage=StageSpec("sigmoid", "ops", "nfu")),
    Unit("maxpool", "tile", "op", lambda a: a.tile.maxpool_units, _tile_hz, "max-pool", "max-pool (NFU)", "#dbdb8d",
         "NFU pooling unit; op = one comparison or addition", stage=StageSpec("maxpool", "ops", "nfu")),
    Unit("tile_output_register", "tile", "write_byte", lambda a: 1 if a.tile.output_register_bytes else 0,
         lambda a: _bus_bytes(a) * _tile_hz(a), "tile output reg", "tile output register", "#17becf",
         "tile output register; write_byte = one byte from the tile bus",
         size=Size("capacity_bytes", lambda a: a.tile.output_register_bytes),
         stage=StageSpec("tile_output_register", "bytes")),
)

_CHIP = (
    Unit("hypertransport", "chip", "byte_hop", lambda a: a.chip.hypertransport_links, lambda a: Fraction(0),
         "HyperTransport", "HyperTransport link", "#9edae5", "off-chip link; byte_hop = one byte across the chip edge",
         optional=True, stage=StageSpec("hypertransport", "bytes")),
)

UNITS = Registry(_PE + _TILE + _CHIP)
"""Every hardware unit, in hardware order (PE, tile, chip): the order of tables and figures."""

REQUIRED_ACTIONS: Mapping[str, str] = UNITS.actions
"""Each unit's full-rate action (live view of `UNITS`)."""
