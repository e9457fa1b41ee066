"""Pipeline stages and resources at the system clock: latency in ns and cycles, exact rates.

`build_stages(arch)` reads the arch and its component table (via `components.load_table`) and
returns a frozen `Stages`: one `Stage` per pipeline stage or shared resource, each with

- `latency_ns` (exact `Fraction`), `latency_cycles` = ceil(latency_ns / period) (DESIGN 4,
  rounded up, at least 1) and `multi_cycle` (latency above one clock period);
- `rate`: what one unit does per system cycle, an exact `Fraction`, in `unit`s;
- `resource` (the component-table unit it is priced as), `level` and the count per PE, per
  tile and per chip (`chip.tiles` as configured).

Latency, first that applies: the arch's own field (`crossbar.read_latency_ns`; the ADC's
sample rate), an override `latency_ns.*`, the table entry's `latency_ns`, then a named default
(`DEFAULTS`). Floats from YAML are read as their shortest decimal (`Fraction(repr(x))`), so
100 MHz and 0.390625 ns are exact.

Rates. A stage occupies its unit for `occupancy` cycles per action: `latency_cycles` when the
stage is multi-cycle (the unit is busy for whole cycles, e.g. a 100 ns crossbar read is 10
cycles at 100 MHz, 33 ns is 4), and latency_ns / period (a fraction <= 1) when it is not (a
sub-cycle unit does several actions per cycle; the cycle is a budget, as DESIGN 4 says of the
ADC). rate = items per action / occupancy:

| stage | resource | rate per unit per cycle | items per action |
|---|---|---|---|
| crossbar_read | crossbar | 1 / occupancy(read_latency_ns) | one whole-array read |
| adc | adc | `adc.ops_per_cycle`, else sample_rate_msps x resolution / clock_mhz | A/D operations |
| shift_add | shift_add | 1 / occupancy(shift_add latency) | one ADC result |
| input_register, output_register | same | register bytes / occupancy(register_access) | the whole register |
| edram | edram | edram_width_bits / 8 / occupancy | bytes |
| tile_bus | tile_bus | bus_width_bits / 8 / occupancy | bytes |
| noc_link | router | noc_link_bits / 8 / occupancy(router_hop) | bytes per hop, one link per tile |
| tile_shift_add | tile_shift_add | 1 / occupancy | adds |
| sigmoid, maxpool (NFU) | same | 1 / occupancy(nfu) | ops |
| tile_output_register | same | bus_width_bits / 8 / occupancy | bytes (filled from the bus) |
| hypertransport | hypertransport | 1 / occupancy(table latency per byte) | bytes per link |
| config_load | trq_config | 1 / occupancy(config_load) | one layer's register load |

The ADC is the one stage given by a rate: its latency is one full-resolution conversion,
resolution / rate cycles (ISAAC: 8 / 102.4 cycles = 0.78125 ns). The table's `adc.latency_ns`
(per A/D operation) is not used; where it disagrees with the arch's rate, `Stages.notes` says so.

S+A, reading of DESIGN 4 ("S+A consumes one ADC result per unit per cycle"): per S+A cycle
(its table latency), not per system cycle. ISAAC's table gives 0.390625 ns, i.e. 25.6 results
per 10 ns system cycle per unit, so a PE's 4 units take 102.4 results per cycle: exactly its
8 ADCs' 8 x 1280 MS/s at 100 MHz. Read per system cycle, 4 units would take only 4 results
per cycle and throttle ISAAC 25-fold, which is not the published balanced pipeline.

Registers: an IR/OR access reads or writes the whole register (a choice: the config has no
register port width). DAC and S+H are part of the crossbar read (DESIGN 4), not stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from isaacsim.components import ComponentTable, load_table
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


def build_stages(arch: Arch, table: ComponentTable | None = None) -> Stages:
    """The stage table of `arch` at `arch.clock_mhz` (module docstring has every formula)."""
    table = table if table is not None else load_table(arch.components.table)
    clock = arch.clock
    period = clock.period_ns
    pes, tiles = arch.pe, arch.tile
    ppt, n_tiles = Fraction(tiles.pes), Fraction(arch.chip.tiles)
    ov = arch.latency_ns
    stages: list[Stage] = []
    notes: list[str] = []

    def latency(unit: str, override: str | None) -> tuple[Fraction, str]:
        if override is not None and getattr(ov, override) is not None:
            return exact(getattr(ov, override)), f"latency_ns.{override}"
        t = _table_latency(table, unit)
        if t is not None:
            return t, f"table {table.name}: components.{unit}.latency_ns"
        return period, "default (DEFAULTS['latency']): one clock period"

    def add(name: str, resource: str, level: str, count: int | Fraction, lat: Fraction, src: str,
            rate: Fraction, unit: str) -> None:
        count = Fraction(count)
        if count == 0:
            return
        if level == "pe":
            per_pe, per_tile, per_chip = count, count * ppt, count * ppt * n_tiles
        elif level == "tile":
            per_pe, per_tile, per_chip = None, count, count * n_tiles
        else:
            per_pe, per_tile, per_chip = None, None, count
        stages.append(Stage(name, resource, level, per_pe, per_tile, per_chip, lat, clock.cycles(lat),
                            lat > period, rate, unit, src))

    def by_latency(name: str, resource: str, level: str, count: int | Fraction, override: str | None,
                   items: Fraction | int, unit: str) -> Fraction:
        lat, src = latency(resource, override)
        add(name, resource, level, count, lat, src, Fraction(items) / clock.occupancy(lat), unit)
        return lat

    # ---- PE
    xb = arch.crossbar
    read_ns = exact(xb.read_latency_ns)
    add("crossbar_read", "crossbar", "pe", pes.crossbars, read_ns, "crossbar.read_latency_ns",
        1 / clock.occupancy(read_ns), "reads")

    a = arch.adc
    adc_rate, adc_src = arch.adc_ops_per_cycle, arch.adc_rate_source
    adc_ns = a.resolution / adc_rate * period
    add("adc", "adc", "pe", pes.adcs, adc_ns, f"{adc_src} (one {a.resolution}-bit conversion)", adc_rate, "A/D ops")
    t_op = _table_latency(table, "adc")
    if t_op is not None and t_op != period / adc_rate:
        notes.append(
            f"adc: table {table.name} gives {float(t_op):g} ns per A/D operation "
            f"({float(period / t_op):g} ops per cycle); the arch's {float(adc_rate):g} ops per cycle "
            f"({adc_src}) is used"
        )

    by_latency("shift_add", "shift_add", "pe", pes.shift_add_units, "shift_add", 1, "results")
    by_latency("input_register", "input_register", "pe", 1, "register_access", pes.input_register_bytes, "bytes")
    by_latency("output_register", "output_register", "pe", 1, "register_access", pes.output_register_bytes, "bytes")

    # ---- tile
    bus_ns = by_latency("tile_bus", "tile_bus", "tile", 1, "tile_bus", Fraction(tiles.bus_width_bits, 8), "bytes")
    by_latency("edram", "edram", "tile", 1, "edram_access", Fraction(tiles.edram_width_bits, 8), "bytes")
    by_latency("noc_link", "router", "tile", 1, "router_hop", Fraction(arch.chip.noc_link_bits, 8), "bytes")
    by_latency("tile_shift_add", "tile_shift_add", "tile", tiles.shift_add_units, None, 1, "adds")
    by_latency("sigmoid", "sigmoid", "tile", tiles.sigmoid_units, "nfu", 1, "ops")
    by_latency("maxpool", "maxpool", "tile", tiles.maxpool_units, "nfu", 1, "ops")
    if tiles.output_register_bytes:
        by_latency("tile_output_register", "tile_output_register", "tile", 1, None,
                   Fraction(tiles.bus_width_bits, 8), "bytes")

    # ---- config registers: loaded once per layer
    if ov.config_load is not None:
        cfg_ns, cfg_src = exact(ov.config_load), "latency_ns.config_load"
    elif _table_latency(table, "trq_config") is not None:
        cfg_ns, cfg_src = _table_latency(table, "trq_config"), f"table {table.name}: components.trq_config.latency_ns"
    else:
        cfg_ns, cfg_src = bus_ns, "default (DEFAULTS['config_load']): one tile-bus transfer"
    add("config_load", "trq_config", "pe", 1, cfg_ns, cfg_src, 1 / clock.occupancy(cfg_ns), "layer loads")

    # ---- chip
    if table.entry("hypertransport") is not None:
        by_latency("hypertransport", "hypertransport", "chip", arch.chip.hypertransport_links, None, 1, "bytes")

    return Stages(arch.name, clock, tuple(stages), a.resolution, a.early_termination,
                  arch.datapath.input_bits, arch.datapath.psum_bits, tuple(notes))
