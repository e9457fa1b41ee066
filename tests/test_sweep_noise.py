"""Sweeps under noise: the seed (`run.seed`, the `seed` axis) reaches every point and its hash,
`run.calibrate` calibrates the TRQ points on their own chip, writes and reuses their register
files and resumes a calibration from its state file, and the report folds points that differ
only in their seed into means (docs/sweeps.md, "Seeds and calibrated points")."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

import isaacsim
from isaacsim.cli import main
from isaacsim.config.models import Arch
from isaacsim.errors import ConfigError
from isaacsim.report.sweep_seeds import mean_over_seeds, seed_table, seeds_of
from isaacsim.sweep import store as st
from isaacsim.sweep.execute import run_point
from isaacsim.sweep.run import _payload, run_sweep
from isaacsim.sweep.spec import load_sweep

ROOT = Path(__file__).resolve().parents[1]
LENET = ROOT / "workloads" / "lenet5_digits"
SAMPLES = 16
CALIB = {"calib": 8, "eval_samples": SAMPLES, "refine": False, "min_n_r2": 3, "max_n_r2": 4}
"""A calibration of two steps and no refinement on 8 + 16 samples: under a second."""


def _write(path: Path, *, run: dict | None = None, axes=None, workloads=None) -> Path:
    doc = {"name": "noisy", "base": {"arch": "trq_baseline"},
           "workloads": workloads or [{"path": str(LENET), "samples": SAMPLES, "name": "lenet"}],
           "run": {"timing": False, **(run or {})}, "axes": axes if axes is not None else []}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# ------------------------------------------------------------------------------ the spec


def test_seed_axis_expands_and_enters_the_hash(tmp_path):
    plain = load_sweep(_write(tmp_path / "a.yaml", axes={"adc.bits": [6]})).points
    sw = load_sweep(_write(tmp_path / "b.yaml", axes=[{"grid": {"adc.bits": [6]}}, {"grid": {"seed": [0, 1, 2]}}]))
    assert [p.seed for p in sw.points] == [0, 1, 2] and [p.values["seed"] for p in sw.points] == [0, 1, 2]
    assert sw.keys == ["adc.bits", "seed"] and "seed" not in sw.points[0].arch
    assert len({p.hash for p in sw.points}) == 3
    # seed 0 adds nothing to the hash: sweeps written before the seed existed keep their points
    assert sw.points[0].hash == plain[0].hash
    # run.seed is the same seed as the axis's value
    one = load_sweep(_write(tmp_path / "c.yaml", run={"seed": 1}, axes={"adc.bits": [6]})).points[0]
    assert one.seed == 1 and one.hash == sw.points[1].hash
    # a range axis of seeds
    rng = load_sweep(_write(tmp_path / "d.yaml", axes={"seed": {"start": 0, "stop": 4, "step": 2}})).points
    assert [p.seed for p in rng] == [0, 2, 4]


def test_calibrate_options_enter_the_hash_of_trq_points_only(tmp_path):
    axes = [{"zip": {"adc.mode": ["uniform", "trq"], "adc.bits": [8, None]}}]
    plain = load_sweep(_write(tmp_path / "a.yaml", axes=axes)).points
    cal = load_sweep(_write(tmp_path / "b.yaml", run={"calibrate": CALIB}, axes=axes)).points
    other = load_sweep(_write(tmp_path / "c.yaml", run={"calibrate": {**CALIB, "max_drop": 0.01}}, axes=axes)).points
    assert [p.calibrate for p in cal] == [False, True] and not any(p.calibrate for p in plain)
    assert cal[0].hash == plain[0].hash == other[0].hash  # uniform: not calibrated, the same point
    assert len({plain[1].hash, cal[1].hash, other[1].hash}) == 3


BAD = {
    "run-seed-negative": ({"run": {"seed": -1}}, "run.seed"),
    "run-seed-float": ({"run": {"seed": 1.5}}, "run.seed"),
    "run-seed-text": ({"run": {"seed": "one"}}, "run.seed"),
    "run-seed-bool": ({"run": {"seed": True}}, "run.seed"),
    "axis-seed-negative": ({"axes": {"seed": [0, -2]}}, "axis seed"),
    "axis-seed-float": ({"axes": {"seed": [0.5]}}, "axis seed"),
    "calibrate-unknown-key": ({"run": {"calibrate": {"evals": 3}}}, "run.calibrate.evals"),
    "calibrate-max-drop": ({"run": {"calibrate": {"max_drop": 2}}}, "run.calibrate.max_drop"),
    "calibrate-calib": ({"run": {"calibrate": {"calib": 0}}}, "run.calibrate.calib"),
    "calibrate-not-a-mapping": ({"run": {"calibrate": 3}}, "run.calibrate"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_seed_or_calibrate_is_one_line_exit_2(tmp_path, capsys, case, monkeypatch):
    monkeypatch.chdir(tmp_path)
    change, needle = BAD[case]
    path = _write(tmp_path / "bad.yaml", run=change.get("run"), axes=change.get("axes"))
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_sweep(path)
    for argv in (["sweep", str(path), "--dry-run"], ["sweep", str(path), "--out", str(tmp_path / "o")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("isaacsim: error: ") and needle in err, err
    assert not (tmp_path / "o").exists()


def test_dry_run_names_seed_and_calibration(tmp_path, capsys):
    path = _write(tmp_path / "s.yaml", run={"seed": 3, "calibrate": CALIB},
                  axes=[{"zip": {"adc.mode": ["uniform", "trq"], "adc.bits": [8, None]}}])
    assert main(["sweep", str(path), "--dry-run", "--out", str(tmp_path / "o")]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "adc.mode=" in ln]
    assert "seed=3" in lines[0] and "calibrated" not in lines[0]
    assert "seed=3" in lines[1] and "calibrated first" in lines[1]


# ------------------------------------------------------------------------------ the seed reaches simulate


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """TRQ (preset registers) under read noise, seeds 0, 1 at two read sigmas, and a uniform ADC."""
    d = tmp_path_factory.mktemp("seeded")
    sw = _write(d / "s.yaml", axes=[{"zip": {"adc.mode": ["uniform", "trq"], "adc.bits": [8, None]}},
                                    {"grid": {"device.read_sigma": [0.1, 0.3], "seed": [0, 1]}}])
    return sw, run_sweep(sw, out=d / "out", workers=1)


def test_seed_reaches_simulate(seeded):
    sw, out = seeded
    assert (out.ran, out.failed) == (8, 0)
    df = st.read_table(out.out).set_index("point")
    assert list(df["seed"]) == [0, 1] * 4 and not df["calibrated"].any()
    wl = isaacsim.load_workload(LENET)
    points = load_sweep(sw).points
    for p in points[6:8]:  # TRQ at read sigma 0.3, seeds 0 and 1: each equals simulate with its seed
        s = isaacsim.simulate(p.arch, wl, samples=SAMPLES, timing=False, seed=p.seed).summary()
        assert df.loc[p.index, "ad_ops"] == s["adc"]["ad_ops"]
        assert df.loc[p.index, "agreement"] == s["agreement"]
        summary = json.loads((out.out / st.POINTS / f"{p.hash}.json").read_text())
        assert summary["noise"]["seed"] == p.seed and summary["noise"]["read_sigma"] == 0.3
    # another seed is another chip: other noisy samples, other decisions (read sigma 0.3: 16 of 16
    # agree with the ideal ADC on seed 0, 15 on seed 1)
    assert list(df.loc[6:7, "agreement"]) == [1.0, 0.9375]


# ------------------------------------------------------------------------------ per-point calibration


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    d = tmp_path_factory.mktemp("calibrated")
    sw = _write(d / "s.yaml", run={"seed": 2, "calibrate": CALIB},
                axes=[{"zip": {"adc.mode": ["uniform", "trq"], "adc.bits": [8, None]}},
                      {"grid": {"device.read_sigma": [0.2]}}])
    return sw, run_sweep(sw, out=d / "out", workers=1)


def test_calibrate_trq_points_only_and_write_their_registers(calibrated):
    sw, out = calibrated
    assert (out.ran, out.failed) == (2, 0)
    uni, trq = load_sweep(sw).points
    df = st.read_table(out.out).set_index("point")
    assert list(df["calibrated"]) == [False, True] and list(df["seed"]) == [2, 2]
    assert pd.isna(df.loc[0, "calib_s"]) and df.loc[1, "calib_s"] > 0
    points = out.out / st.POINTS
    assert not (points / f"{uni.hash}{st.REGISTERS}").exists()
    regfile = points / f"{trq.hash}{st.REGISTERS}"
    meta = yaml.safe_load(regfile.read_text())["meta"]
    # calibrated on this point's chip: its noise settings and its seed
    assert meta["noise"]["seed"] == 2 and meta["noise"]["read_sigma"] == 0.2
    assert meta["eval_samples"] == SAMPLES and meta["calib_samples"] == CALIB["calib"]
    assert not (points / f"{trq.hash}{st.CALIB_STATE}").exists()  # removed once the registers are written
    summary = json.loads((points / f"{trq.hash}.json").read_text())
    assert summary["calibration"]["registers_file"] == regfile.name and not summary["calibration"]["reused"]
    assert "document" not in summary["calibration"]
    # the row is a simulation with those registers on that chip
    s = isaacsim.simulate(trq.arch, isaacsim.load_workload(LENET), samples=SAMPLES, timing=False,
                          registers=str(regfile), seed=2).summary()
    assert df.loc[1, "accuracy"] == s["accuracy"] and df.loc[1, "ad_ops"] == s["adc"]["ad_ops"]
    assert df.loc[0, "ops_per_conversion"] == 8.0 and df.loc[1, "ops_per_conversion"] < 5.0


def test_register_file_is_reused(calibrated, monkeypatch):
    sw, out = calibrated
    spec = load_sweep(sw)
    trq = spec.points[1]
    store = st.ResultStore(out.out, spec.keys)
    p = _payload(trq, spec, store)
    assert p["registers"] == yaml.safe_load((out.out / st.POINTS / f"{trq.hash}{st.REGISTERS}").read_text())

    def no_calibration(*a, **k):
        raise AssertionError("calibrated again")

    import isaacsim.calibrate

    monkeypatch.setattr(isaacsim.calibrate, "calibrate", no_calibration)
    row, summary = run_point(p)
    old = st.read_table(out.out).set_index("point").loc[1]
    assert row["status"] == "ok" and row["calibrated"] and summary["calibration"]["reused"]
    assert row["accuracy"] == old["accuracy"] and row["ad_ops"] == old["ad_ops"]


def test_calibration_resumes_from_its_state_file(calibrated, tmp_path, monkeypatch):
    """A sweep killed inside a calibration leaves its state file; the rerun's calibration
    simulates nothing that the state holds."""
    from isaacsim.calibrate import calibrate
    from isaacsim.calibrate import loop as calib_loop

    sw, out = calibrated
    spec = load_sweep(sw)
    trq = spec.points[1]
    store = st.ResultStore(tmp_path / "fresh", spec.keys)  # no register file yet
    p = _payload(trq, spec, store)
    assert p["registers"] is None and p["calib_state"] == str((tmp_path / "fresh" / st.POINTS /
                                                               f"{trq.hash}{st.CALIB_STATE}").resolve())
    # the state a killed worker left behind: the whole calibration, done
    calibrate(Arch.model_validate(trq.arch), LENET, state=p["calib_state"], progress=None, seed=2, **CALIB)
    calls = []
    real = calib_loop.simulate
    monkeypatch.setattr(calib_loop, "simulate", lambda *a, **k: calls.append(1) or real(*a, **k))
    row, summary = run_point(p)
    assert calls == [] and row["status"] == "ok" and not summary["calibration"]["reused"]
    assert row["accuracy"] == st.read_table(out.out).set_index("point").loc[1, "accuracy"]


# ------------------------------------------------------------------------------ the report over seeds


def test_mean_over_seeds_folds_settings():
    ok = pd.DataFrame({
        "point": [0, 1, 2, 3, 4], "hash": list("abcde"), "workload": ["w"] * 5, "status": ["ok"] * 5,
        "adc.mode": ["uniform", "uniform", "trq", "trq", "trq"], "adc.bits": [8, 8, None, None, None],
        "seed": [0, 1, 0, 1, 2], "accuracy": [0.9, 0.8, 0.7, 0.6, 0.8], "energy_j": [1.0, 1.0, 0.5, 0.5, 0.5]})
    assert seeds_of(ok) == [0, 1, 2] and seeds_of(ok.drop(columns="seed")) == []
    m = mean_over_seeds(ok, ["adc.mode", "adc.bits"])
    assert list(m["point"]) == [0, 2] and list(m["seeds"]) == [2, 3]
    assert list(m["accuracy"]) == pytest.approx([0.85, 0.7])
    t = seed_table(ok, ["adc.mode", "adc.bits"], ["accuracy"])
    assert list(t["adc.bits"]) == ["8", "null"] and list(t["seeds"]) == ["0 1", "0 1 2"]
    assert list(t["accuracy_mean"]) == pytest.approx([0.85, 0.7])
    assert list(t["accuracy_std"]) == pytest.approx([0.0707107, 0.1])


def test_report_shows_the_mean_over_seeds(seeded, tmp_path, capsys):
    _, out = seeded
    dest = tmp_path / "rep"
    assert main(["report", str(out.out), "--out", str(dest), "--heatmap", "adc.mode,device.read_sigma",
                 "--metric", "agreement"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "mean over the seeds" in text and "seeds.csv" in text
    assert (dest / "heatmap_agreement.png").is_file()
    t = pd.read_csv(dest / "seeds.csv")
    df = st.read_table(out.out)
    assert len(t) == 4 and list(t["n"]) == [2] * 4
    for _, r in t.iterrows():
        g = df[(df["adc.mode"] == r["adc.mode"]) & (df["device.read_sigma"] == r["device.read_sigma"])]
        assert r["agreement_mean"] == pytest.approx(g["agreement"].mean())
        assert r["agreement_std"] == pytest.approx(g["agreement"].std(ddof=1), nan_ok=True)


def test_report_without_seed_axis_writes_no_seed_table(calibrated, tmp_path, capsys):
    _, out = calibrated
    dest = tmp_path / "rep"
    assert main(["report", str(out.out), "--out", str(dest)]) == 0
    assert "mean over the seeds" not in " ".join(capsys.readouterr().out.split())
    assert not (dest / "seeds.csv").exists() and (dest / "summary.csv").is_file()
