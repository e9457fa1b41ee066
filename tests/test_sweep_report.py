"""Sweep reports (isaacsim.report.sweep): the Pareto front against a brute-force dominance check,
the heat-map cell choice, the default point, `--point` lookup, and `isaacsim report SWEEPDIR`
end to end on a real tiny sweep (figures, summary.csv, one-line errors)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from isaacsim.cli import main
from isaacsim.errors import ConfigError
from isaacsim.report.sweep import (
    axis_order,
    default_points,
    find_point,
    front_legend,
    heatmap_cells,
    pareto_front,
    tie_groups,
    tie_label,
    value_label,
)

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- pareto_front

def brute_front(xs, ys, minimize_y):
    """Positions of the rows no other row dominates (no worse in both, better in one); NaN out."""
    sign = 1.0 if minimize_y else -1.0
    keep = []
    for i, (xi, yi) in enumerate(zip(xs, ys, strict=True)):
        if math.isnan(xi) or math.isnan(yi):
            continue
        dominated = False
        for j, (xj, yj) in enumerate(zip(xs, ys, strict=True)):
            if i == j or math.isnan(xj) or math.isnan(yj):
                continue
            if xj <= xi and sign * yj <= sign * yi and (xj < xi or sign * yj < sign * yi):
                dominated = True
                break
        if not dominated:
            keep.append(i)
    return keep


_val = hs.one_of(hs.integers(-3, 3).map(float), hs.floats(-1e6, 1e6), hs.just(float("nan")))


@settings(max_examples=200, deadline=None)
@given(hs.lists(hs.tuples(_val, _val), max_size=25), hs.booleans())
def test_pareto_front_matches_brute_force(pairs, minimize_y):
    xs = [p[0] for p in pairs]
    ys = [p[1] for p in pairs]
    df = pd.DataFrame({"e": xs, "q": ys}, index=[f"r{i}" for i in range(len(pairs))])
    front = pareto_front(df, "e", "q", minimize_y=minimize_y)
    got = sorted(int(i[1:]) for i in front.index)
    assert got == brute_front(xs, ys, minimize_y)
    assert front["e"].is_monotonic_increasing
    assert not front.isna().any().any()


def test_pareto_front_ties_and_none():
    df = pd.DataFrame({"e": [1.0, 1.0, 2.0, 2.0, None, 3.0, 0.5],
                       "acc": [0.9, 0.8, 0.95, 0.95, 1.0, 0.95, None]})
    front = pareto_front(df, "e", "acc", minimize_y=False)
    assert list(front.index) == [0, 2, 3]  # duplicates on the front both stay; None never
    front = pareto_front(df, "e", "acc", minimize_y=True)
    assert list(front.index) == [1]
    assert pareto_front(df.iloc[:0], "e", "acc").empty


# ----------------------------------------------------------------------------- ties on the front

def test_tie_groups_one_group_per_position():
    df = pd.DataFrame({"e": [2.0, 1.0, 2.0, 0.0, -0.0, np.nan, 2.0, 1.0],
                       "q": [0.5, 0.9, 0.5, 0.1, 0.1, 0.5, 0.6, None]}, index=list("abcdefgh"))
    # first-appearance order; -0.0 ties 0.0; NaN or None in either column: in no group
    assert tie_groups(df, "e", "q") == [["a", "c"], ["b"], ["d", "e"], ["g"]]
    assert tie_groups(df.iloc[:0], "e", "q") == []
    six = pd.DataFrame({"e": [2e-6] * 6, "q": [0.875] * 6})
    assert tie_groups(six, "e", "q") == [[0, 1, 2, 3, 4, 5]]


def _pts(**cols):
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"point": list(range(n)), **cols})


def test_tie_label():
    keys = ["adc.mode", "adc.bits", "pe.adcs"]
    one = _pts(**{"adc.mode": ["trq"], "adc.bits": [None], "pe.adcs": [2]})
    assert tie_label(one, keys) == "trq,null,2"
    assert tie_label(one, keys, short=True) == "p0"
    three = _pts(**{"adc.mode": ["uniform"] * 3, "adc.bits": [5] * 3, "pe.adcs": [8, 2, 4]})
    assert tie_label(three, keys) == "uniform,5,2/4/8"  # values in axis order
    grid = _pts(**{"adc.mode": ["uniform", "uniform", "trq", "trq"], "adc.bits": [5] * 4, "pe.adcs": [2, 4, 2, 4]})
    assert tie_label(grid, keys) == "uniform/trq,5,2/4"
    # not every combination: "uniform/trq,5,2/4" would claim points that are not there
    odd = grid.iloc[:3]
    assert tie_label(odd, keys) == "3 points: p0, p1, p2"
    assert tie_label(grid, keys, short=True) == "4 points: p0, p1, p2, +1"
    assert tie_label(three, keys, limit=10) == "3 points: p0, p1, p2"
    assert tie_label(three, []) == "3 points: p0, p1, p2"


def test_front_legend_counts_positions_and_ties():
    assert front_legend([1, 1]) == "Pareto-optimal (2)"
    assert front_legend([3, 1]) == "Pareto-optimal: 4 points\nat 2 positions (3 tied)"
    assert front_legend([6]) == "Pareto-optimal: 6 points\nat 1 position (6 tied)"


def _tie_frame() -> pd.DataFrame:
    """Workload a: six points all at one position. Workload b: a front with two tied pairs and
    points so close that their labels would collide at their default places."""
    rows = [{"workload": "a", "adc.mode": "uniform", "adc.bits": 5, "pe.adcs": 2 ** (k + 1),
             "energy_j": 2e-6, "accuracy": 0.875, "latency_s": 1e-3} for k in range(6)]
    e = [1.0, 1.0, 1.001, 1.002, 1.003, 1.5, 1.5, 2.0, 2.0005, 3.0]
    acc = [0.5, 0.5, 0.6, 0.61, 0.62, 0.9, 0.9, 0.95, 0.951, 0.99]
    rows += [{"workload": "b", "adc.mode": ["uniform", "trq"][j % 2], "adc.bits": 5 + j, "pe.adcs": 2,
              "energy_j": x * 1e-6, "accuracy": a, "latency_s": 1e-3 / x}
             for j, (x, a) in enumerate(zip(e, acc, strict=True))]
    df = pd.DataFrame(rows)
    return df.assign(point=range(len(df)), status="ok")


@pytest.mark.parametrize("y", ["accuracy", "latency_s"])
def test_pareto_figure_ties_labels_and_legend(y, tmp_path):
    import matplotlib as mpl
    from matplotlib.text import Text

    from isaacsim.report import figures as fg
    from isaacsim.report.sweep import _pareto_fig

    ok = _tie_frame()
    keys = ["adc.mode", "adc.bits", "pe.adcs"]
    with mpl.rc_context(fg._RC):
        fig = _pareto_fig(fg, ok, ["a", "b"], keys, y)
        fig.draw_without_rendering()
        for ax, wl in zip(fig.axes, ["a", "b"], strict=True):
            g = ok[ok["workload"] == wl]
            front = pareto_front(g, "energy_j", y, minimize_y=y != "accuracy")
            groups = tie_groups(front, "energy_j", y)
            texts = [t.get_text() for t in ax.texts]
            # one label per distinct position of the front, each drawn once
            assert len(texts) == len(groups) == len(set(texts))
            assert sorted(texts) == sorted(tie_label(front.loc[i], keys) for i in groups)
            # labels do not overlap one another (their text, leader lines aside)
            boxes = [Text.get_window_extent(t) for t in ax.texts]
            for i, b in enumerate(boxes):
                assert not any(b.overlaps(c) for c in boxes[i + 1:]), texts[i]
            # the legend sits outside the axes and counts positions and tied points
            legend = ax.get_legend()
            assert not legend.get_window_extent().overlaps(ax.get_window_extent())
            assert legend.texts[1].get_text() == front_legend([len(t) for t in groups])
        assert ok.loc[ok["workload"] == "a"].shape[0] == 6
        assert fig.axes[0].texts[0].get_text() == "uniform,5,2/4/8/16/32/64"
        assert fig.axes[0].get_legend().texts[1].get_text().endswith("at 1 position (6 tied)")
        fg.save(fig, tmp_path / "pareto")  # the frozen layout survives saving
    assert (tmp_path / "pareto.png").stat().st_size > 1000


# ----------------------------------------------------------------------------- pure helpers

def test_value_label_and_axis_order():
    assert [value_label(v) for v in (8.0, 6, None, float("nan"), "trq", 0.25, True)] == \
        ["8", "6", "null", "null", "trq", "0.25", "true"]
    assert axis_order(pd.Series([8.0, None, 6.0, 16.0, 6.0])) == ["6", "8", "16", "null"]
    assert axis_order(pd.Series(["uniform", "trq", None, "uniform"])) == ["uniform", "trq", "null"]
    assert axis_order(pd.Series([128, 64, 256])) == ["64", "128", "256"]


def test_heatmap_cells_pick_lowest_energy_per_cell():
    df = pd.DataFrame({
        "point": [0, 1, 2, 3, 4, 5, 6],
        "adc.mode": ["uniform", "uniform", "uniform", "trq", "trq", "uniform", "uniform"],
        "adc.bits": [8, 8, 6, None, None, 6, 8],
        "pe.adcs": [2, 4, 2, 2, 4, 4, 8],
        "energy_j": [3.0, 2.0, 5.0, 4.0, 4.0, np.nan, 2.0],
    })
    cells = heatmap_cells(df, "adc.mode", "adc.bits")
    got = {(r["_x"], r["_y"]): r["point"] for _, r in cells.iterrows()}
    # (uniform, 8): points 1 and 6 tie at 2.0 -> lower index; (trq, null): tie -> 3; NaN energy loses
    assert got == {("uniform", "8"): 1, ("uniform", "6"): 2, ("trq", "null"): 3}


def test_default_points_within_one_point_of_best_accuracy():
    df = pd.DataFrame({
        "point": list(range(8)),
        "workload": ["a"] * 5 + ["b"] * 3,
        "status": ["ok", "ok", "ok", "ok", "failed", "ok", "ok", "ok"],
        "energy_j": [5.0, 3.0, 1.0, 3.0, 0.1, 2.0, 1.0, 1.5],
        "accuracy": [0.95, 0.941, 0.93, 0.945, None, None, None, None],
    })
    picks = default_points(df)
    assert list(picks["point"]) == [1, 6]  # a: 0.941 within 1 pp of 0.95 (tie at 3.0 -> point 1)
    df.loc[1, "accuracy"] = 0.939
    assert list(default_points(df)["point"]) == [3, 6]


def test_find_point_by_index_hash_and_errors():
    df = pd.DataFrame({"point": [0, 1, 2, 12], "hash": ["abc123", "abd456", "ffe000", "120000"],
                       "workload": "w", "status": ["ok", "ok", "failed", "ok"], "error": [None, None, "boom", None]})
    assert find_point(df, "1")["hash"] == "abd456"
    assert find_point(df, "ABC")["point"] == 0
    assert find_point(df, "12")["point"] == 12  # an index first
    assert find_point(df, "1200")["point"] == 12  # no such index: a hash prefix
    with pytest.raises(ConfigError, match="matches 2 points"):
        find_point(df, "ab")
    with pytest.raises(ConfigError, match="no such point"):
        find_point(df, "99")
    with pytest.raises(ConfigError, match="failed"):
        find_point(df, "2")


# ----------------------------------------------------------------------------- end to end

SWEEP = f"""\
name: report_test
base: {{arch: trq_baseline}}
workloads:
  - {{path: {ROOT / 'workloads' / 'lenet5_digits'}, samples: 4}}
  - {{path: "zoo:lenet5", samples: 2}}
