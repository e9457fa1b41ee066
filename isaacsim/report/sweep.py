"""The report of a sweep directory (`isaacsim sweep --out DIR`; `isaacsim report SWEEPDIR` draws it).

This module owns what a sweep's report holds and which rows each part shows: the Pareto fronts
(`pareto_front`), the heat-map cells over two swept keys (`heatmap_cells`), the design point whose
per-tile power is drawn (`default_points`, `find_point`), the options resolved against a sweep
(`select`), the figures and `summary.csv` (`write_report`) and the summary table (`print_summary`).
Points that differ only in their seed are folded by `isaacsim.report.sweep_seeds` (heat maps of the
mean, `seeds.csv`).
The drawing style, units and file writing come from `isaacsim.report.figures`; the directory's
layout from `isaacsim.sweep.store`. Matplotlib is imported only when figures are drawn.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from isaacsim.errors import ConfigError
from isaacsim.report.sweep_seeds import mean_over_seeds, seed_table, seeds_of
from isaacsim.sweep import store as st

NULL = "null"
"""The label of a None/NaN swept value (an axis category of its own)."""
DEFAULT_METRICS = ("energy_j", "accuracy")
ACCURACY_SLACK = 0.01
"""The default point is the lowest-energy one within this much accuracy (1 pp) of the best."""
_PERCENT = {"accuracy", "reference_accuracy", "agreement", "adc_share"}
_BASE_UNIT = {"energy_j": "J", "adc_energy_j": "J", "power_w": "W", "latency_s": "s", "sim_s": "s",
              "point_s": "s", "area_mm2": "mm\u00b2", "area_used_mm2": "mm\u00b2"}


# ----------------------------------------------------------------------------- pure selection

def pareto_front(df: pd.DataFrame, x: str, y: str, minimize_y: bool = True) -> pd.DataFrame:
    """The rows of `df` no other row dominates, minimising `x` and minimising (or, with
    `minimize_y=False`, maximising) `y`, sorted by `x` (then best `y` first; equal rows keep their
    order). A row dominates another when it is no worse in both and better in one, so exact
    duplicates on the front are all kept. Rows with NaN (or None) in `x` or `y` are never on it."""
    xv = pd.to_numeric(df[x], errors="coerce").to_numpy(float) + 0.0  # + 0.0: -0.0 == 0.0
    yv = pd.to_numeric(df[y], errors="coerce").to_numpy(float) + 0.0
    v = yv if minimize_y else -yv
    idx = np.flatnonzero(~(np.isnan(xv) | np.isnan(v)))
    idx = idx[np.lexsort((v[idx], xv[idx]))]
    on: list[int] = []
    best = np.inf
    i = 0
    while i < len(idx):
        j = i
        while j < len(idx) and xv[idx[j]] == xv[idx[i]]:
            j += 1
        low = v[idx[i]]  # the best y at this x (sorted)
        if low < best:  # better than every row with a smaller x
            on += [k for k in idx[i:j] if v[k] == low]
            best = low
        i = j
    return df.iloc[on]


def tie_groups(df: pd.DataFrame, x: str, y: str) -> list[list[Any]]:
    """The index labels of `df`'s rows grouped by equal (`x`, `y`): one group per distinct position,
    in order of first appearance, each group's rows in `df`'s order. Values compare exactly
    (-0.0 equals 0.0); rows with NaN (or None) in `x` or `y` are in no group."""
    xv = pd.to_numeric(df[x], errors="coerce").to_numpy(float) + 0.0
    yv = pd.to_numeric(df[y], errors="coerce").to_numpy(float) + 0.0
    groups: dict[tuple[float, float], list[Any]] = {}
    for i, a, b in zip(df.index, xv, yv, strict=True):
        if not (math.isnan(a) or math.isnan(b)):
            groups.setdefault((float(a), float(b)), []).append(i)
    return list(groups.values())


def value_label(v: Any) -> str:
    """A swept value as an axis or point label: None/NaN -> "null", 8.0 -> "8"."""
    if v is None or (pd.api.types.is_scalar(v) and pd.isna(v)):
        return NULL
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).lower()
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else f"{f:.6g}"
    return str(v)


def axis_order(values: pd.Series) -> list[str]:
    """The distinct labels of a swept column: numerically ordered when every non-null value is a
    number, else in order of first appearance; "null" last."""
    labels = list(dict.fromkeys(values.map(value_label)))
    has_null = NULL in labels
    labels = [s for s in labels if s != NULL]
    try:
        labels.sort(key=float)
    except ValueError:
        pass
    return labels + ([NULL] if has_null else [])


def heatmap_cells(df: pd.DataFrame, xkey: str, ykey: str, by: str = "energy_j") -> pd.DataFrame:
    """One row per (`xkey`, `ykey`) cell: among the rows sharing the cell (by `value_label`, so
    None/NaN is a cell of its own), the one with the lowest `by` (ties: the lowest point index).
    Adds the columns `_x` and `_y` (the cell's labels)."""
    d = df.assign(_x=df[xkey].map(value_label), _y=df[ykey].map(value_label),
                  _by=pd.to_numeric(df[by], errors="coerce"))
    order = ["_by", "point"] if "point" in d.columns else ["_by"]
    d = d.sort_values(order, na_position="last", kind="mergesort")
    return d.drop_duplicates(["_x", "_y"]).drop(columns="_by")


def default_points(df: pd.DataFrame, slack: float = ACCURACY_SLACK) -> pd.DataFrame:
    """Per workload (first-appearance order), the ok point of lowest energy whose accuracy is
    within `slack` of the workload's best (lowest energy outright when no point has accuracy);
    ties go to the lowest point index. One row per workload, with `df`'s index."""
    ok = df[df["status"] == "ok"]
    picks = []
    for _, g in ok.groupby("workload", sort=False):
        acc = pd.to_numeric(g["accuracy"], errors="coerce")
        if acc.notna().any():
            g = g[acc >= acc.max() - slack - 1e-12]
        e = pd.to_numeric(g["energy_j"], errors="coerce")
        picks.append(g.assign(_e=e).sort_values(["_e", "point"], na_position="last", kind="mergesort").index[0])
    return ok.loc[picks]


def find_point(df: pd.DataFrame, text: str) -> pd.Series:
    """The row `--point` names: a point index, or a prefix of its config hash. ConfigError when
    none or several match, or when the point failed."""
    t = str(text).strip().lower()
    hit = df[df["point"].astype(str) == t] if t.isdigit() else df.iloc[:0]
    if hit.empty and t:
        hit = df[df["hash"].astype(str).str.lower().str.startswith(t)]
    if hit.empty:
        pts = pd.to_numeric(df["point"], errors="coerce")
        raise ConfigError(f"--point {text}: no such point in this sweep (indices {int(pts.min())}..{int(pts.max())}, "
                          f"or a config hash prefix such as {df['hash'].iloc[0]})")
    if len(hit) > 1:
        raise ConfigError(f"--point {text}: the hash prefix matches {len(hit)} points "
                          f"({', '.join(map(str, hit['point']))}); give more characters")
    row = hit.iloc[0]
    if row["status"] != "ok":
        raise ConfigError(f"--point {text}: point {row['point']} failed ({row.get('error')}); choose a finished point")
    return row


# ----------------------------------------------------------------------------- loading and options

def _load(root: Path) -> tuple[pd.DataFrame, list[str], list[str], list[list[str]]]:
    """The rows (journal first: it is never behind the tables), swept keys and workload order."""
    try:
        spec = json.loads((root / st.SPEC).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{root / st.SPEC}: cannot read ({type(e).__name__}: {e})") from None
    keys = [str(k) for k in spec.get("keys") or []]
    df = st.ResultStore(root, keys, read_only=True).frame()
    keys = [c for c in df.columns if c not in st.RESERVED]
    for c in st.METRICS + ["sim_s", "calib_s", "point_s", "seed"]:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    order = [w.get("label") for w in spec.get("workloads") or []]
    workloads = [w for w in dict.fromkeys(order + list(df["workload"])) if w in set(df["workload"])]
    groups = [[str(k) for k in g.get("keys") or []] for g in spec.get("groups") or []]
    return df, keys, workloads, groups


def _varying(df: pd.DataFrame, keys: list[str]) -> list[str]:
    return [k for k in keys if df[k].map(value_label).nunique() > 1]


def _heat_keys(ok: pd.DataFrame, keys: list[str], heatmap: str | None,
               groups: list[list[str]] | None = None) -> tuple[str, str] | None:
    if heatmap is None:  # the first two varying keys, from different axis groups when possible
        vary = _varying(ok, keys)
        group_of = {k: i for i, g in enumerate(groups or []) for k in g}
        apart = [k for i, k in enumerate(vary)
                 if k not in group_of or all(group_of.get(j) != group_of[k] for j in vary[:i])]
        pick = apart if len(apart) >= 2 else vary
        return (pick[0], pick[1]) if len(pick) >= 2 else None
    pair = [k.strip() for k in heatmap.split(",")]
    if len(pair) != 2 or pair[0] == pair[1]:
        raise ConfigError(f"--heatmap {heatmap}: expected two different swept keys KEY,KEY "
                          f"(swept: {', '.join(keys) or 'none'})")
    for k in pair:
        if k not in keys:
            raise ConfigError(f"--heatmap {heatmap}: {k!r} is not a swept key (swept: {', '.join(keys) or 'none'})")
    return pair[0], pair[1]


def _metrics(df: pd.DataFrame, keys: list[str], metric: list[str] | None) -> list[str]:
    numeric = [c for c in df.columns if c not in st.META and c not in keys and c not in st.POINT_INFO
               and pd.api.types.is_numeric_dtype(df[c]) and c != "point"]
    for m in metric or []:
        if m not in numeric:
            raise ConfigError(f"--metric {m}: not a numeric result column (one of: {', '.join(numeric)})")
    return list(dict.fromkeys(metric or DEFAULT_METRICS))


def _short_values(row: pd.Series, keys: list[str], limit: int = 24) -> str:
    """A point's label on a figure: its values of `keys` joined by commas, or pN when long."""
    text = ",".join(value_label(row[k]) for k in keys)
    return text if keys and len(text) <= limit else f"p{row['point']}"


def tie_label(rows: pd.DataFrame, keys: list[str], short: bool = False, limit: int = 32) -> str:
    """The one label of points that sit at the same position of a figure. One point: its values
    (`_short_values`; pN when `short`). Several: their values with those that differ joined by "/"
    ("uniform,5,2/4/8") when the points are every combination of those values and it fits in
    `limit` characters, else "N points: p0, p1, p2" (the first three, then "+K")."""
    if len(rows) == 1:
        row = rows.iloc[0]
        return f"p{row['point']}" if short else _short_values(row, keys)
    values = [axis_order(rows[k]) for k in keys]
    if keys and not short and math.prod(len(v) for v in values) == len(rows):
        text = ",".join("/".join(v) for v in values)
        if len(text) <= limit:
            return text
    pts = [f"p{p}" for p in rows["point"]]
    return f"{len(pts)} points: " + ", ".join(pts[:3]) + (f", +{len(pts) - 3}" if len(pts) > 3 else "")


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", str(name)).strip("_") or "workload"


# ----------------------------------------------------------------------------- drawing

def _scale(fg: Any, metric: str, top: float) -> tuple[float, str]:
    """`(factor, unit)` to show `metric` values up to `top`."""
    if metric in _PERCENT:
        return 0.01, "%"
    base = _BASE_UNIT.get(metric)
    if base == "J":
        return fg.energy_unit(top)
    if base == "W":
        return fg.power_unit(top)
    if base == "s":
        return fg._unit(top, "s", 1e-9)
    return 1.0, base or ""


def _cell_text(fg: Any, v: float, factor: float, unit: str) -> str:
    if unit == "%":
        return f"{v * 100:.1f} %"
    if factor != 1.0 or unit:
        return fg._fmt(v, unit, factor)
    return f"{v:.3g}"


def _panels(n: int, size: tuple[float, float]) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    from isaacsim.report import figures as fg

    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows + 0.5), dpi=fg._DPI, layout="constrained")
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _suptitle(fig: Any, head: str, sub: str) -> None:
    """The figure's title, with `sub` wrapped to the figure's width under it in smaller type."""
    import textwrap

    width = max(40, int(fig.get_figwidth() * 13))
    fig.suptitle(head + ("\n" + textwrap.fill(sub, width) if sub else ""), fontsize=10 if not sub else 9)


