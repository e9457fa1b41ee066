"""Pipeline stages and resources at the system clock: latency in ns and cycles, exact rates.

`build_stages(arch)` reads the arch and its component table (via `components.load_table`) and
returns a frozen `Stages`: one `Stage` per pipeline stage or shared resource, each with

- `latency_ns` (exact `Fraction`), `latency_cycles` = ceil(latency_ns / period)
  (rounded up, at least 1) and `multi_cycle` (latency above one clock period);
- `rate`: what one unit does per system cycle, an exact `Fraction`, in `unit`s;
- `resource` (the component-table unit it is priced as), `level` and the count per PE, per
  tile and per chip (`chip.tiles` as configured).

Each stage is backed by a registered unit (`components.units.UNITS`): the unit's `StageSpec`
gives the stage's name, resource, level, count, latency override key and item unit, so a
registered unit with a stage appears here with no edit (an optional unit the table leaves out
has none). The rules below that are not "latency from the override or the table"
(crossbar_read, adc, config_load) are this module's.

Latency, first that applies: the arch's own field (`crossbar.read_latency_ns`; the ADC's
sample rate), an override `latency_ns.*`, the table entry's `latency_ns`, then a named default
(`DEFAULTS`). Floats from YAML are read as their shortest decimal (`Fraction(repr(x))`), so
100 MHz and 0.390625 ns are exact.

Rates. A stage's rate is its unit's full rate (`components.units.full_rate`: the table's
`full_rate_per_s`, else one action per the unit's latency for a unit paced by it, else the
registered rate), per system cycle: the same rate peak power is taken at, so a unit kept busy at
it draws exactly its table power. Units in their own clock domain (ISAAC's tile logic at
`tile.clock_mhz`, its NoC links at `chip.noc_clock_mhz`) do one action per cycle of that clock:

| stage | resource | rate per unit per system cycle | items |
|---|---|---|---|
| crossbar_read | crossbar | 1 / occupancy(read_latency_ns) | one whole-array read |
| adc | adc | `adc.ops_per_cycle`, else sample_rate_msps x resolution / clock_mhz | A/D operations |
| shift_add | shift_add | one result per its latency (`latency_ns.shift_add`, else the table's) | ADC results |
| input_register | same | xbars x rows / 8 x (DAC bits + input bits / input cycles) per read | bytes (1) |
| output_register | same | the PE's S+A results x psum bytes x (1 + 1 / input cycles) | bytes (2) |
| edram | edram | edram_width_bits / 8 per tile cycle | bytes read or written |
| tile_bus, tile_output_register | same | bus_width_bits / 8 per tile cycle | bytes |
| noc_link | router | tiles_per_router x noc_link_bits / 8 per NoC cycle | byte-hops |
| tile_shift_add, sigmoid, maxpool | same | one per tile cycle | adds, ops |
| hypertransport | hypertransport | the table's full_rate_per_s per link | bytes |
| config_load | trq_config | 1 / occupancy(config_load) | one layer's register load |

(1) the DACs' reads and the window writes that refill the register. (2) a write per S+A result
and a read per column and window.

The ADC is the one stage given by a rate: its latency is one full-resolution conversion,
resolution / rate cycles (ISAAC: 8 / 102.4 cycles = 0.78125 ns). The table's `adc.latency_ns`
(per A/D operation) is not used; where it disagrees with the arch's rate, `Stages.notes` says so.

S+A, reading of "S+A consumes one ADC result per unit per cycle" (docs/timing.md): per S+A cycle
(its table latency), not per system cycle. ISAAC's table gives 0.390625 ns, i.e. 25.6 results
per 10 ns system cycle per unit, so a PE's 4 units take 102.4 results per cycle: exactly its
8 ADCs' 8 x 1280 MS/s at 100 MHz. Read per system cycle, 4 units would take only 4 results
per cycle and throttle ISAAC 25-fold, which is not the published balanced pipeline.

DAC and S+H are part of the crossbar read (docs/timing.md), not stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from isaacsim.components import UNITS, ComponentTable, Unit, load_table
from isaacsim.components.units import full_rate
from isaacsim.config.clock import Clock, exact
from isaacsim.config.models import Arch

DEFAULTS: dict[str, str] = {
    "latency": "a unit whose table entry has no latency_ns takes one clock period",
    "config_load": (
        "without latency_ns.config_load or a trq_config table latency, loading a layer's ADC/S+A "
        "config registers takes one tile-bus transfer (the registers are written over the tile bus)"
    ),
}
"""The only fallbacks: named, and each derived from the config rather than a typed number."""


@dataclass(frozen=True)
class Stage:
    """One pipeline stage or shared resource at the system clock."""

    name: str
    resource: str
    """Component-table unit the stage is priced as."""
    level: str
    """'pe', 'tile' or 'chip': where the units sit."""
    per_pe: Fraction | None
    """Units per PE (None for tile- and chip-level units)."""
    per_tile: Fraction | None
    """Units per tile, PEs included (None for chip-level units)."""
    per_chip: Fraction
    """Units on the chip (`chip.tiles` as configured)."""
    latency_ns: Fraction
    latency_cycles: int
    multi_cycle: bool
    rate: Fraction
    """Items per system cycle of one unit, in `unit`."""
    unit: str
    latency_from: str
    """Where the latency came from: an arch key, an override, the table, or a default."""

    @property
    def count(self) -> Fraction:
        """Units per instance of `level` (per PE, per tile or per chip)."""
        return {"pe": self.per_pe, "tile": self.per_tile, "chip": self.per_chip}[self.level]

    def as_dict(self) -> dict:
        """Plain values (floats for Fractions) for reports and JSON."""

        def f(v: Fraction | None) -> float | None:
            return None if v is None else float(v)

        return {
            "stage": self.name, "resource": self.resource, "level": self.level,
            "per_pe": f(self.per_pe), "per_tile": f(self.per_tile), "per_chip": f(self.per_chip),
            "latency_ns": float(self.latency_ns), "latency_cycles": self.latency_cycles,
            "multi_cycle": self.multi_cycle, "rate_per_cycle": float(self.rate),
            "rate": str(self.rate), "unit": self.unit, "latency_from": self.latency_from,
        }


@dataclass(frozen=True)
class Stages:
    """Every stage of one arch at its clock; index by name (`stages["adc"]`)."""

    arch_name: str
    clock: Clock
    stages: tuple[Stage, ...]
    adc_resolution: int
    early_termination: bool
    input_bits: int
    psum_bits: int
    notes: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"no stage {name!r}; stages: {', '.join(s.name for s in self.stages)}")

    def __contains__(self, name: object) -> bool:
        return any(s.name == name for s in self.stages)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    def table(self) -> list[dict]:
        return [s.as_dict() for s in self.stages]


def _table_latency(table: ComponentTable, unit: str) -> Fraction | None:
    entry = table.entry(unit)
    if entry is None or entry.latency_ns is None:
        return None
    return exact(entry.latency_ns)


ORDER = ("crossbar_read", "adc", "shift_add", "input_register", "output_register", "tile_bus", "edram",
         "noc_link", "tile_shift_add", "sigmoid", "maxpool", "tile_output_register", "config_load", "hypertransport")
"""The order stages are listed in; stages of other registered units follow, in registry order."""


def build_stages(arch: Arch, table: ComponentTable | None = None) -> Stages:
    """The stage table of `arch` at `arch.clock_mhz` (module docstring has every formula)."""
    table = table if table is not None else load_table(arch.components.table)
    b = _Builder(arch, table)
    extra = tuple(u.stage.name for u in UNITS if u.stage is not None and u.stage.name not in ORDER)
    for name in ORDER + extra:
        unit = UNITS.backing(name)
        if unit is not None:
            b.build(unit)
    a = arch.adc
    return Stages(arch.name, arch.clock, tuple(b.stages.values()), a.resolution, a.early_termination,
                  arch.datapath.input_bits, arch.datapath.psum_bits, tuple(b.notes))


class _Builder:
    """Stages of one arch and table: the registry gives each stage's unit, level and count; the
    latency and rate follow the stage's rule (module docstring)."""

    def __init__(self, arch: Arch, table: ComponentTable):
        self.arch, self.table, self.clock = arch, table, arch.clock
        self.stages: dict[str, Stage] = {}
        self.notes: list[str] = []

    def build(self, unit: Unit) -> None:
        spec = unit.stage
        special = {"crossbar_read": self._crossbar_read, "adc": self._adc, "config_load": self._config_load}
        if spec.name in special:
            special[spec.name](unit)
        elif not (unit.optional and self.table.entry(unit.name) is None):
            lat, src = self._latency(unit.name, spec.override)
            self._add(unit, lat, src, full_rate(unit, self.arch, self.table) / self.clock.hz)

    def _latency(self, unit: str, override: str | None) -> tuple[Fraction, str]:
        ov, table = self.arch.latency_ns, self.table
        if override is not None and getattr(ov, override) is not None:
            return exact(getattr(ov, override)), f"latency_ns.{override}"
        t = _table_latency(table, unit)
        if t is not None:
            return t, f"table {table.name}: components.{unit}.latency_ns"
        return self.clock.period_ns, "default (DEFAULTS['latency']): one clock period"

    def _add(self, unit: Unit, lat: Fraction, src: str, rate: Fraction) -> None:
        spec = unit.stage
        count = Fraction(spec.count(self.arch) if spec.count is not None else unit.count(self.arch))
        if count == 0:
            return
        ppt, n_tiles = Fraction(self.arch.tile.pes), Fraction(self.arch.chip.tiles)
        if unit.level == "pe":
            per_pe, per_tile, per_chip = count, count * ppt, count * ppt * n_tiles
        elif unit.level == "tile":
            per_pe, per_tile, per_chip = None, count, count * n_tiles
        else:
            per_pe, per_tile, per_chip = None, None, count
        self.stages[spec.name] = Stage(spec.name, unit.name, unit.level, per_pe, per_tile, per_chip, lat,
                                       self.clock.cycles(lat), lat > self.clock.period_ns, rate, spec.item_unit, src)

    def _crossbar_read(self, unit: Unit) -> None:
        """The arch's own read latency."""
        read_ns = exact(self.arch.crossbar.read_latency_ns)
        self._add(unit, read_ns, "crossbar.read_latency_ns", 1 / self.clock.occupancy(read_ns))

    def _adc(self, unit: Unit) -> None:
        """Given by its rate (the arch's); latency: one full-resolution conversion."""
        arch, table, period = self.arch, self.table, self.clock.period_ns
        a, adc_rate, adc_src = arch.adc, arch.adc_ops_per_cycle, arch.adc_rate_source
        self._add(unit, a.resolution / adc_rate * period, f"{adc_src} (one {a.resolution}-bit conversion)", adc_rate)
        t_op = _table_latency(table, unit.name)
        if t_op is not None and t_op != period / adc_rate:
            self.notes.append(
                f"adc: table {table.name} gives {float(t_op):g} ns per A/D operation "
                f"({float(period / t_op):g} ops per cycle); the arch's {float(adc_rate):g} ops per cycle "
                f"({adc_src}) is used"
            )

    def _config_load(self, unit: Unit) -> None:
        """Loaded once per layer: the override, else the table's latency, else one tile-bus transfer."""
        ov, table = self.arch.latency_ns, self.table
        if ov.config_load is not None:
            cfg_ns, cfg_src = exact(ov.config_load), "latency_ns.config_load"
        elif _table_latency(table, unit.name) is not None:
            cfg_ns, cfg_src = _table_latency(table, unit.name), f"table {table.name}: components.{unit.name}.latency_ns"
        else:
            cfg_ns = self._latency("tile_bus", "tile_bus")[0]
            cfg_src = "default (DEFAULTS['config_load']): one tile-bus transfer"
        self._add(unit, cfg_ns, cfg_src, 1 / self.clock.occupancy(cfg_ns))
