"""Typed, frozen architecture-config models: every count, width, latency and ADC register.

Each field carries a one-line description; the JSON Schema (`isaacsim schema`) and
docs/config.md are generated from these models, so the docs cannot drift from the code.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from fractions import Fraction
from typing import Literal

import pydantic
from pydantic import Field, model_validator

from isaacsim.adc.config import ADCConfig
from isaacsim.config.clock import Clock, exact
from isaacsim.errors import ConfigWarning
from isaacsim.nodes import Node

__all__ = [
    "ADCConfig", "Arch", "ChipConfig", "ComponentsConfig", "CrossbarConfig", "DatapathConfig", "DeviceConfig",
    "LatencyConfig",
    "MappingConfig", "Node", "PEConfig", "TileConfig",
]


_INTERNAL_DIRS = tuple(os.path.dirname(m.__file__) + os.sep for m in (sys.modules["isaacsim"], pydantic))


def _caller_stacklevel() -> int:
    """The `stacklevel` that attributes a warning raised by a validator (the caller of this
    function) to the first frame outside isaacsim and pydantic: the line that loaded the config,
    not pydantic's `model_validate`."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL_DIRS):
        level, frame = level + 1, frame.f_back
    return level


class ChipConfig(Node):
    """The chip: tiles on a global network, plus off-chip links."""

    tiles: int = Field(168, ge=1, le=1_000_000, description="Number of tiles on the chip (ISAAC: 168).")
    auto_tiles: bool = Field(
        False,
        description="Grow the chip to as many tiles as the workload needs instead of failing when it does not fit.",
    )
    tiles_per_router: int = Field(4, ge=1, le=64, description="Tiles that share one c-mesh router (ISAAC: 4).")
    noc_link_bits: int = Field(32, ge=1, le=4096, description="Width of one network-on-chip link in bits.")
    noc_clock_mhz: float | None = Field(
        None, gt=0, le=100_000,
        description="Clock of the network-on-chip links in MHz (ISAAC: a 32-bit link at 1 GHz); "
                    "unset: the system clock.",
    )
    hypertransport_links: int = Field(
        4, ge=0, le=64, description="Off-chip HyperTransport links (ISAAC: 4); 0 for none."
    )


class TileConfig(Node):
    """One tile: PEs, an eDRAM buffer, a bus to the PEs and the tile-level digital units."""

    pes: int = Field(12, ge=1, le=1024, description="PEs (ISAAC's IMAs) per tile (ISAAC: 12).")
    edram_kb: float = Field(64, gt=0, le=1_048_576, description="eDRAM buffer per tile in KiB (ISAAC: 64).")
    bus_width_bits: int = Field(
        384, ge=1, le=65_536, description="Width of the tile bus between eDRAM and PEs in bits."
    )
    edram_width_bits: int = Field(256, ge=1, le=65_536, description="eDRAM read/write port width in bits per access.")
    output_register_bytes: int = Field(
        3072, ge=0, le=1 << 24, description="Tile output register in bytes (ISAAC: 3 KB)."
    )
    shift_add_units: int = Field(1, ge=0, le=1024, description="Tile-level shift-and-add units that merge PE outputs.")
    sigmoid_units: int = Field(2, ge=0, le=1024, description="NFU activation (sigmoid/ReLU) units per tile.")
    maxpool_units: int = Field(1, ge=0, le=1024, description="NFU max-pool units per tile.")
    clock_mhz: float | None = Field(
        None, gt=0, le=100_000,
        description="Clock of the tile's digital logic (eDRAM port, tile bus, tile shift-and-add, NFU, "
                    "output register) in MHz (ISAAC: 1.2 GHz); unset: the system clock.",
    )


