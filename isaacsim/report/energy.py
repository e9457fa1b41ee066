"""The report of run directories (`isaacsim report DIR`): figures and a priced breakdown.

A run directory is what `isaacsim run --out DIR` writes (summary.json, config.yaml, events.*).
For each run the events are priced again (`isaacsim.energy.runs.reprice`) with `--table`, or
the run's own table, and the report writes, under `--out` (default DIR/report):

- breakdown.csv / breakdown.parquet: the priced tidy table;
- power_per_tile, energy_per_layer, chip_breakdown (.png and .svg);
- ops_per_conversion (.png and .svg): A/D operations per conversion per layer, all runs side by
  side (uniform against TRQ when the folder holds both).

With several runs, each run's files go into a subfolder named after it. Also `energy_lines`:
the text lines `isaacsim run` prints under its table (totals and the ADC share).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from isaacsim.adc.registers import ADCRegisters
from isaacsim.errors import ConfigError

if TYPE_CHECKING:
    from isaacsim.energy.price import EnergyReport


def run_dirs(root: str | os.PathLike) -> list[Path]:
    """[root] if it is a run directory, else its run subdirectories (sorted); ConfigError if none."""
    d = Path(root)
    if not d.is_dir():
        raise ConfigError(f"{root}: no such directory")
    if (d / "summary.json").exists():
        return [d]
    runs = sorted(p for p in d.iterdir() if p.is_dir() and (p / "summary.json").exists())
    if not runs:
        raise ConfigError(f"{root}: neither a run directory (no summary.json) nor a folder of run directories "
                          "(write one with isaacsim run ARCH WORKLOAD --out DIR)")
    return runs


def _eng(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    for scale, prefix in ((1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")):
        if abs(v) >= scale:
            return f"{v / scale:.4g} {prefix}{unit}"
    return f"{v:.3g} {unit}"


def energy_lines(e: dict | None) -> list[str]:
    """Totals of a summary's `energy` block, one line each (empty when there is none)."""
    if not e:
        return []
    if "error" in e:
        return [f"energy: not priced ({e['error']})"]
    top = sorted(e["by_component"].items(), key=lambda kv: -kv[1])[:4]
    total = e["energy_j"] or 1.0
    parts = ", ".join(f"{k} {v / total:.1%}" for k, v in top)
    power = (f", power {_eng(e['power_w'], 'W')} over the {e['time_s'] * 1e6:.3f} us latency"
             if e["power_w"] is not None else " (no timing: leakage and power not priced)")
    share = "-" if e["adc_share"] is None else f"{e['adc_share']:.1%}"
    table = e["table"] + (f", digest {e['table_digest']}" if e.get("table_digest") else "")
    return [f"energy per inference {_eng(e['energy_j'], 'J')} ({table}){power}",
            f"ADC {_eng(e['adc_energy_j'], 'J')} = {share} of the energy; largest: {parts}"]


class RunsTable:
    """The table `isaacsim report DIR` prints: one row per priced run; a line for each run skipped.
    `con`: a rich Console (default: stdout, `isaacsim.report.tables.console`)."""

    def __init__(self, con=None) -> None:
        from isaacsim.report.tables import console

        self.con = console() if con is None else con
        self.rows: list = []

    def skip(self, run: Path, s: dict) -> None:
        """Say (now) that `run` has no energy to report."""
        self.con.print(f"{run}: no energy to report ({(s.get('energy') or {}).get('error', 'no sample ran')})")

    def add(self, label: str, s: dict, rep: EnergyReport) -> None:
        """A row for the run whose summary is `s`, priced again as `rep` (`energy.runs.reprice`)."""
        from isaacsim.report.tables import Row

        cycles, seconds = s.get("latency_cycles"), s.get("latency_s")
        self.rows.append(Row([label, str(s.get("workload")), str(s.get("arch")), rep.table, _eng(rep.energy_j, "J"),
                              _eng(rep.power_w, "W"), "-" if rep.adc_share is None else f"{rep.adc_share:.1%}",
                              "-" if cycles is None else f"{cycles:,}",
                              "-" if seconds is None else f"{seconds * 1e3:.3f}"]))

    def show(self, written: list[Path], dest: Path) -> None:
        """The table, then how many figure files went where."""
        from isaacsim.report.tables import Column, print_table

        if self.rows:
            print_table(self.con, [Column("run", "left")],
                        [[Column(h, "left") for h in ("workload", "arch", "table")],
                         [Column("energy\n/ inference"), Column("power"), Column("ADC share")],
                         [Column("latency\ncycles"), Column("latency\nms")]], self.rows)
        self.con.print(f"wrote {len(written)} figure files under {dest}")


def draw_run(s: dict, rep: EnergyReport, where: Path) -> list[Path]:
    """breakdown.csv/.parquet and the figures of one priced run (`rep`, summary `s`) under `where`."""
    from isaacsim.report import figures

    try:
        where.mkdir(parents=True, exist_ok=True)
        rep.frame.to_csv(where / "breakdown.csv", index=False)
        rep.frame.to_parquet(where / "breakdown.parquet", index=False)
    except OSError as e:
        raise ConfigError(f"--out {where}: cannot write ({e.__class__.__name__}: {e.strerror or e})") from None
    name = f"{s.get('workload')} on {s.get('arch')} ({rep.table})"
    written: list[Path] = []
    if rep.time_s:
        written += figures.power_per_tile(rep.frame, where / "power_per_tile", title=f"Power per tile: {name}")
    written += figures.energy_per_layer(rep.frame, where / "energy_per_layer",
                                        title=f"Energy per inference by layer: {name}")
    if rep.time_s:
        written += figures.chip_breakdown(rep.frame, where / "chip_breakdown", title=f"Chip power: {name}")
    return written


def draw_ops(ops_runs: dict[str, list[dict]], dest: Path) -> list[Path]:
    """The A/D-operations-per-conversion figure of several runs' layers (label -> summary layers)."""
    from isaacsim.report import figures

    dest.mkdir(parents=True, exist_ok=True)
    return figures.ops_per_conversion(ops_runs, dest / "ops_per_conversion",
                                      title="A/D operations per conversion, per layer")


def ops_label(run: Path, s: dict, several: bool) -> str:
    """The legend label of a run in the ops-per-conversion figure."""
    return f"{run.name}: {_adc_label(s)}" if several else _adc_label(s)


def _adc_label(s: dict) -> str:
    modes = {(ly["adc"]["mode"], ly["adc"].get("bits"), ly["adc"]["resolution"]) for ly in s["layers"]}
    if len(modes) > 1:
        return "per-layer ADC"
    return ADCRegisters.from_dict(s["layers"][0]["adc"]).label()