def front_legend(sizes: list[int]) -> str:
    """The legend entry of a Pareto front whose distinct positions hold `sizes` points each:
    "Pareto-optimal (3)" without ties, else its points, positions and tied points."""
    n, tied = sum(sizes), sum(k for k in sizes if k > 1)
    if not tied:
        return f"Pareto-optimal ({n})"
    where = "1 position" if len(sizes) == 1 else f"{len(sizes)} positions"
    return f"Pareto-optimal: {n} points\nat {where} ({tied} tied)"


def _pareto_fig(fg: Any, ok: pd.DataFrame, workloads: list[str], keys: list[str], y: str) -> Any:
    """The energy-vs-`y` figure, one panel per workload: every point in grey, the front in red
    (one marker and one label per distinct position, tied points sharing it), the legend right
    of each panel. The layout is done and frozen, so the labels keep the places `_place_labels`
    found for them."""
    maximize = y == "accuracy"
    fig, axes = _panels(len(workloads), (6.0, 3.8))
    vary = _varying(ok, keys)
    any_tie = False
    labels: list[tuple[Any, list[Any], list[tuple[float, float]]]] = []
    for ax, wl in zip(axes, workloads, strict=True):
        g = ok[ok["workload"] == wl]
        front = pareto_front(g, "energy_j", y, minimize_y=not maximize)
        groups = [front.loc[i] for i in tie_groups(front, "energy_j", y)]
        ef, eu = fg.energy_unit(float(g["energy_j"].max()))
        yf, yu = _scale(fg, y, float(g[y].abs().max()))
        ax.scatter(g["energy_j"] / ef, g[y] / yf, s=14, color="#b0b0b0", linewidth=0, label="point")
        ax.step(front["energy_j"] / ef, front[y] / yf, where="post", color="#d62728", linewidth=1.2)
        xy = [(float(t["energy_j"].iloc[0]) / ef, float(t[y].iloc[0]) / yf) for t in groups]
        ax.scatter([p[0] for p in xy], [p[1] for p in xy], s=28, color="#d62728", zorder=3,
                   label=front_legend([len(t) for t in groups]))
        short = len(groups) > 12
        anns = []
        for t, p in zip(groups, xy, strict=True):
            any_tie |= len(t) > 1 and "/" in tie_label(t, vary, short)
            anns.append(ax.annotate(tie_label(t, vary, short), p, xytext=(4, 2), textcoords="offset points",
                                    fontsize=6, ha="left", va="bottom", color="#333333", annotation_clip=False))
        labels.append((ax, anns, xy))
        ax.set_xlabel(f"energy per inference ({eu})")
        ax.set_ylabel(f"{'accuracy' if maximize else 'latency'} ({yu})")
        ax.set_title(f"{wl} ({len(g)} points)")
        ax.grid(axis="x", visible=True)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=7)
    what = "accuracy (higher is better)" if maximize else "latency"
    sub = f"labels: {', '.join(vary)}" if vary else ""
    if any_tie:
        sub += "; a/b: tied points"
    _suptitle(fig, f"Energy vs {what}: Pareto fronts", sub)
    for _, anns, _xy in labels:
        for a in anns:
            a.set_in_layout(False)
    fig.draw_without_rendering()  # lays the panels out (legends included), labels aside
    fig.set_layout_engine("none")
    for ax, anns, xy in labels:
        _place_labels(ax, anns, xy, up=maximize)
    return fig


