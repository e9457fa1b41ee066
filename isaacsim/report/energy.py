"""The report of run directories (`isaacsim report DIR`): figures and a priced breakdown.

A run directory is what `isaacsim run --out DIR` writes (summary.json, config.yaml, events.*).
For each run the events are priced again (`isaacsim.energy.runs.reprice`) with `--table`, or
the run's own table, and the report writes, under `--out` (default DIR/report):

- breakdown.csv / breakdown.parquet: the priced tidy table;
- power_per_tile, energy_per_layer, chip_breakdown (.png and .svg);
- ops_per_conversion (.png and .svg): A/D operations per conversion per layer, all runs side by
  side (uniform against TRQ when the folder holds both);
- with several priced runs, power_breakdown (.png and .svg) and power_breakdown.csv: one stacked
  bar per run, by component, runs grouped by workload, uniform ADCs (widest first) before TRQ
  (the TRQ paper's Fig. 7; `draw_power_breakdown`).

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
    import pandas as pd

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
    from isaacsim.report import compare

    dest.mkdir(parents=True, exist_ok=True)
    return compare.ops_per_conversion(ops_runs, dest / "ops_per_conversion",
                                      title="A/D operations per conversion, per layer")


def ops_label(run: Path, s: dict, several: bool) -> str:
    """The legend label of a run in the ops-per-conversion figure."""
    return f"{run.name}: {_adc_label(s)}" if several else _adc_label(s)


def _modes(s: dict) -> list[dict]:
    return [ly["adc"] for ly in s.get("layers") or [] if ly.get("adc")]


def _ranged(a: dict) -> bool:
    """The layer's ADC kind has twin ranges (TRQ), as its kind says."""
    from isaacsim.adc.kinds import KINDS

    kind = KINDS.get(a.get("mode"))
    return bool(kind is not None and kind.has_ranges)


def bar_label(s: dict) -> str:
    """The name of a run's ADC under its bar: `uniform 6b`, `TRQ`, `TRQ, per-layer` (calibrated
    registers that differ between layers), `ideal 8b`."""
    adcs = _modes(s)
    if not adcs:
        return "-"
    ranged = [a for a in adcs if _ranged(a)]
    if ranged:
        name = str(ranged[0]["mode"]).upper()
        kinds = {tuple(sorted((k, str(v)) for k, v in a.items())) for a in adcs}
        return name if len(kinds) == 1 else f"{name}, per-layer"
    return _adc_label(s)


def _bar_key(s: dict) -> tuple[int, int]:
    """ADCs of one range first (uniform, ideal), widest first; then twin-range kinds (TRQ)."""
    adcs = _modes(s)
    if adcs and not any(_ranged(a) for a in adcs):
        return 0, -max(int(a.get("bits") or a.get("resolution") or 0) for a in adcs)
    return 1, 0


def breakdown_table(entries: list[tuple[str, dict, EnergyReport]]) -> pd.DataFrame:
    """The numbers behind `power_breakdown`: one row per (run, component with energy), runs grouped by
    workload (in order of first appearance), uniform before TRQ within a group. `entries`: (run
    name, summary, priced report). Columns: group (the workload), run, adc (the bar's label), arch,
    table, component, energy_j (per inference), power_w (over the latency; empty without timing),
    share (of the run's energy) and relative (of the energy of the group's first run)."""
    import pandas as pd

    first: dict[str, int] = {}
    for _, s, _ in entries:
        first.setdefault(str(s.get("workload")), len(first))
    ordered = sorted(entries, key=lambda e: (first[str(e[1].get("workload"))], *_bar_key(e[1]), e[0]))
    rows: list[dict] = []
    ref: dict[str, float] = {}
    for name, s, rep in ordered:
        group = str(s.get("workload"))
        by = rep.frame.groupby("component")["energy_j"].sum()
        total = float(by.sum())
        ref.setdefault(group, total)
        for comp, e in by.items():
            if e == 0:
                continue
            rows.append({"group": group, "run": name, "adc": bar_label(s), "arch": s.get("arch"),
                         "table": rep.table, "component": str(comp), "energy_j": float(e),
                         "power_w": float(e) / rep.time_s if rep.time_s else None,
                         "share": float(e) / total if total else None,
                         "relative": float(e) / ref[group] if ref[group] else None})
    return pd.DataFrame(rows, columns=["group", "run", "adc", "arch", "table", "component", "energy_j",
                                       "power_w", "share", "relative"])


def draw_power_breakdown(entries: list[tuple[str, dict, EnergyReport]], dest: Path) -> list[Path]:
    """power_breakdown.csv (`breakdown_table`) and the figure (`compare.power_breakdown`): power when
    every run has a time, else energy per inference. Returns the figure files."""
    from isaacsim.report import compare

    table = breakdown_table(entries)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        table.to_csv(dest / "power_breakdown.csv", index=False)
    except OSError as e:
        raise ConfigError(f"--out {dest}: cannot write ({e.__class__.__name__}: {e.strerror or e})") from None
    timed = all(rep.time_s for _, _, rep in entries)
    value = "power_w" if timed else "energy_j"
    runs = table.drop_duplicates("run")
    clash = runs.duplicated(["group", "adc"], keep=False)
    dup = set(runs.loc[clash, "run"])
    rows = table.assign(label=[f"{a}\n{r}" if r in dup else a
                               for r, a in zip(table["run"], table["adc"], strict=True)])
    tables = sorted(set(table["table"]))
    what = "Power" if timed else "Energy per inference"
    return compare.power_breakdown(rows, dest / "power_breakdown", value=value,
                                   title=f"{what} by component, uniform against TRQ ADC ({', '.join(tables)})")


def _adc_label(s: dict) -> str:
    modes = {(ly["adc"]["mode"], ly["adc"].get("bits"), ly["adc"]["resolution"]) for ly in s["layers"]}
    if len(modes) > 1:
        return "per-layer ADC"
    return ADCRegisters.from_dict(s["layers"][0]["adc"]).label()
