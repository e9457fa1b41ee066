"""Energy and power figures for `isaacsim report DIR` (matplotlib; every figure as PNG and SVG).

This module owns the drawing only: it turns a priced breakdown (a tidy pandas DataFrame, one
row per (tile, pe, layer, component, action), with columns `tile`, `pe`, `layer`, `component`,
`action`, `count`, `energy_j`, `power_w`; `tile`/`pe`/`layer` may be NA) and per-layer ADC
summaries into figures. Pricing the breakdown and choosing which figures a report holds belong
to `isaacsim.energy` and the `report` command.

- `power_per_tile(frame, stem)`: stacked bars of power per tile, by component.
- `energy_per_layer(frame, stem)`: stacked bars of energy per inference per layer, by component
  (rows with no layer go to a last "(shared)" bar when they hold energy).
- `chip_breakdown(frame, stem)`: the chip's power by component, largest first, with shares.
- figures comparing runs (A/D operations per conversion, the power breakdown of each run):
  `isaacsim.report.compare`.
- `save(fig, stem)`: writes `<stem>.png` (150 dpi) and `<stem>.svg` (text kept as text, no
  date, fixed ids: the same figure gives the same bytes), creating the folder.

Conventions shared by the figures: each component has a fixed colour in every figure, the
colour and label its unit is registered with (`isaacsim.components.units`; `component_colors()`;
the ADC is the one saturated red), stacks run in the units' hardware order (ADC at the bottom, so
its share reads off the axis), components under 1 % of a figure's
total are merged into "other", units are chosen per figure from the largest bar (W/mW/uW/nW,
J/mJ/uJ/nJ/pJ), and zero-energy tiles and components are left out. The figures are drawn on
`matplotlib.figure.Figure` objects with the Agg renderer, never through a GUI backend and
without changing the caller's pyplot state or rcParams. A frame with no energy to plot raises
`FigureError` (a `ValueError`) that says so.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from isaacsim.components import UNITS
from isaacsim.errors import IsaacsimError

__all__ = [
    "FigureError",
    "chip_breakdown",
    "component_colors",
    "component_label",
    "energy_per_layer",
    "energy_unit",
    "group_minor",
    "layer_energy",
    "power_per_tile",
    "power_unit",
    "save",
    "tile_power",
]


class FigureError(IsaacsimError, ValueError):
    """The input holds nothing to draw (no energy, no layers) or lacks a needed column."""


OTHER = "other"
SHARED = "(shared)"
"""The bar that collects rows with no layer in `energy_per_layer`."""

_OTHER_COLOR = "#d9d9d9"
_EXTRA_COLORS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#5254a3", "#8ca252",
                 "#bd9e39", "#ad494a", "#a55194")
"""Colours for components that are not registered units, picked by a hash of the name (stable)."""

_RUN_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
               "#ccb974", "#64b5cd", "#c44e52")
"""Colours of the runs in `ops_per_conversion` (runs are not components)."""

_COLUMNS = ("tile", "pe", "layer", "component", "action", "count", "energy_j", "power_w")
_FIGSIZE = (10.0, 5.0)
_DPI = 150
_MINOR = 0.01
"""Components under this share of a figure's total are merged into "other"."""

_RC: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "svg.fonttype": "none",
    "svg.hashsalt": "isaacsim",
}


# ----------------------------------------------------------------------------- helpers

def component_colors() -> dict[str, str]:
    """The fixed colour (hex) of every registered unit (`components.units.UNITS`) and of "other";
    a fresh dict."""
    return {**{u.name: u.color for u in UNITS}, OTHER: _OTHER_COLOR}


def _color(component: str) -> str:
    if component in UNITS:
        return UNITS[component].color
    if component == OTHER:
        return _OTHER_COLOR
    return _EXTRA_COLORS[zlib.crc32(component.encode()) % len(_EXTRA_COLORS)]