def _place_labels(ax: Any, anns: list[Any], xy: list[tuple[float, float]], up: bool) -> None:
    """Move each label (in order) to the first place beside its marker that overlaps no label
    placed before it and no marker of the front, inside the axes when possible: right or left of
    the marker, then stacked a line further `up` (or down), then the other way. A stacked label
    gets a thin line to its marker."""
    from matplotlib.transforms import Bbox

    scale = ax.figure.dpi / 72.0  # display units per point
    frame = ax.get_window_extent()
    marks = [Bbox.from_bounds(*(ax.transData.transform(p) - 3 * scale), 6 * scale, 6 * scale) for p in xy]
    placed: list[Any] = []
    for ann, p in zip(anns, xy, strict=True):
        ext = ann.get_window_extent()
        w, h = ext.width / scale, ext.height / scale
        px, py = ax.transData.transform(p) / scale
        best = None
        for dx, dy, stacked in _candidates(w, h, up):
            box = Bbox.from_bounds((px + dx) * scale, (py + dy) * scale, w * scale, h * scale)
            if any(box.overlaps(b) for b in placed + marks):
                continue
            if best is None or frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1):
                best = (dx, dy, stacked, box)
            if frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1):
                break
        if best is None:
            continue  # nowhere free: keep the default place
        dx, dy, stacked, box = best
        ann.xyann = (dx, dy)
        if stacked:  # the same label again, with a line from its nearest corner to the marker
            line = {"arrowstyle": "-", "color": "#999999", "linewidth": 0.5, "shrinkA": 0, "shrinkB": 3,
                    "relpos": (0.0 if dx > 0 else 1.0, 0.0 if dy > 0 else 1.0)}
            ax.annotate(ann.get_text(), ann.xy, xytext=(dx, dy), textcoords="offset points",
                        fontsize=ann.get_fontsize(), ha="left", va="bottom", color=ann.get_color(),
                        annotation_clip=False, arrowprops=line).set_in_layout(False)
            ann.remove()
        placed.append(box)