axes:
  - zip: {{adc.mode: [uniform, trq], adc.bits: [6, null]}}
  - grid: {{pe.adcs: [2, 4]}}
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    from isaacsim.sweep.run import run_sweep

    tmp = tmp_path_factory.mktemp("sweep")
    (tmp / "sweep.yaml").write_text(SWEEP)
    res = run_sweep(tmp / "sweep.yaml", out=tmp / "out", workers=2)
    assert res.failed == 0 and res.ran == 8
    return tmp / "out"


def _figs(d: Path) -> set[str]:
    return {p.name for p in d.iterdir() if p.suffix in (".png", ".svg")}


def test_report_sweep_default(sweep_dir, capsys):
    assert main(["report", str(sweep_dir)]) == 0
    out = capsys.readouterr().out
    rep = sweep_dir / "report"
    figs = _figs(rep)
    for stem in ("pareto_energy_accuracy", "pareto_energy_latency", "heatmap_energy_j", "heatmap_accuracy"):
        assert {stem + ".png", stem + ".svg"} <= figs
    tiles = sorted(f for f in figs if f.startswith("power_per_tile_") and f.endswith(".png"))
    assert sorted(t.rsplit("_p", 1)[0] for t in tiles) == ["power_per_tile_lenet5", "power_per_tile_lenet5_digits"]
    assert all((rep / f).stat().st_size > 1000 for f in figs)
    assert f"wrote {len(figs)} figure files under {rep}" in out
    assert "lenet5: no accuracy" in out
    summary = pd.read_csv(rep / "summary.csv")
    assert len(summary) == 8
    assert summary["pareto_energy_latency"].dtype == bool
    assert summary.groupby("workload")["pareto_energy_latency"].any().all()
    # the zoo workload has no labels: never on the accuracy front
    assert not summary.loc[summary["workload"] == "lenet5", "pareto_energy_accuracy"].any()
    assert summary.loc[summary["workload"] == "lenet5_digits", "pareto_energy_accuracy"].any()