class PEConfig(Node):
    """One PE (ISAAC's IMA): crossbars with their DACs, S+H, shared ADCs, S+A and registers."""

    crossbars: int = Field(8, ge=1, le=1024, description="Crossbars per PE (ISAAC: 8).")
    adcs: int = Field(
        8, ge=1, le=4096, description="ADCs per PE, time-shared across the PE's crossbar columns (ISAAC: 8)."
    )
    shift_add_units: int = Field(
        4, ge=1, le=4096, description="Shift-and-add units per PE; each takes one ADC result per cycle."
    )
    input_register_bytes: int = Field(2048, ge=1, le=1 << 24, description="PE input register in bytes (ISAAC: 2 KB).")
    output_register_bytes: int = Field(256, ge=1, le=1 << 24, description="PE output register in bytes (ISAAC: 256 B).")


class CrossbarConfig(Node):
    """One ReRAM crossbar array with its row DACs and column sample-and-hold."""

    rows: int = Field(128, ge=2, le=8192, description="Word lines (rows) per crossbar, S in the TRQ paper.")
    cols: int = Field(128, ge=1, le=8192, description="Bit lines (columns) per crossbar.")
    cell_bits: int = Field(2, ge=1, le=8, description="Bits stored per ReRAM cell (Rcell).")
    dac_bits: int = Field(1, ge=1, le=8, description="Input bits applied per cycle by each row DAC (RDA).")
    read_latency_ns: float = Field(
        100.0, gt=0, le=1e6, description="Crossbar read latency in ns: DAC drive, settle and S+H latch (ISAAC: 100)."
    )


class DatapathConfig(Node):
    """Number formats of inputs, weights and partial sums; input and weight widths are the widest supported."""

    input_bits: int = Field(
        16, ge=1, le=32,
        description="Widest input (activation) bits Ki the hardware supports, fed bit-serially; each layer "
                    "runs at its own input tensor's bits, at most this.",
    )
    input_signed: bool = Field(
        False,
        description="The hardware takes signed inputs in two's complement (MSB cycle subtracted); a layer "
                    "whose input tensor is unsigned (after ReLU) runs unsigned.",
    )
    weight_bits: int = Field(
        16, ge=2, le=32,
        description="Widest weight bits Kw the hardware supports, signed symmetric (8-bit: -127..127); each "
                    "layer runs at its own weight_bits, at most this.",
    )
    weight_encoding: Literal["differential", "offset"] = Field(
        "differential",
        description="differential: +/- magnitudes on a crossbar pair; offset: w + 2^(Kw-1) stored unsigned.",
    )
    psum_bits: int = Field(16, ge=1, le=64, description="Width of the per-column partial-sum registers in S+A.")
    column_flip: bool = Field(
        False,
        description="ISAAC's column flip: a crossbar column whose cells sum to more than half their maximum "
                    "is stored complemented and its samples corrected digitally, so no sample exceeds half the "
                    "largest one and the ADC needs one bit less.",
    )


class LatencyConfig(Node):
    """Per-component latency overrides in ns; null takes the component table's value."""

    shift_add: float | None = Field(None, gt=0, le=1e6, description="Shift-and-add of one ADC result (ns).")
    register_access: float | None = Field(None, gt=0, le=1e6, description="PE input/output register access (ns).")
    edram_access: float | None = Field(None, gt=0, le=1e6, description="One eDRAM access of edram_width_bits (ns).")
    tile_bus: float | None = Field(None, gt=0, le=1e6, description="One tile-bus transfer of bus_width_bits (ns).")
    router_hop: float | None = Field(None, gt=0, le=1e6, description="One network hop of noc_link_bits (ns).")
    nfu: float | None = Field(None, gt=0, le=1e6, description="One NFU activation or pooling operation (ns).")
    config_load: float | None = Field(
        None, gt=0, le=1e6, description="Loading the ADC/S+A config registers for a layer (ns)."
    )


class ComponentsConfig(Node):
    """Which energy/area/latency table prices the hardware."""

    table: str = Field(
        "isaac_32nm",
        min_length=1,
        description="A shipped table name (isaac_32nm, trq_45nm) or a path to a component-table YAML file "
        "(relative to the YAML that names it).",
    )