def component_label(component: str) -> str:
    """The legend label of a component ("adc" -> "ADC"); unknown names are shown as given."""
    return UNITS[component].label if component in UNITS else component


def _order(components: Iterable[str]) -> list[str]:
    """Registered units in hardware order, then unknown components by name, then "other"."""
    names = set(components)
    known = [c for c in UNITS.names if c in names]
    extra = sorted(names - set(UNITS.names) - {OTHER})
    return known + extra + ([OTHER] if OTHER in names else [])


_PREFIXES = ((1.0, ""), (1e-3, "m"), (1e-6, "\u00b5"), (1e-9, "n"), (1e-12, "p"))


def _unit(value: float, base: str, smallest: float) -> tuple[float, str]:
    v = abs(float(value))
    ladder = [(f, p) for f, p in _PREFIXES if f >= smallest]
    if v == 0 or not np.isfinite(v):
        return 1.0, base
    for factor, prefix in ladder:
        if v >= factor:
            return factor, prefix + base
    factor, prefix = ladder[-1]
    return factor, prefix + base


def power_unit(value_w: float) -> tuple[float, str]:
    """`(factor, unit)` to show powers up to `value_w` (W) as `value / factor` in `unit`:
    the largest of W, mW, uW, nW that keeps the value at 1 or above (0 -> W)."""
    return _unit(value_w, "W", 1e-9)


def energy_unit(value_j: float) -> tuple[float, str]:
    """`(factor, unit)` for energies up to `value_j` (J), as `power_unit`: J, mJ, uJ, nJ, pJ."""
    return _unit(value_j, "J", 1e-12)


def _fmt(value: float, unit: str, factor: float) -> str:
    v = value / factor
    if abs(v) >= 100:
        return f"{v:,.0f} {unit}"
    return f"{v:#.3g}".rstrip(".") + f" {unit}"


def _short(name: str, limit: int = 28) -> str:
    """A tick label: names over `limit` characters keep their head and tail around an ellipsis."""
    if len(name) <= limit:
        return name
    tail = (limit - 1) // 2
    return name[:limit - 1 - tail] + "\u2026" + name[-tail:]


def _fmt_w(value_w: float) -> str:
    factor, unit = power_unit(value_w)
    return _fmt(value_w, unit, factor)


def _fmt_j(value_j: float) -> str:
    factor, unit = energy_unit(value_j)
    return _fmt(value_j, unit, factor)


def group_minor(wide: pd.DataFrame, threshold: float = _MINOR) -> pd.DataFrame:
    """Merge the columns (components) of `wide` whose total is under `threshold` of the grand
    total into one "other" column, last; drop all-zero columns; order the rest as the registered
    units (`components.units.UNITS`).

    A single minor component keeps its own name (an "other" of one hides it for nothing).
    """
    wide = wide.fillna(0.0)
    totals = wide.sum(axis=0)
    wide = wide.loc[:, totals != 0]
    totals = totals[totals != 0]
    grand = float(totals.sum())
    if grand == 0 or wide.shape[1] == 0:
        return wide
    minor = [c for c in totals.index if totals[c] / grand < threshold]
    if len(minor) >= 2:
        rest = wide.drop(columns=minor)
        other = wide[minor].sum(axis=1) + (rest[OTHER] if OTHER in rest else 0.0)
        wide = rest.drop(columns=[OTHER], errors="ignore").assign(**{OTHER: other})
    return wide[_order(wide.columns)]