def _candidates(w: float, h: float, up: bool, gap: float = 4.0,
                steps: int = 12) -> list[tuple[float, float, bool]]:
    """Offsets (points) of a w x h label's lower left corner from its marker, nearest first, and
    whether the label is stacked away from its marker."""
    first, other = (1, -1) if up else (-1, 1)
    base = {1: 2.0, -1: -2.0 - h}
    out = []
    for sign in (first, other):
        for k in range(steps):
            dy = base[sign] + sign * k * (h + 1.0)
            out += [(gap, dy, k > 0), (-gap - w, dy, k > 0)]
    return out


def _pareto_figure(fg: Any, ok: pd.DataFrame, workloads: list[str], keys: list[str], y: str,
                   stem: Path) -> list[Path]:
    return fg.save(_pareto_fig(fg, ok, workloads, keys, y), stem)


def _heatmap_figure(fg: Any, ok: pd.DataFrame, workloads: list[str], keys: list[str], hx: str, hy: str,
                    metric: str, stem: Path, seeds: list[int] | None = None) -> list[Path]:
    """`metric` over `hx` x `hy`, one panel per workload; with several `seeds`, `ok` holds one row
    per setting with the mean over them (`mean_over_seeds`), and the title says so."""
    import matplotlib as mpl

    xs, ys = axis_order(ok[hx]), axis_order(ok[hy])
    fig, axes = _panels(len(workloads), (max(3.6, 0.75 * len(xs) + 2.2), max(2.8, 0.45 * len(ys) + 1.8)))
    others = [k for k in _varying(ok, keys) if k not in (hx, hy)]
    cmap = mpl.colormaps["viridis"].with_extremes(bad="#eeeeee")
    for ax, wl in zip(axes, workloads, strict=True):
        cells = heatmap_cells(ok[ok["workload"] == wl], hx, hy)
        grid = np.full((len(ys), len(xs)), np.nan)
        pts = {}
        for _, c in cells.iterrows():
            grid[ys.index(c["_y"]), xs.index(c["_x"])] = c[metric]
            pts[(c["_y"], c["_x"])] = c["point"]
        finite = grid[np.isfinite(grid)]
        factor, unit = _scale(fg, metric, float(np.abs(finite).max()) if finite.size else 0.0)
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, aspect="auto", origin="lower")
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        for (i, j), v in np.ndenumerate(grid):
            if not np.isfinite(v):
                continue
            dark = hi == lo or (v - lo) / (hi - lo) < 0.6
            text = _cell_text(fg, v, factor, unit) + (f"\np{pts[(ys[i], xs[j])]}" if others else "")
            ax.text(j, i, text, ha="center", va="center", fontsize=6.5, color="white" if dark else "black")
        ax.set_xticks(range(len(xs)), xs)
        ax.set_yticks(range(len(ys)), ys)
        ax.set_xlabel(hx)
        ax.set_ylabel(hy)
        ax.grid(False)
        ax.set_title(wl)
        bar = fig.colorbar(im, ax=ax, shrink=0.9)
        bar.formatter = mpl.ticker.FuncFormatter(lambda v, _p, f=factor: f"{v / f:.3g}")
        bar.set_label(f"{metric} ({unit})" if unit else metric)
    sub = f"each cell: the lowest-energy point of those sharing it ({', '.join(others)} vary)" if others else ""
    if seeds and len(seeds) > 1:
        what = f"mean over seeds {', '.join(map(str, seeds))}" + (" (pN: the setting's first point)" if others else "")
        sub = f"{what}; {sub}" if sub else what
    _suptitle(fig, f"{metric} over {hx} \u00d7 {hy}", sub)
    return fg.save(fig, stem)