class DeviceConfig(Node):
    """Analog non-idealities of the ReRAM cells (all ideal by default; docs/nonideal.md)."""

    program_sigma: float = Field(
        0.0, ge=0, le=1.0,
        description="Programming variation: relative sigma of each programmed cell's conductance above G_min, fixed "
                    "for a programmed chip (0 is ideal). Typical for 2-bit cells: 0.016 to 0.065 from the top level "
                    "to level 1 (Milo et al., IEEE IRPS 2021, as fitted in CrossSim's RRAM_Milo model), 0.028 to "
                    "0.17 (Wan et al., Nature 2022, as fitted in aihwkit's ReRamWan2022NoiseModel), 0.05 to 0.06 "
                    "(MNSIM 2.0 default, 5% of the resistance); docs/nonideal.md has the conversions.",
    )
    read_sigma: float = Field(
        0.0, ge=0, le=10.0,
        description="Read noise: sigma of each cell's conductance per read, in on-conductance steps (0 is ideal). "
                    "Typical: 1% to 3% of the cell's conductance range, i.e. 0.01 to 0.03 times (2^cell_bits - 1) "
                    "steps, 0.03 to 0.09 for 2-bit cells (aihwkit's ReRamWan2022NoiseModel note: about 1%; "
                    "NeuroSim V3.0 measured-device default 0.0289 of the conductance). Up to 10, as 8-bit cells "
                    "reach 7.4.",
    )
    stuck_at_gmin: float = Field(
        0.0, ge=0, le=1.0,
        description="Fraction of cells stuck at G_min (level 0), fixed per programmed chip. Typical: 0.09 (MNSIM "
                    "2.0 default Device_SAF, stuck at HRS).",
    )
    stuck_at_gmax: float = Field(
        0.0, ge=0, le=1.0,
        description="Fraction of cells stuck at G_max (the top level), fixed per programmed chip; "
                    "stuck_at_gmin + stuck_at_gmax is at most 1. Typical: 0.01 (MNSIM 2.0 default Device_SAF, stuck "
                    "at LRS); the two together, about 10%, match the faulty cells of an RRAM test chip "
                    "(Aguirre et al., Electronics 2021).",
    )
    on_off_ratio: float | None = Field(
        None, gt=1, le=1e9,
        description="G_max / G_min of a cell; null is infinite (G_min = 0, ideal). A finite ratio adds G_min "
                    "of every cell on a driven row to its bit-line sum. Typical: 4.5 to 150 (CrossSim RRAM_Milo "
                    "4.5, MNSIM 2.0 5, CrossSim and DNN+NeuroSim inference defaults 10, MLP+NeuroSim V3.0 21, "
                    "DNN+NeuroSim V1.3 Param.cpp 150).",
    )

    @model_validator(mode="after")
    def _stuck_fractions(self) -> DeviceConfig:
        if self.stuck_at_gmin + self.stuck_at_gmax > 1:
            raise ValueError("stuck_at_gmin + stuck_at_gmax must be at most 1")
        return self


class MappingConfig(Node):
    """How layers are placed onto crossbars."""

    replication: Literal["none", "balance"] = Field(
        "none",
        description="none: one copy of each layer; balance: replicate early layers as ISAAC does to balance "
        "the pipeline.",
    )
    max_replication: int = Field(
        64, ge=1, le=4096, description="Upper bound on copies of one layer under replication: balance."
    )