def test_report_sweep_point_by_index_and_hash(sweep_dir, tmp_path, capsys):
    spec = json.loads((sweep_dir / "spec.json").read_text())
    p = spec["points"][6]  # the zoo workload's third point
    assert main(["report", str(sweep_dir), "--out", str(tmp_path / "a"), "--point", "6",
                 "--heatmap", "pe.adcs,adc.mode", "--metric", "power_w"]) == 0
    figs = _figs(tmp_path / "a")
    assert f"power_per_tile_{p['workload']}_p6.png" in figs and "heatmap_power_w.svg" in figs
    assert not any(f.startswith("heatmap_energy_j") for f in figs)
    assert main(["report", str(sweep_dir), "--out", str(tmp_path / "b"), "--point", p["hash"][:7],
                 "--metric", "energy_j"]) == 0
    assert f"chip_breakdown_{p['workload']}_p6.svg" in _figs(tmp_path / "b")
    assert p["hash"][:8] in capsys.readouterr().out


@pytest.mark.parametrize("args, needle", [
    (["--heatmap", "pe.adcs,crossbar.cols"], "'crossbar.cols' is not a swept key (swept: adc.mode, adc.bits, pe.adcs)"),
    (["--heatmap", "pe.adcs"], "expected two different swept keys"),
    (["--metric", "joules"], "--metric joules: not a numeric result column"),
    (["--point", "99"], "--point 99: no such point"),
    (["--point", "zz"], "--point zz: no such point"),
    (["--table", "isaac_32nm"], "--table applies to run directories"),
])
def test_report_sweep_bad_option(sweep_dir, tmp_path, capsys, args, needle):
    assert main(["report", str(sweep_dir), "--out", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("isaacsim: error: ") and needle in err
    assert not (tmp_path / "r").exists()


def test_report_sweep_without_finished_point(sweep_dir, tmp_path, capsys):
    d = tmp_path / "failed"
    (d / "points").mkdir(parents=True)
    (d / "spec.json").write_text((sweep_dir / "spec.json").read_text())
    row = {"point": 0, "hash": "0123456789abcdef", "workload": "lenet5_digits", "status": "failed", "error": "boom"}
    (d / "rows.jsonl").write_text(json.dumps(row) + "\n")
    assert main(["report", str(d)]) == 2
    assert "no finished point to report" in capsys.readouterr().err


def test_default_heatmap_keys_come_from_different_axis_groups():
    from isaacsim.report.sweep import _heat_keys

    df = pd.DataFrame({"adc.mode": ["uniform", "trq"] * 2, "adc.bits": [6, None] * 2,
                       "pe.adcs": [4, 4, 8, 8]})
    keys = ["adc.mode", "adc.bits", "pe.adcs"]
    assert _heat_keys(df, keys, None, [["adc.mode", "adc.bits"], ["pe.adcs"]]) == ("adc.mode", "pe.adcs")
    assert _heat_keys(df, keys, None, None) == ("adc.mode", "adc.bits")
    assert _heat_keys(df, keys, "pe.adcs,adc.bits") == ("pe.adcs", "adc.bits")


# ----------------------------------------------------------------------------- help, docs and the printed table

HEAT_RULE = "the first two swept keys with several values, from different axis groups when possible"


def test_heatmap_default_rule_same_in_help_docs_and_code():
    from isaacsim.cli import build_parser
    from isaacsim.report.sweep import _heat_keys
    from isaacsim.sweep.spec import load_sweep

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["report"]
    help_text = " ".join(sub.format_help().split())
    assert HEAT_RULE in help_text
    docs = " ".join((ROOT / "docs" / "sweeps.md").read_text().split())
    assert HEAT_RULE in docs
    # the docs' example: the shipped sweep's default heat map
    assert "default is `adc.mode` against `crossbar.rows`" in docs
    sw = load_sweep(ROOT / "arch_configs" / "sweeps" / "adc_design_space.yaml")
    df = pd.DataFrame([p.values for p in sw.points])
    assert _heat_keys(df, sw.keys, None, [g[1] for g in sw.groups]) == ("adc.mode", "crossbar.rows")


def test_summary_table_fits_100_columns():
    import io

    from rich.console import Console

    from isaacsim.report.sweep import Selection, print_summary

    keys = ["adc.mode", "adc.bits", "adc.n_r1", "crossbar.rows", "crossbar.cols", "mapping.replication", "pe.adcs"]
    vals = {"adc.mode": "uniform", "adc.bits": 5.0, "adc.n_r1": 4, "crossbar.rows": 128, "crossbar.cols": 128,
            "mapping.replication": "balance", "pe.adcs": 8}
    rows = [{"point": i, "hash": f"{i:02d}9ec746c0a1b2c3d", "workload": w, "status": "ok", "error": None, **vals,
             "energy_j": 12.054e-6 + i * 1e-9, "accuracy": 0.9916 - i / 1000}
            for i, w in enumerate(["lenet5_digits", "resnet20_digits", "resnet20_digits"])]
    rows.append({"point": 3, "hash": "ffff000011112222", "workload": "resnet20_digits", "status": "failed",
                 "error": "the arch rejects this combination: " + "adc.bits above adc.resolution " * 6, **vals,
                 "energy_j": None, "accuracy": None})
    df = pd.DataFrame(rows)
    ok = df[df["status"] == "ok"]
    sel = Selection(df, ok, keys, ["lenet5_digits", "resnet20_digits"], ["lenet5_digits", "resnet20_digits"],
                    None, ["energy_j"], default_points(ok), True)
    buf = io.StringIO()
    note = "heat maps need two swept keys with several values: none drawn " * 3
    print_summary(sel, [Path("a.png")] * 12, [note], Path("/tmp/some/sweep/report"),
                  console=Console(file=buf, width=100, highlight=False))
    out = buf.getvalue()
    lines = out.splitlines()
    assert max(map(len, lines)) <= 100
    assert "\u2026" not in out and "..." not in out
    for text in ["lenet5_digits", "resnet20_digits", "12.1 \u00b5J (p0)", "99.2% (p0)", "p0 009ec746",
                 "p1 019ec746", "crossbar.rows=128", "mapping.replication=balance", "adc.bits=5", "pe.adcs=8",
                 "wrote 12 figure files under /tmp/some/sweep/report"]:
        assert text in out, text
    flat = " ".join(out.split())
    assert "point 3 (resnet20_digits) failed: the arch rejects this combination" in flat
    assert " ".join(note.split()) in flat
