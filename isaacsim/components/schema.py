"""The component-table schema: one frozen, strictly validated entry per hardware unit (SI units)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, model_validator

REQUIRED_ACTIONS: dict[str, str] = {
    # PE (ISAAC's IMA)
    "adc": "op",  # one A/D operation (one SAR bit decision); paper 000 Eq. 6: E = e_op x ops
    "dac": "drive",  # one row driven for one crossbar read
    "sh": "sample",  # one column sampled per crossbar read
    "crossbar": "read",  # one whole-array read (all rows driven, all columns sensed)
    "shift_add": "add",  # one ADC result shifted and added into a partial sum
    "input_register": "read_byte",
    "output_register": "write_byte",
    "trq_config": "write",  # loading one ADC's TRQ config register
    # tile
    "edram": "read_byte",
    "tile_bus": "byte_hop",
    "router": "byte_hop",
    "tile_shift_add": "add",
    "sigmoid": "op",
    "maxpool": "op",
    "tile_output_register": "write_byte",
    # chip
    "hypertransport": "byte_hop",
}
"""Each component's full-rate action: the one whose energy x full rate is its peak dynamic power."""


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Published(_Node):
    """A published group figure that an entry's per-unit numbers were divided out of."""

    count: float = Field(gt=0, description="Units the published figure covers (ISAAC: 8 ADCs per IMA).")
    power_w: float = Field(ge=0, description="Published power of the group at full activity (W).")
    area_mm2: float = Field(ge=0, description="Published area of the group (mm2).")


class ComponentEntry(_Node):
    """One hardware unit: per-unit area and leakage, energy per named action, latency and source."""

    area_mm2: float = Field(ge=0, description="Area of one unit in mm2.")
    leakage_w: float = Field(0.0, ge=0, description="Static power of one unit in W (0: folded into dynamic).")
    energy_j: dict[str, NonNegativeFloat] = Field(
        min_length=1, description="Energy per action in J, by action name (adc: op; crossbar: read; ...)."
    )
    latency_ns: float | None = Field(None, gt=0, description="Latency of one full-rate action in ns.")
    technology_nm: int = Field(ge=1, le=1000, description="Technology node the numbers belong to (nm).")
    source: str = Field(min_length=1, description="Citation: paper + table, or repository + file path.")
    derivation: str = Field("", description="How the per-unit numbers were derived from the source.")
    capacity_bytes: float | None = Field(
        None, gt=0, description="Storage size the area/leakage refer to; scaled linearly to the arch's size."
    )
    width_bits: float | None = Field(
        None, gt=0, description="Datapath width the area/leakage refer to; scaled linearly to the arch's width."
    )
    full_rate_per_s: float | None = Field(
        None, ge=0, description="Full-rate actions per second, for units whose rate the arch does not set."
    )
    published: Published | None = Field(None, description="The published group figure, when there is one.")


class ComponentSet(_Node):
    """The units a table prices; `trq_config` and `hypertransport` may be left out."""

    adc: ComponentEntry
    dac: ComponentEntry
    sh: ComponentEntry
    crossbar: ComponentEntry
    shift_add: ComponentEntry
    input_register: ComponentEntry
    output_register: ComponentEntry
    trq_config: ComponentEntry | None = None
    edram: ComponentEntry
    tile_bus: ComponentEntry
    router: ComponentEntry
    tile_shift_add: ComponentEntry
    sigmoid: ComponentEntry
    maxpool: ComponentEntry
    tile_output_register: ComponentEntry
    hypertransport: ComponentEntry | None = None

    @model_validator(mode="after")
    def _check_actions(self) -> ComponentSet:
        for name, action in REQUIRED_ACTIONS.items():
            entry = getattr(self, name)
            if entry is not None and action not in entry.energy_j:
                have = ", ".join(sorted(entry.energy_j))
                raise ValueError(f"components.{name}.energy_j: missing action {action!r} (has: {have})")
        return self


class ClockReference(_Node):
    """The operating point at which published powers were measured (the full-activity rates)."""

    clock_mhz: float | None = Field(None, gt=0, description="System clock of the published design (MHz).")
    adc_sample_rate_msps: float | None = Field(None, gt=0, description="ADC conversions per microsecond.")
    adc_resolution: int | None = Field(None, ge=1, le=16, description="ADC resolution in bits.")
    crossbar_read_ns: float | None = Field(None, gt=0, description="Crossbar read period (ns).")
    note: str = Field("", description="Free text: how the rates were used.")


class ComponentTable(_Node):
    """A whole component table: metadata plus one entry per hardware unit."""

    name: str = Field(min_length=1, description="Table name (the file stem for shipped tables).")
    description: str = Field("", description="Free text.")
    technology_nm: int = Field(ge=1, le=1000, description="Main technology node of the table (nm).")
    source: str = Field(min_length=1, description="Main citation of the table.")
    clock_reference: ClockReference | None = Field(None, description="Rates the powers were published at.")
    leakage_note: str = Field("", description="How leakage is treated.")
    components: ComponentSet

    def entry(self, name: str) -> ComponentEntry | None:
        return getattr(self.components, name)