def _draw(fg: Any, ok: pd.DataFrame, workloads: list[str], keys: list[str], heat: tuple[str, str] | None,
          metrics: list[str], chosen: pd.DataFrame, root: Path, dest: Path, notes: list[str],
          seeds: list[int] | None = None) -> list[Path]:
    written: list[Path] = []
    with_acc = [w for w in workloads if ok.loc[ok["workload"] == w, "accuracy"].notna().any()]
    for w in workloads:
        if w not in with_acc:
            notes.append(f"{w}: no accuracy (the workload has no labels): left out of pareto_energy_accuracy")
    if with_acc:
        written += _pareto_figure(fg, ok, with_acc, keys, "accuracy", dest / "pareto_energy_accuracy")
    written += _pareto_figure(fg, ok, workloads, keys, "latency_s", dest / "pareto_energy_latency")
    if heat is None:
        notes.append("heat maps need two swept keys with several values: none drawn")
    else:
        cells = mean_over_seeds(ok, keys) if seeds and len(seeds) > 1 else ok
        for m in metrics:
            wls = [w for w in workloads if cells.loc[cells["workload"] == w, m].notna().any()]
            if not wls:
                notes.append(f"heatmap_{m}: no point has a value of {m}: not drawn")
                continue
            written += _heatmap_figure(fg, cells, wls, keys, heat[0], heat[1], m, dest / f"heatmap_{m}", seeds)
    for _, r in chosen.iterrows():
        path = root / st.POINTS / f"{r['hash']}.json"
        try:
            frame = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")).get("breakdown") or [])
        except (OSError, ValueError) as e:
            notes.append(f"point {r['point']}: cannot read {path} ({type(e).__name__}): no per-tile power")
            continue
        vals = ",".join(value_label(r[k]) for k in keys)
        name = f"{r['workload']}, point {r['point']}" + (f" ({vals})" if vals and len(vals) <= 32 else "")
        tag = f"{_slug(r['workload'])}_p{r['point']}"
        try:
            written += fg.power_per_tile(frame, dest / f"power_per_tile_{tag}", title=f"Power per tile: {name}")
            written += fg.chip_breakdown(frame, dest / f"chip_breakdown_{tag}", title=f"Chip power: {name}")
        except fg.FigureError as e:
            notes.append(f"point {r['point']}: {e}")
    return written