def _check(frame: pd.DataFrame, value: str, what: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise FigureError(f"{what}: expected a pandas DataFrame (the priced breakdown), "
                          f"got {type(frame).__name__}")
    missing = [c for c in ("component", value) if c not in frame.columns]
    if missing:
        raise FigureError(f"{what}: the breakdown lacks column(s) {', '.join(missing)} "
                          f"(expected {', '.join(_COLUMNS)})")
    vals = pd.to_numeric(frame[value], errors="coerce").fillna(0.0)
    if len(frame) == 0 or not (vals != 0).any():
        raise FigureError(f"{what}: nothing to draw: the breakdown has no row with non-zero "
                          f"{value} ({len(frame)} rows)")
    out = frame.copy()
    out[value] = vals.astype(float)
    out["component"] = out["component"].astype(str)
    return out


def _styled(fn: Callable[..., list[Path]]) -> Callable[..., list[Path]]:
    """Draw and save under the module's rc settings, leaving the caller's untouched."""
    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> list[Path]:
        with mpl.rc_context(_RC):
            return fn(*args, **kwargs)
    return run


def _figure(size: tuple[float, float] = _FIGSIZE) -> tuple[Figure, Any]:
    fig = Figure(figsize=size, dpi=_DPI, layout="constrained")
    return fig, fig.add_subplot()


def _stacked_legend(ax: Any, columns: Sequence[str], n_other: int = 0) -> None:
    """Legend right of the axes, top entry = top of the stack."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=_color(c), label=component_label(c)
                     + (f" ({n_other})" if c == OTHER and n_other else "")) for c in columns]
    ax.legend(handles=handles[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False, title="component", alignment="left")


def _n_merged(wide_before: pd.DataFrame, wide_after: pd.DataFrame) -> int:
    before = {c for c in wide_before.columns if wide_before[c].fillna(0).sum() != 0}
    return len(before - set(wide_after.columns))


def save(fig: Figure, stem: str | Path) -> list[Path]:
    """Write `fig` as `<stem>.png` (150 dpi) and `<stem>.svg`, creating the folder; close it.

    The suffixes are appended (a stem `a/b.v2` gives `a/b.v2.png`). Returns both paths.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png = stem.with_name(stem.name + ".png")
    svg = stem.with_name(stem.name + ".svg")
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "isaacsim"}):
        fig.savefig(png, dpi=_DPI, metadata={"Software": None})
        if fig.get_layout_engine() is not None:  # laid out once for the PNG; keep it
            fig.set_layout_engine("none")
        fig.savefig(svg, metadata={"Date": None})
    if fig.canvas.manager is not None:  # a pyplot figure: unregister it too
        import matplotlib.pyplot as plt

        plt.close(fig)
    fig.clear()
    return [png, svg]


# ----------------------------------------------------------------------------- tables

