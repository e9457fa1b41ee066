"""End-to-end TRQ calibration loop (isaacsim.calibrate.loop, `isaacsim calibrate`; docs/calibrate.md)."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

import isaacsim
from isaacsim.adc.regfile import load_registers
from isaacsim.adc.registers import ADCRegisters
from isaacsim.calibrate import CalibrationResult, calibrate
from isaacsim.calibrate import loop as calib_loop
from isaacsim.calibrate.state import load_state
from isaacsim.cli import main
from isaacsim.errors import ConfigWarning
from isaacsim.workload.io import Dataset, save_workload

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "workloads" / "lenet5_digits"
CALIB, EVAL = 16, 48


@pytest.fixture
def count_sims(monkeypatch):
    calls = []
    real = calib_loop.simulate

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(calib_loop, "simulate", counted)
    return calls


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """One CLI calibration of lenet5_digits on trq (module-wide; ~10 s)."""
    d = tmp_path_factory.mktemp("calib")
    out = d / "regs.yaml"
    rc = main(["calibrate", "trq", str(DIGITS), "--calib", str(CALIB), "--eval", str(EVAL), "--out", str(out)])
    assert rc == 0
    return out


def test_register_file_round_trips_through_run(calibrated, capsys):
    doc = yaml.safe_load(calibrated.read_text())
    meta = doc["meta"]
    regs = load_registers(calibrated)
    assert set(regs) == {"conv1", "conv2", "fc1", "fc2", "fc3"}
    # per-layer registers in the file equal what a run with the file uses
    res = isaacsim.simulate("trq", str(DIGITS), samples=EVAL, registers=str(calibrated), timing=False)
    assert {k: ADCRegisters.of(v) for k, v in res.registers().items()} == regs
    assert res.accuracy == pytest.approx(meta["accuracy"])
    assert res.summary()["adc"]["ops_per_conversion"] == pytest.approx(meta["ops_per_conversion_after"])
    # the budget holds and A/D operations fall
    assert meta["baseline_accuracy"] - meta["accuracy"] <= meta["max_drop"] + 1e-12
    assert meta["ops_per_conversion_after"] < meta["ops_per_conversion_before"] == 8.0
    assert meta["adc_energy_j_after"] < meta["adc_energy_j_before"]
    assert meta["calib_samples"] == CALIB and meta["eval_samples"] == EVAL
    for name, ly in meta["layers"].items():
        assert ly["mode"] == regs[name].mode and ly["case"] in ("ideal", "normal", "other")
    # the CLI run accepts it
    assert main(["run", "trq", str(DIGITS), "--samples", "8", "--registers", str(calibrated), "--no-timing",
                 "--json"]) == 0
    capsys.readouterr()


def test_state_file_resumes(calibrated, count_sims, capsys):
    state = Path(str(calibrated) + ".state.json")
    st = json.loads(state.read_text())
    assert st["hist_digest"] and "8" in st["steps"] and st["baseline"]["ops_per_conversion"] == 8.0
    before = calibrated.read_text()
    # everything done: a re-run simulates nothing and writes the same registers
    assert main(["calibrate", "trq", str(DIGITS), "--calib", str(CALIB), "--eval", str(EVAL),
                 "--out", str(calibrated)]) == 0
    assert count_sims == []
    assert yaml.safe_load(before)["layers"] == yaml.safe_load(calibrated.read_text())["layers"]
    # drop the last step: only it is re-run (refinement trials keyed by their registers stay valid)
    last = min(int(n) for n in st["steps"])
    del st["steps"][str(last)]
    state.write_text(json.dumps(st))
    assert main(["calibrate", "trq", str(DIGITS), "--calib", str(CALIB), "--eval", str(EVAL),
                 "--out", str(calibrated)]) == 0
    assert len(count_sims) == 1
    assert str(last) in json.loads(state.read_text())["steps"]
    capsys.readouterr()


def test_mismatching_state_is_ignored_with_a_warning(tmp_path):
    key = {"version": 1, "arch": "a", "workload": "w", "calib": 16, "calib_source": "calib", "eval_samples": 8,
           "min_n_r2": 3}
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"key": {**key, "eval_samples": 9}, "steps": {"8": {}}}))
    with pytest.warns(ConfigWarning, match="eval_samples"):
        assert load_state(p, key) == {"key": key}
    p.write_text("{not json")
    with pytest.warns(ConfigWarning, match="unreadable"):
        assert load_state(p, key) == {"key": key}
    good = {"key": key, "steps": {}}
    p.write_text(json.dumps(good))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_state(p, key) == good


def test_no_labels_uses_agreement(tmp_path):
    wl = isaacsim.load_workload(DIGITS)
    nolab = save_workload(wl, tmp_path / "nolabels", eval=Dataset(wl.eval.x[:24], None))
    assert nolab.eval.y is None
    res = calibrate("trq", nolab, calib=8, max_drop=0.0, progress=None, refine=False)
    assert isinstance(res, CalibrationResult)
    assert res.metric == "agreement" and res.baseline_accuracy == 1.0
    assert res.accuracy == 1.0  # max_drop 0: predictions identical to the lossless run
    assert res.ops_after < res.ops_before
    assert any("no labels" in n for n in res.notes) and any("refinement skipped" in n for n in res.notes)
    # the kept registers reproduce full agreement end to end
    sim = isaacsim.simulate("trq", nolab, registers=res.registers, timing=False)
    ref = isaacsim.simulate(isaacsim.load_arch("trq", {"adc.mode": "ideal"}), nolab, timing=False)
    assert np.array_equal(sim.predictions, ref.predictions)
    assert sim.summary()["adc"]["ops_per_conversion"] == pytest.approx(res.ops_after)


def test_no_calib_set_falls_back_to_eval(tmp_path):
    wl = isaacsim.load_workload(DIGITS)
    nocal = dataclasses.replace(wl, calib=None, eval=Dataset(wl.eval.x[:16], wl.eval.y[:16]))
    res = calibrate("trq", nocal, calib=8, max_drop=0.5, progress=None, refine=False, min_n_r2=7)
    assert res.calib_source == "eval" and res.calib_samples == 8
    assert any("no calib set" in n for n in res.notes)
    assert [s["n_r2"] for s in res.steps] == [8, 7] and res.n_r2 == 7


@pytest.mark.parametrize("argv, needle", [
    (["calibrate", "trq", "no/such/workload"], "no/such/workload"),
    (["calibrate", "trq", str(DIGITS), "--max-drop", "1.5"], "--max-drop"),
    (["calibrate", "trq", str(DIGITS), "--max-drop", "-0.1"], "--max-drop"),
    (["calibrate", "trq", str(DIGITS), "--max-drop", "abc"], "--max-drop"),
    (["calibrate", "trq", str(DIGITS), "--set", "adc.nope=3"], "adc.nope"),
    (["calibrate", "trq", str(DIGITS), "--calib", "0"], "--calib"),
])
def test_bad_input_exits_2_with_one_line(argv, needle, capsys):
    with pytest.raises(SystemExit) as e:
        raise SystemExit(main(argv))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and needle in err


def test_api_rejects_bad_options():
    with pytest.raises(isaacsim.ConfigError, match="max_drop"):
        calibrate("trq", DIGITS, max_drop=1.0, progress=None)
    with pytest.raises(isaacsim.ConfigError, match="calib"):
        calibrate("trq", DIGITS, calib=0, progress=None)
    with pytest.raises(isaacsim.ConfigError, match="refine_passes"):
        calibrate("trq", DIGITS, refine_passes=0, progress=None)


def test_refinement_repeats_passes_until_nothing_changes(tmp_path, count_sims):
    state = tmp_path / "s.json"
    one = calibrate("trq", DIGITS, calib=CALIB, eval_samples=EVAL, progress=None, state=state, refine_passes=1)
    assert one.refinements and {t["pass"] for t in one.refinements} == {1}
    count_sims.clear()
    full = calibrate("trq", DIGITS, calib=CALIB, eval_samples=EVAL, progress=None, state=state)
    # the first pass is resumed from the state file, later passes are new simulations
    assert full.refinements[:len(one.refinements)] == one.refinements
    assert len(count_sims) == len(full.refinements) - len(one.refinements)
    passes = [t["pass"] for t in full.refinements]
    assert passes == sorted(passes) and passes[-1] >= 1
    # the last pass kept nothing: every trial in it is one bit below its layer's final n_r2
    final_n = {ly["name"]: ly["n_r2"] for ly in full.layers}
    assert all(final_n[t["layer"]] == t["n_r2"] + 1 for t in full.refinements if t["pass"] == passes[-1])
    assert full.drop <= full.max_drop + 1e-12 and full.ops_after <= one.ops_after
    res = isaacsim.simulate("trq", DIGITS, samples=EVAL, registers=full.registers, timing=False)
    assert res.summary()["adc"]["ops_per_conversion"] == pytest.approx(full.ops_after)
