"""The folder-level power breakdown of `isaacsim report` (the TRQ paper's Fig. 7) and the cap on
TRQ's R2 bits of `isaacsim calibrate --max-n-r2` (docs/energy.md, "Fig. 7"; docs/calibrate.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import isaacsim
from isaacsim.calibrate import calibrate
from isaacsim.cli import main
from isaacsim.components import UNITS
from isaacsim.report import compare, figures

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "workloads" / "lenet5_digits"
MNIST = ROOT / "workloads" / "lenet5_mnist5k"
RUNS = {  # run name -> argv after `run`
    "digits_trq": ["trq", str(DIGITS)],
    "digits_u8": ["trq_baseline", str(DIGITS)],
    "digits_u6": ["trq_baseline", str(DIGITS), "--set", "adc.bits=6"],
    "mnist_trq": ["trq", str(MNIST)],
    "mnist_u8": ["trq_baseline", str(MNIST)],
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Five small runs (two workloads; uniform and TRQ) and their report."""
    d = tmp_path_factory.mktemp("fig7")
    for name, argv in RUNS.items():
        assert main(["run", *argv, "--samples", "4", "--out", str(d / name)]) == 0
    assert main(["report", str(d)]) == 0
    return d


def _summary(folder: Path, run: str) -> dict:
    return json.loads((folder / run / "summary.json").read_text())


def test_figure_and_csv_are_written(folder):
    rep = folder / "report"
    for f in ("power_breakdown.png", "power_breakdown.svg", "power_breakdown.csv"):
        assert (rep / f).stat().st_size > 0
    # the per-run figures are still there
    assert (rep / "digits_trq" / "chip_breakdown.png").exists()


def test_csv_equals_each_runs_summary_by_component(folder):
    df = pd.read_csv(folder / "report" / "power_breakdown.csv")
    assert sorted(df["run"].unique()) == sorted(RUNS)
    for run in RUNS:
        e = _summary(folder, run)["energy"]
        rows = df[df["run"] == run].set_index("component")
        want = {k: v for k, v in e["by_component"].items() if v != 0}
        assert set(rows.index) == set(want)
        for comp, v in want.items():
            assert rows.loc[comp, "energy_j"] == pytest.approx(v, rel=1e-9)
            assert rows.loc[comp, "power_w"] == pytest.approx(v / e["time_s"], rel=1e-9)
        assert rows["energy_j"].sum() == pytest.approx(e["energy_j"], rel=1e-9)
        assert rows["power_w"].sum() == pytest.approx(e["power_w"], rel=1e-9)
        assert rows["share"].sum() == pytest.approx(1.0)
        assert rows.loc["adc", "share"] == pytest.approx(e["adc_share"], rel=1e-9)


def test_bars_grouped_by_workload_uniform_widest_first(folder):
    df = pd.read_csv(folder / "report" / "power_breakdown.csv")
    runs = df.drop_duplicates("run")
    assert list(runs["run"]) == ["digits_u8", "digits_u6", "digits_trq", "mnist_u8", "mnist_trq"]
    assert list(runs["adc"]) == ["uniform 8b", "uniform 6b", "TRQ", "uniform 8b", "TRQ"]
    # relative: each run's energy against its group's first (uniform 8b) run
    for run in RUNS:
        first = "digits_u8" if run.startswith("digits") else "mnist_u8"
        rel = df.loc[df["run"] == run, "relative"].sum()
        assert rel == pytest.approx(_summary(folder, run)["energy_j"] / _summary(folder, first)["energy_j"])


def test_one_bar_per_run(folder):
    svg = (folder / "report" / "power_breakdown.svg").read_text()
    adc = figures.component_colors()["adc"]
    # every bar has an ADC segment (at the bottom); one more patch is the legend's
    assert svg.count(f"fill: {adc}") == len(RUNS) + 1
    assert UNITS["adc"].color == adc


def test_power_breakdown_rejects_empty_input(tmp_path):
    rows = pd.DataFrame({"run": ["a"], "group": ["g"], "label": ["x"], "component": ["adc"], "power_w": [0.0]})
    with pytest.raises(figures.FigureError, match="nothing to draw"):
        compare.power_breakdown(rows, tmp_path / "pb")
    with pytest.raises(figures.FigureError, match="lacks column"):
        compare.power_breakdown(rows.drop(columns="group"), tmp_path / "pb")


def test_single_run_draws_no_comparison(tmp_path, folder):
    out = tmp_path / "one"
    assert main(["report", str(folder / "digits_trq"), "--out", str(out)]) == 0
    assert not (out / "power_breakdown.png").exists()


# ---------------------------------------------------------------- calibrate --max-n-r2

def _widths(layers):
    return [ly["registers"].get("n_r2", ly["registers"].get("bits")) for ly in layers]


def test_calibrate_caps_r2_bits(tmp_path):
    res = calibrate("trq", DIGITS, calib=16, eval_samples=48, progress=None, refine_passes=1, max_n_r2=4,
                    state=tmp_path / "s.json")
    assert [s["n_r2"] for s in res.steps][0] == 4
    assert res.n_r2 is None or res.n_r2 <= 4
    assert all(ly["n_r2"] <= 4 for ly in res.layers)
    assert all(w <= 4 for w in _widths(res.layers))
    assert res.drop <= res.max_drop + 1e-12
    key = json.loads((tmp_path / "s.json").read_text())["key"]
    assert key["max_n_r2"] == 4
    out = isaacsim.simulate("trq", DIGITS, samples=48, registers=res.registers, timing=False)
    assert out.summary()["adc"]["ops_per_conversion"] == pytest.approx(res.ops_after)


def test_calibrate_cli_max_n_r2(tmp_path, capsys):
    out = tmp_path / "regs.yaml"
    rc = main(["calibrate", "trq", str(DIGITS), "--calib", "8", "--eval", "16", "--no-refine", "--max-n-r2", "3",
               "--out", str(out)])
    assert rc == 0
    steps = json.loads(Path(str(out) + ".state.json").read_text())["steps"]
    assert set(steps) <= {"3"}
    with pytest.raises(SystemExit) as e:
        main(["calibrate", "trq", str(DIGITS), "--max-n-r2", "0"])
    assert e.value.code == 2
    assert "--max-n-r2" in capsys.readouterr().err


def test_calibrate_rejects_bad_cap():
    with pytest.raises(isaacsim.ConfigError, match="max_n_r2"):
        calibrate("trq", DIGITS, max_n_r2=0, progress=None)
