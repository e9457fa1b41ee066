"""The component-table schema: one frozen, strictly validated entry per hardware unit (SI units).

`ComponentSet` (the `components:` section) has one field per registered unit
(`components.units.UNITS`): required, or optional for a unit registered as such. It is
generated from the registry and generated again, in place, whenever a unit is registered or
unregistered.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, create_model, model_validator

from isaacsim.components.units import REQUIRED_ACTIONS, UNITS


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


class _SetBase(_Node):
    @model_validator(mode="after")
    def _check_actions(self) -> _SetBase:
        for name, action in REQUIRED_ACTIONS.items():
            entry = getattr(self, name)
            if entry is not None and action not in entry.energy_j:
                have = ", ".join(sorted(entry.energy_j))
                raise ValueError(f"components.{name}.energy_j: missing action {action!r} (has: {have})")
        return self


def _quoted(names: list[str]) -> str:
    q = [f"`{n}`" for n in names]
    return " and ".join(q) if len(q) <= 2 else ", ".join(q[:-1]) + " and " + q[-1]


def _component_set() -> type[_SetBase]:
    """The `components:` model of the units registered now."""
    fields = {u.name: (ComponentEntry | None, None) if u.optional else (ComponentEntry, ...) for u in UNITS}
    optional = [u.name for u in UNITS if u.optional]
    doc = "The units a table prices" + (f"; {_quoted(optional)} may be left out." if optional else ".")
    return create_model("ComponentSet", __base__=_SetBase, __doc__=doc, __module__=__name__, **fields)


ComponentSet = _component_set()


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

    def digest(self) -> str:
        """The first 16 hex digits of the SHA-256 of the table's validated content (canonical
        JSON, so comments and layout do not count): names the exact numbers that priced a run."""
        import hashlib
        import json

        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _refresh() -> None:
    """Generate `ComponentSet` again from the registry and rebuild `ComponentTable` around it."""
    global ComponentSet
    ComponentSet = _component_set()
    ComponentTable.model_fields["components"].annotation = ComponentSet
    ComponentTable.model_rebuild(force=True)


UNITS.subscribe(_refresh)