# ----------------------------------------------------------------------------- the report

@dataclass
class Selection:
    """What a sweep's report shows: all rows (`df`) and the finished ones (`ok`), the swept keys,
    the workloads (in sweep order, and those with a finished point), the heat-map keys, the
    metrics drawn as heat maps, the chosen points, whether the metrics were the defaults, and the
    seeds of the finished points."""

    df: pd.DataFrame
    ok: pd.DataFrame
    keys: list[str]
    workloads: list[str]
    ok_workloads: list[str]
    heat: tuple[str, str] | None
    metrics: list[str]
    chosen: pd.DataFrame
    default_metrics: bool
    seeds: list[int] | None = None

    @property
    def several_seeds(self) -> bool:
        """The finished points differ in their seed: heat maps show means, seeds.csv is written."""
        return self.seeds is not None and len(self.seeds) > 1


def select(root: str, point: str | None = None, heatmap: str | None = None,
           metric: list[str] | None = None) -> Selection:
    """Load the sweep directory `root` and resolve `--point`, `--heatmap` and `--metric` against it;
    ConfigError on a bad option or when no point finished."""
    df, keys, workloads, groups = _load(Path(root))
    ok = df[df["status"] == "ok"]
    if ok.empty:
        raise ConfigError(f"{root}: no finished point to report ({len(df)} failed); rerun with isaacsim sweep")
    heat = _heat_keys(ok, keys, heatmap, groups)
    metrics = [m for m in _metrics(df, keys, metric) if metric or ok[m].notna().any()]
    chosen = find_point(df, point).to_frame().T if point is not None else default_points(ok)
    ok_wl = [w for w in workloads if (ok["workload"] == w).any()]
    return Selection(df, ok, keys, workloads, ok_wl, heat, metrics, chosen, metric is None, seeds_of(ok))