class Arch(Node):
    """One architecture design point: the whole validated, frozen configuration."""

    name: str = Field("custom", min_length=1, description="Name of this design point.")
    description: str = Field("", description="Free text shown by describe.")
    technology_nm: int = Field(
        32, ge=1, le=1000, description="Technology node in nm (informational; tables carry their own)."
    )
    clock_mhz: float = Field(100.0, gt=0, le=100_000, description="System clock in MHz; all timing is in cycles of it.")
    chip: ChipConfig = Field(default_factory=ChipConfig, description="Chip-level organisation.")
    tile: TileConfig = Field(default_factory=TileConfig, description="Tile-level organisation.")
    pe: PEConfig = Field(default_factory=PEConfig, description="PE-level organisation.")
    crossbar: CrossbarConfig = Field(default_factory=CrossbarConfig, description="Crossbar array geometry and cells.")
    datapath: DatapathConfig = Field(default_factory=DatapathConfig, description="Number formats.")
    adc: ADCConfig = Field(default_factory=ADCConfig, description="SAR ADC coding and registers.")
    latency_ns: LatencyConfig = Field(default_factory=LatencyConfig, description="Latency overrides (ns).")
    components: ComponentsConfig = Field(default_factory=ComponentsConfig, description="Component table selection.")
    mapping: MappingConfig = Field(default_factory=MappingConfig, description="Layer placement options.")
    device: DeviceConfig = Field(
        default_factory=DeviceConfig, description="Analog non-idealities of the cells (ideal by default)."
    )

    @property
    def clock(self) -> Clock:
        """The system clock (exact); `clock_mhz` is its YAML form."""
        return Clock.of_mhz(self.clock_mhz)

    @property
    def tile_clock(self) -> Clock:
        """The clock of the tile's digital logic: `tile.clock_mhz`, else the system clock."""
        return Clock.of_mhz(self.tile.clock_mhz) if self.tile.clock_mhz is not None else self.clock

    @property
    def noc_clock(self) -> Clock:
        """The clock of the network-on-chip links: `chip.noc_clock_mhz`, else the system clock."""
        return Clock.of_mhz(self.chip.noc_clock_mhz) if self.chip.noc_clock_mhz is not None else self.clock

    @property
    def input_cycles(self) -> int:
        """Bit-serial input cycles per input vector at the widest inputs (`datapath.input_bits`); a
        layer's own are `MatrixGeometry.input_cycles` at its bits. Peak rates use this one."""
        d, b = self.datapath, self.crossbar.dac_bits
        if d.input_signed:
            return math.ceil((d.input_bits - 1) / b) + 1
        return math.ceil(d.input_bits / b)

    @property
    def max_sample(self) -> int:
        """Largest possible bit-line sample: rows x max DAC level x max cell level; with
        `datapath.column_flip`, max DAC level x floor(rows x max cell level / 2)."""
        c = self.crossbar
        cells = c.rows * (2**c.cell_bits - 1)
        return (2**c.dac_bits - 1) * (cells // 2 if self.datapath.column_flip else cells)

    @property
    def lossless_bits(self) -> int:
        """ADC bits needed to convert every sample exactly (the TRQ paper's Eq. 2, exact form)."""
        return max(1, math.ceil(math.log2(self.max_sample + 1)))

    @property
    def adc_ops_per_cycle(self) -> Fraction:
        """A/D operations one ADC performs per system cycle (exact): `adc.ops_per_cycle`, else
        sample rate x resolution / clock. The one home of the ADC's rate (`adc_rate_source` says which)."""
        a = self.adc
        if a.ops_per_cycle is not None:
            return exact(a.ops_per_cycle)
        return exact(a.sample_rate_msps) * a.resolution / self.clock.mhz

    @property
    def adc_rate_source(self) -> str:
        """Where `adc_ops_per_cycle` comes from, in config keys."""
        if self.adc.ops_per_cycle is not None:
            return "adc.ops_per_cycle"
        return "adc.sample_rate_msps x adc.resolution / clock_mhz"

    @model_validator(mode="after")
    def _warn_lossy(self) -> Arch:
        need = self.lossless_bits
        a = self.adc
        if a.resolution < need:
            warnings.warn(
                f"{self.name}: adc.resolution={a.resolution} is below the lossless {need} bits for "
                f"{self.crossbar.rows} rows, {self.crossbar.dac_bits}-bit DACs and "
                f"{self.crossbar.cell_bits}-bit cells; "
                f"samples above {2**a.resolution - 1} clip",
                ConfigWarning,
                stacklevel=_caller_stacklevel(),
            )
        elif a.coarse_note:
            warnings.warn(f"{self.name}: {a.coarse_note}", ConfigWarning, stacklevel=_caller_stacklevel())
        return self