def tile_power(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Power (W) per tile and component as `power_per_tile` draws it before grouping: rows are
    the tiles with non-zero power (sorted), columns the components; and the chip-level rows
    (no tile) summed per component (non-zero only)."""
    df = _check(frame, "power_w", "power_per_tile")
    if "tile" not in df.columns:
        raise FigureError("power_per_tile: the breakdown lacks column tile")
    tile = pd.to_numeric(df["tile"], errors="coerce")
    chip = df[tile.isna()].groupby("component")["power_w"].sum()
    df = df[tile.notna()].assign(tile=tile[tile.notna()].astype("int64"))
    if not (df["power_w"] != 0).any():
        raise FigureError("power_per_tile: nothing to draw: no tile has non-zero power_w "
                          "(all the power is in chip-level rows)")
    raw = df.pivot_table(index="tile", columns="component", values="power_w", aggfunc="sum",
                         fill_value=0.0)
    raw.columns.name = None
    return raw.loc[raw.sum(axis=1) != 0].sort_index(), chip[chip != 0]


def layer_energy(frame: pd.DataFrame) -> pd.DataFrame:
    """Energy per inference (J) per layer and component as `energy_per_layer` draws it before
    grouping: one row per layer in order of first appearance, then "(shared)" (the rows with
    no layer) if it holds energy; columns are the components."""
    df = _check(frame, "energy_j", "energy_per_layer")
    if "layer" not in df.columns:
        raise FigureError("energy_per_layer: the breakdown lacks column layer")
    layer = df["layer"].astype("string")
    order = [str(v) for v in pd.unique(layer.dropna())]
    shared = SHARED if SHARED not in order else "(no layer)"
    raw = df.assign(_layer=layer.fillna(shared)).pivot_table(
        index="_layer", columns="component", values="energy_j", aggfunc="sum", fill_value=0.0)
    raw.columns.name = None
    has_shared = shared in raw.index and raw.loc[shared].sum() != 0
    raw = raw.reindex(order + ([shared] if has_shared else [])).fillna(0.0)
    raw.index.name = "layer"
    return raw


# ----------------------------------------------------------------------------- figures

@_styled
def power_per_tile(frame: pd.DataFrame, stem: str | Path, title: str | None = None) -> list[Path]:
    """Stacked bars of power per tile by component (tiles with no power are left out; chip-level
    rows, with no tile, are named under the axis). Returns `[<stem>.png, <stem>.svg]`."""
    raw, chip_w = tile_power(frame)
    wide = group_minor(raw)
    n = len(wide)
    totals = wide.sum(axis=1).to_numpy()
    factor, unit = power_unit(float(totals.max()))
    vals = wide.to_numpy() / factor

    fig, ax = _figure()
    x = np.arange(n)
    bottom = np.zeros(n)
    many = n > 80
    for j, comp in enumerate(wide.columns):
        if many:  # one filled step path per component: light SVGs for hundreds of tiles
            ax.stairs(bottom + vals[:, j], np.arange(n + 1) - 0.5, baseline=bottom, fill=True,
                      color=_color(comp), linewidth=0)
        else:
            ax.bar(x, vals[:, j], bottom=bottom, width=0.8 if n > 1 else 0.5,
                   color=_color(comp), linewidth=0)
        bottom = bottom + vals[:, j]
    tiles = wide.index.to_numpy()
    ax.set_xlim(-0.6 if n > 1 else -1.0, n - 0.4 if n > 1 else 1.0)
    if n <= 30:
        ax.set_xticks(x)
    else:  # thinned, at round positions
        ax.xaxis.set_major_locator(MaxNLocator(nbins=24, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda p, _pos: str(tiles[int(round(p))]) if 0 <= round(p) < n and abs(p - round(p)) < 1e-6
        else ""))
    ax.set_ylabel(f"power ({unit})")
    gaps = np.flatnonzero(np.diff(tiles) > 1)
    xlabel = f"tile ({n} with power"
    if len(gaps):
        xlabel += ", idle tiles left out"
        if len(gaps) <= 30:  # mark where tiles were left out
            for g in gaps:
                ax.axvline(g + 0.5, color="#555555", linestyle=":", linewidth=0.9)
            xlabel += " at the dotted lines"
    xlabel += ")"
    if len(chip_w):
        parts = ", ".join(f"{component_label(c)} {_fmt_w(v)}"
                          for c, v in chip_w.sort_values(ascending=False).items())
        xlabel += f"   \u2014   not shown, chip-level: {parts}"
    ax.set_xlabel(xlabel)
    ax.margins(y=0.02)
    ax.set_ylim(0, None)
    tot = float(totals.sum())
    ax.set_title(title or "Power per tile")
    ax.text(1.0, 1.01, f"tiles total {_fmt_w(tot)}", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=8, color="#555555")
    _stacked_legend(ax, list(wide.columns), _n_merged(raw, wide) if OTHER in wide else 0)
    return save(fig, stem)


@_styled
def energy_per_layer(frame: pd.DataFrame, stem: str | Path, title: str | None = None) -> list[Path]:
    """Stacked bars of energy per inference per layer by component, layers in order of first
    appearance; rows with no layer make a last "(shared)" bar if they hold energy."""
    raw = layer_energy(frame)
    wide = group_minor(raw)
    n = len(wide)
    totals = wide.sum(axis=1).to_numpy()
    factor, unit = energy_unit(float(totals.max()))
    vals = wide.to_numpy() / factor

    width = max(_FIGSIZE[0], min(14.0, 4.0 + 0.3 * n))
    fig, ax = _figure((width, _FIGSIZE[1]))
    x = np.arange(n)
    bottom = np.zeros(n)
    for j, comp in enumerate(wide.columns):
        ax.bar(x, vals[:, j], bottom=bottom, width=0.75 if n > 1 else 0.5, color=_color(comp),
               linewidth=0)
        bottom = bottom + vals[:, j]
    ax.set_xticks(x)
    labels = [_short(str(r)) for r in wide.index]
    longest = max((len(s) for s in labels), default=0)
    rot = 0 if n <= 6 and longest <= 10 else (30 if n <= 30 else 60)
    ax.set_xticklabels(labels, rotation=rot, ha="right" if rot else "center",
                       rotation_mode="anchor")
    if n > 60:  # keep every label's slot readable: thin them
        step = int(np.ceil(n / 60))
        for i, t in enumerate(ax.get_xticklabels()):
            t.set_visible(i % step == 0)
    if n > 1:
        ax.set_xlim(-0.6, n - 0.4)
    else:
        ax.set_xlim(-1.0, 1.0)
    if n <= 30:  # totals over the bars
        top = float(totals.max()) / factor
        for xi, t in zip(x, totals / factor, strict=True):
            ax.text(xi, t + 0.01 * top, f"{t:.3g}", ha="center", va="bottom", fontsize=7,
                    color="#333333")
        ax.set_ylim(0, top * 1.08)
    ax.set_ylabel(f"energy per inference ({unit})")
    ax.set_xlabel("layer")
    tot = float(totals.sum())
    ax.set_title(title or "Energy per inference by layer")
    ax.text(1.0, 1.01, f"total {_fmt_j(tot)}", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=8, color="#555555")
    _stacked_legend(ax, list(wide.columns), _n_merged(raw, wide) if OTHER in wide else 0)
    return save(fig, stem)


@_styled
def chip_breakdown(frame: pd.DataFrame, stem: str | Path, title: str | None = None,
                   threshold: float = 0.001) -> list[Path]:
    """Horizontal bars of the chip's power by component, largest at the top, each with its share
    and value; the total in the title. Components under `threshold` (0.1 %) go to "other"."""
    df = _check(frame, "power_w", "chip_breakdown")
    raw = df.groupby("component")["power_w"].sum().to_frame().T
    wide = group_minor(raw, threshold)
    s = wide.iloc[0]
    merged = _n_merged(raw, wide) if OTHER in s.index else 0
    s = s.sort_values(ascending=True)  # barh draws bottom-up: largest on top
    if OTHER in s.index:  # "other" goes last (bottom) whatever its size
        s = pd.concat([s[[OTHER]], s.drop(OTHER)])
    total = float(s.sum())
    factor, unit = power_unit(float(s.max()))
    n = len(s)
    fig, ax = _figure((_FIGSIZE[0], max(2.6, min(_FIGSIZE[1], 1.1 + 0.3 * n))))
    y = np.arange(n)
    ax.barh(y, s.to_numpy() / factor, height=0.7, color=[_color(c) for c in s.index], linewidth=0)
    ax.set_yticks(y)
    ax.set_yticklabels([component_label(c) + (f" ({merged})" if c == OTHER else "")
                        for c in s.index])
    top = float(s.max()) / factor
    for yi, (comp, v) in zip(y, s.items(), strict=True):
        ax.text(v / factor + 0.01 * top, yi, f"{v / total:.1%}   {_fmt(v, unit, factor)}",
                va="center", ha="left", fontsize=8,
                fontweight="bold" if comp == "adc" else "normal")
    ax.set_xlim(0, top * 1.32)
    ax.set_ylim(-0.6, n - 0.4)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)
    ax.set_xlabel(f"power ({unit})")
    head = title or "Chip power by component"
    ax.set_title(f"{head} \u2014 total {_fmt_w(total)}")
    return save(fig, stem)
