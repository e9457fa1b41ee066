"""Component tables: area, leakage, energy per action and latency per hardware unit, with sources.

A table is a YAML file validated by `ComponentTable` (see docs/components.md). Shipped tables:
`isaac_32nm` (ISAAC ISCA 2016) and `trq_45nm` (the TRQ paper's 45 nm baseline). An arch picks
one with `components.table: NAME` or a path to a YAML file. The hardware units themselves (what
a table must price, their counts, full rates, stages and colours) are registered in
`isaacsim.components.units` (`UNITS`).
"""

from isaacsim.components.loader import load_table, shipped_tables, table_path
from isaacsim.components.schema import ComponentEntry, ComponentTable
from isaacsim.components.units import REQUIRED_ACTIONS, UNITS, Size, StageSpec, Unit

__all__ = [
    "REQUIRED_ACTIONS",
    "ComponentEntry",
    "ComponentTable",
    "Size",
    "StageSpec",
    "UNITS",
    "Unit",
    "load_table",
    "shipped_tables",
    "table_path",
]
