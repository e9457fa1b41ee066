"""Figures that compare several runs for `isaacsim report DIR` (a folder of runs): A/D operations
per conversion per layer (`ops_per_conversion`) and the power breakdown of every run side by
side (`power_breakdown`, the Twin Range Quantization (TRQ) paper's Fig. 7). The shared style,
colours, units and saving are `isaacsim.report.figures`'."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from isaacsim.report.figures import (
    _FIGSIZE,
    _RUN_COLORS,
    OTHER,
    FigureError,
    _color,
    _figure,
    _fmt_j,
    _fmt_w,
    _n_merged,
    _short,
    _stacked_legend,
    _styled,
    group_minor,
    save,
)


def _resolution(ly: Mapping[str, Any]) -> float | None:
    adc = ly.get("adc") or {}
    r = adc.get("resolution")
    return float(r) if r is not None else None


def _conversions(runs: Mapping[str, Sequence[Mapping[str, Any]]]
                 ) -> tuple[list[str], dict[tuple[str, str], float], dict[str, set[float]]]:
    """(layers in order of first appearance, {(run, layer): ops per conversion}, {layer: ADC
    resolutions}) of the runs' layer summaries."""
    layers: list[str] = []
    value: dict[tuple[str, str], float] = {}
    res: dict[str, set[float]] = {}
    for label, rows in runs.items():
        for ly in rows:
            if "name" not in ly:
                raise FigureError(f"ops_per_conversion: run {label!r}: a layer has no 'name'")
            name = str(ly["name"])
            if name not in layers:
                layers.append(name)
            v = ly.get("ops_per_conversion")
            if v is not None and np.isfinite(float(v)):
                value[(label, name)] = float(v)
            r = _resolution(ly)
            if r is not None:
                res.setdefault(name, set()).add(r)
    return layers, value, res


def _run_bars(ax: Any, labels: list[str], layers: list[str], value: Mapping[tuple[str, str], float],
              group: float) -> None:
    """One bar per run in each layer's group, with its value over it when there are few bars."""
    k, n = len(labels), len(layers)
    bw = group / k
    x = np.arange(n)
    annotate = n * k <= 40
    top = max(value.values())
    for i, label in enumerate(labels):
        xs = x - group / 2 + bw * (i + 0.5)
        ys = np.array([value.get((label, name), np.nan) for name in layers])
        ax.bar(xs, np.nan_to_num(ys), width=bw * 0.92, color=_RUN_COLORS[i % len(_RUN_COLORS)],
               linewidth=0, label=str(label))
        if annotate:
            for xi, yi in zip(xs, ys, strict=True):
                ax.text(xi, (yi if np.isfinite(yi) else 0.0) + 0.01 * top,
                        f"{yi:.3g}" if np.isfinite(yi) else "n/a", ha="center", va="bottom",
                        fontsize=7 if k <= 3 else 6,
                        color="#333333" if np.isfinite(yi) else "#999999")


def _sar_reference(ax: Any, layers: list[str], res: Mapping[str, set[float]], group: float,
                   top: float) -> float:
    """The uniform SAR's ops per conversion (the ADC resolution): one line if every layer shares a
    resolution, else a dash over each layer's group. Returns the new top of the data."""
    all_res = sorted(set().union(*res.values())) if res else []
    if len(all_res) == 1:
        r = all_res[0]
        ax.axhline(r, color="#222222", linestyle="--", linewidth=1.1,
                   label=f"uniform SAR: {r:g}\n(the ADC resolution)")
        return max(top, r)
    first = True
    for xi, name in enumerate(layers):
        for r in sorted(res.get(name, ())):
            ax.hlines(r, xi - group / 2 - 0.05, xi + group / 2 + 0.05, colors="#222222",
                      linestyles="--", linewidth=1.1,
                      label="uniform SAR\n(the ADC resolution)" if first else None)
            first = False
    return max(top, max(all_res)) if all_res else top


@_styled
def ops_per_conversion(runs: Mapping[str, Sequence[Mapping[str, Any]]], stem: str | Path,
                       title: str | None = None) -> list[Path]:
    """Grouped bars of A/D operations per conversion per layer, one bar per run (dict order),
    with the uniform SAR's (the ADC resolution: one op per bit) as a dashed line. Layers are
    in order of first appearance over the runs; a layer a run lacks, or whose value is None,
    has no bar there."""
    if not isinstance(runs, Mapping) or not runs:
        raise FigureError("ops_per_conversion: nothing to draw: no runs given")
    layers, value, res = _conversions(runs)
    if not value:
        raise FigureError("ops_per_conversion: nothing to draw: no layer of any run has an "
                          f"ops_per_conversion value ({len(runs)} runs, {len(layers)} layers)")
    labels = list(runs)
    k, n = len(labels), len(layers)
    group = 0.8
    width = max(_FIGSIZE[0], min(14.0, 4.0 + 0.2 * n * k))
    fig, ax = _figure((width, _FIGSIZE[1]))
    _run_bars(ax, labels, layers, value, group)
    top = _sar_reference(ax, layers, res, group, max(value.values()))
    x = np.arange(n)
    ax.set_xticks(x)
    longest = max(len(s) for s in layers)
    rot = 0 if n <= 8 and longest <= 10 else (30 if n <= 30 else 60)
    ax.set_xticklabels([_short(s) for s in layers], rotation=rot, ha="right" if rot else "center",
                       rotation_mode="anchor")
    ax.set_xlim(-0.6 if n > 1 else -1.0, n - 0.4 if n > 1 else 1.0)
    ax.set_ylim(0, top * 1.12 if top > 0 else 1.0)
    ax.set_ylabel("A/D operations per conversion")
    ax.set_xlabel("layer")
    ax.set_title(title or "A/D operations per conversion")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="run",
              alignment="left")
    return save(fig, stem)