def write_report(sel: Selection, root: Path, dest: Path) -> tuple[list[Path], list[str]]:
    """Draw the figures and write summary.csv under `dest`; returns (files written, notes)."""
    from isaacsim.report import figures as fg

    notes: list[str] = []
    if sel.default_metrics and "accuracy" not in sel.metrics:
        notes.append("heatmap_accuracy: no point has an accuracy: not drawn")
    ok = sel.ok
    written = fg._styled(_draw)(fg, ok, sel.ok_workloads, sel.keys, sel.heat, sel.metrics, sel.chosen, root, dest,
                                notes, sel.seeds)
    summary = sel.df.copy()
    for name, y, maxi in (("pareto_energy_accuracy", "accuracy", True), ("pareto_energy_latency", "latency_s", False)):
        on = [i for w in sel.ok_workloads for i in pareto_front(ok[ok["workload"] == w], "energy_j", y, not maxi).index]
        summary[name] = summary.index.isin(on)
    several = sel.several_seeds
    try:
        summary.to_csv(dest / "summary.csv", index=False)
        if several:
            seed_table(ok, sel.keys, sel.metrics).to_csv(dest / "seeds.csv", index=False)
    except OSError as e:
        raise ConfigError(f"--out {dest}: cannot write ({e.__class__.__name__}: {e.strerror or e})") from None
    if several:
        notes.append(f"the points differ in their seed ({', '.join(map(str, sel.seeds))}): the heat maps show the "
                     f"mean over the seeds of each setting; {dest / 'seeds.csv'} has the mean and std per setting")
    return written, notes


def print_summary(sel: Selection, written: list[Path], notes: list[str], dest: Path, console: Any = None) -> None:
    """A table per workload (points ok and failed, best energy and accuracy, the chosen point with
    one swept value a line), the failed points, the notes and how many figure files went where,
    on `console` (a `rich.console.Console`; default: stdout, at least 160 columns when it is not
    a terminal). The table fits 100 columns: no cell is cut short at that width."""
    from rich.console import Console
    from rich.table import Table

    from isaacsim.report import figures as fg

    df, ok, keys, chosen = sel.df, sel.ok, sel.keys, sel.chosen
    several = sel.several_seeds
    con = console
    if con is None:
        con = Console(highlight=False)
        if not con.is_terminal:
            con.width = max(con.width, 160)
    tab = Table("workload", "ok", "failed", "best energy", "best accuracy", "chosen point", show_lines=True)
    for col in tab.columns:
        col.overflow = "fold"  # a long name breaks across lines; never an ellipsis
    for col in tab.columns[1:5]:
        col.no_wrap = True
    for w in sel.workloads:
        g, bad = ok[ok["workload"] == w], df[(df["workload"] == w) & (df["status"] != "ok")]
        be = g.loc[g["energy_j"].idxmin()] if g["energy_j"].notna().any() else None
        ba = g.loc[g["accuracy"].idxmax()] if g["accuracy"].notna().any() else None
        ch = chosen[chosen["workload"] == w]
        tab.add_row(w, str(len(g)), str(len(bad)),
                    "-" if be is None else f"{fg._fmt_j(be['energy_j'])} (p{be['point']})",
                    "-" if ba is None else f"{ba['accuracy']:.1%} (p{ba['point']})",
                    "\n".join("\n".join([f"p{r['point']} {r['hash'][:8]}"] + [f"{k}={value_label(r[k])}" for k in keys]
                                        + ([f"seed={value_label(r['seed'])}"] if several else []))
                              for _, r in ch.iterrows()) or "-")
    con.print(tab)
    for _, r in df[df["status"] != "ok"].iterrows():
        con.print(f"  point {r['point']} ({r['workload']}) failed: {' '.join(str(r['error']).split())}",
                  markup=False, highlight=False)
    for n in notes:
        con.print(f"note: {n}", markup=False, highlight=False)
    con.print(f"wrote {len(written)} figure files under {dest}", markup=False, highlight=False)
