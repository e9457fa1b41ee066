"""`isaacsim.pipeline`: the run's options, its typed stages and failures, and the record a run
leaves with `simulate(..., out=DIR)` however it ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import isaacsim
from isaacsim.errors import ConfigError, TimingWarning
from isaacsim.functional import batches
from isaacsim.pipeline import Failure, RunOptions, TimingOnly

ROOT = Path(__file__).resolve().parents[1]
LENET = ROOT / "workloads" / "lenet5_mnist5k"
RECORD = ["breakdown.csv", "breakdown.parquet", "config.yaml", "events.csv", "events.parquet", "layers.csv",
          "profile.json", "registers.yaml", "summary.json"]


def _fail_on_call(monkeypatch, n_fail: int, exc: BaseException) -> None:
    calls = {"n": 0}
    real = batches.mvm

    def mvm(*a, **k):
        calls["n"] += 1
        if calls["n"] == n_fail:
            raise exc
        return real(*a, **k)

    monkeypatch.setattr(batches, "mvm", mvm)


def _boom(*a, **k):
    raise RuntimeError("boom")


@pytest.mark.parametrize("kw, match", [
    ({"batch_size": 0}, "batch_size must be a whole number >= 1, got 0"),
    ({"batch_size": True}, "batch_size must be a whole number >= 1, got True"),
    ({"traces": -1}, "traces must be a whole number >= 0, got -1"),
    ({"traces": 1.5}, "traces must be a whole number >= 0, got 1.5"),
    ({"timing_granularity": "slow"}, "timing_granularity must be 'default' or 'fine', got 'slow'"),
    ({"samples": 0}, "samples must be a whole number >= 1, got 0"),
    ({"samples": "3"}, "samples must be a whole number >= 1, got '3'"),
    ({"profile": {"format_version": 1, "layers": {}}}, r"profile applies to timing-only runs \(timing_only=True\)"),
])
def test_bad_options_one_line(kw, match):
    with pytest.raises(ConfigError, match=match):
        RunOptions(**kw)
    with pytest.raises(ConfigError, match=match):
        isaacsim.simulate("trq", LENET, **kw)


def test_options_are_frozen():
    opts = RunOptions(samples=2, traces=1, timing=False)
    assert opts.traced_samples == 1 and RunOptions().traced_samples == 1
    assert RunOptions(timing=False).traced_samples == 0
    with pytest.raises(AttributeError):
        opts.samples = 3


def test_record_of_a_run(tmp_path):
    res = isaacsim.simulate("trq", LENET, samples=2, out=tmp_path / "run")
    d = tmp_path / "run"
    assert sorted(p.name for p in d.iterdir()) == RECORD
    assert json.loads((d / "summary.json").read_text()) == json.loads(json.dumps(res.summary()))
    assert isaacsim.load_arch(yaml.safe_load((d / "config.yaml").read_text())) == isaacsim.load_arch("trq")


def test_out_none_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    isaacsim.simulate("trq", LENET, samples=1, timing=False)
    isaacsim.simulate("trq", LENET, timing_only=True)
    assert list(tmp_path.iterdir()) == []


def test_a_run_that_fails_part_way_leaves_its_record(tmp_path, monkeypatch):
    _fail_on_call(monkeypatch, 6, RuntimeError("datapath boom"))  # 5 layers: the second batch's first
    d = tmp_path / "run"
    with pytest.raises(RuntimeError, match="datapath boom"):
        isaacsim.simulate("trq", LENET, samples=4, batch_size=2, timing=False, out=d)
    s = json.loads((d / "summary.json").read_text())
    assert (s["status"], s["samples"], s["batches"]) == ("failed", 2, 1)
    assert s["error"] == "batch 2 of 2 (samples 2..3): RuntimeError: datapath boom"
    assert {"config.yaml", "summary.json", "layers.csv", "registers.yaml", "profile.json"} <= {
        p.name for p in d.iterdir()}


def test_an_interrupted_run_leaves_its_record(tmp_path, monkeypatch):
    _fail_on_call(monkeypatch, 1, KeyboardInterrupt())
    d = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        isaacsim.simulate("trq", LENET, samples=2, out=d)
    s = json.loads((d / "summary.json").read_text())
    assert (s["status"], s["samples"], s["error"]) == ("interrupted", 0, "interrupted in batch 1 of 1 (samples 0..1)")
    assert (d / "config.yaml").is_file() and not (d / "profile.json").exists()


def test_bad_input_writes_nothing(tmp_path):
    d = tmp_path / "run"
    with pytest.raises(ConfigError, match="nope"):
        isaacsim.simulate("trq", LENET, registers=tmp_path / "nope.yaml", out=d)
    assert not d.exists()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="afile: exists and is not a directory"):
        isaacsim.simulate("trq", LENET, out=tmp_path / "afile")


def test_a_timing_failure_is_typed(monkeypatch):
    monkeypatch.setattr("isaacsim.timing.network.simulate_network", _boom)
    with pytest.warns(TimingWarning, match="boom"):
        res = isaacsim.simulate("trq", LENET, samples=1)
    f = res.failure("timing")
    assert f == Failure("timing", "RuntimeError: boom", f.exception) and isinstance(f.exception, RuntimeError)
    assert res.timing is None and res.status == "ok" and res.error is None and res.failure("datapath") is None
    s = res.summary()
    assert s["timing"] == {"error": "RuntimeError: boom"} and s["latency_cycles"] is None
    assert s["energy_j"] > 0 and s["power_w"] is None  # priced without a latency
    assert res.layers["conv1"].ad_ops_trace is None


def test_a_timing_only_failure_is_raised_and_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr("isaacsim.timing.network.simulate_network", _boom)
    with pytest.raises(RuntimeError, match="boom"):
        isaacsim.simulate("trq", LENET, timing_only=True, out=tmp_path / "run")
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["timing"] == {"error": "RuntimeError: boom"} and s["sample_source"] == "none"


def test_typed_stages_of_a_timing_only_run():
    res = isaacsim.simulate("trq", LENET, timing_only=True)
    assert res.timing_only == TimingOnly("worst_case", tuple(res.layers)) and res.timing_only.approximate
    t = res.summary()["timing"]
    assert t == {**res.timing.as_dict(), "wall_s": t["wall_s"], "approximate": True, "ops_source": "worst_case",
                 "worst_case_layers": list(res.layers)}
    assert list(t)[-3:] == ["approximate", "ops_source", "worst_case_layers"]
    assert res.energy is not None and res.energy.samples == 1 and res.failures == []