def _group_spans(groups: Sequence[str]) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """x positions of bars in groups (consecutive equal names; a gap of one bar between groups) and
    each group's (name, first x, last x)."""
    xs: list[float] = []
    spans: list[tuple[str, float, float]] = []
    x = 0.0
    for i, g in enumerate(groups):
        if i and g != groups[i - 1]:
            x += 0.6
        xs.append(x)
        if spans and spans[-1][0] == g and i and groups[i - 1] == g:
            spans[-1] = (g, spans[-1][1], x)
        else:
            spans.append((g, x, x))
        x += 1.0
    return np.array(xs), spans


@_styled
def power_breakdown(rows: pd.DataFrame, stem: str | Path, title: str | None = None,
                    value: str = "power_w") -> list[Path]:
    """One stacked bar per run, split by component (the TRQ paper's Fig. 7).

    `rows`: one row per (run, component) with columns `run`, `group`, `label`, `component` and
    `value` (`power_w` or `energy_j`); bars in order of first appearance of `run`, consecutive
    runs of one `group` side by side under its name, each bar named by its `label` (may hold a
    line break). Each bar is
    drawn relative to the total of its group's first bar (100 %), so groups of very different
    size share one axis; the bar's absolute total and its change against that first bar are
    written over it. Components under 1 % of all the bars together are merged into "other"."""
    if not isinstance(rows, pd.DataFrame):
        raise FigureError(f"power_breakdown: expected a pandas DataFrame, got {type(rows).__name__}")
    missing = [c for c in ("run", "group", "label", "component", value) if c not in rows.columns]
    if missing:
        raise FigureError(f"power_breakdown: the table lacks column(s) {', '.join(missing)}")
    order = [str(r) for r in pd.unique(rows["run"].astype(str))]
    df = rows.assign(run=rows["run"].astype(str), component=rows["component"].astype(str))
    raw = df.pivot_table(index="run", columns="component", values=value, aggfunc="sum", fill_value=0.0)
    raw = raw.reindex(order).fillna(0.0)
    raw.columns.name = None
    totals = raw.sum(axis=1)
    if len(raw) == 0 or not (totals > 0).all():
        empty = [r for r in order if not totals.get(r, 0) > 0]
        raise FigureError(f"power_breakdown: nothing to draw for run(s) {', '.join(empty) or '-'}: "
                          f"no non-zero {value}")
    first = df.drop_duplicates("run").set_index("run")
    groups = [str(first.loc[r, "group"]) for r in order]
    labels = [str(first.loc[r, "label"]) for r in order]
    ref = {}
    for r, g in zip(order, groups, strict=True):
        ref.setdefault(g, float(totals[r]))
    rel = raw.div([ref[g] for g in groups], axis=0) * 100.0
    wide = group_minor(rel)
    n = len(wide)
    xs, spans = _group_spans(groups)
    width = max(_FIGSIZE[0], min(16.0, 4.0 + 0.75 * n))
    fig, ax = _figure((width, _FIGSIZE[1] + 0.4))
    bottom = np.zeros(n)
    for comp in wide.columns:
        v = wide[comp].to_numpy()
        ax.bar(xs, v, bottom=bottom, width=0.8, color=_color(comp), linewidth=0)
        bottom = bottom + v
    fmt = _fmt_w if value == "power_w" else _fmt_j
    top = float(bottom.max())
    for x, r, b in zip(xs, order, bottom, strict=True):
        change = b - 100.0
        note = fmt(float(totals[r])) + ("" if abs(change) < 0.05 else f"\n{change:+.1f} %")
        ax.text(x, b + 0.01 * top, note, ha="center", va="bottom", fontsize=7, color="#333333")
    ax.set_xticks(xs)
    ax.set_xticklabels(["\n".join(_short(p, 20) for p in s.split("\n")) for s in labels], rotation=30 if n > 6 else 0,
                       ha="right" if n > 6 else "center", rotation_mode="anchor")
    below = (-0.16 if n > 6 else -0.1) - 0.07 * max(s.count("\n") for s in labels)  # under 2-line labels
    for g, a, b in spans:
        ax.text((a + b) / 2, below, _short(g, 30), transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=9, fontweight="bold")
    ax.set_xlim(xs[0] - 0.7, xs[-1] + 0.7)
    ax.set_ylim(0, top * 1.15)
    what = "power" if value == "power_w" else "energy per inference"
    ax.set_ylabel(f"{what} (% of the group's first bar)")
    ax.set_title(title or f"{what.capitalize()} breakdown by component")
    _stacked_legend(ax, list(wide.columns), _n_merged(rel, wide) if OTHER in wide else 0)
    return save(fig, stem)
