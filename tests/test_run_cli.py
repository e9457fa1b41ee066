"""`isaacsim run` (text, --json, --out, failures part-way, bad inputs) and `isaacsim zoo`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

import isaacsim
from isaacsim.adc.regfile import load_registers
from isaacsim.cli import main
from isaacsim.functional import batches as sim_mod
from isaacsim.workload import save_workload
from tests.support.runs import BASE, CONTRACT, LOSSLESS_TRQ
from tests.support.workloads import net_parts, overflow_workload

HAVE_ZOO = importlib.util.find_spec("isaacsim.workload.zoo") is not None
needs_zoo = pytest.mark.skipif(not HAVE_ZOO, reason="isaacsim.workload.zoo has not landed yet")


@pytest.fixture(scope="module")
def wl_dir(tmp_path_factory):
    manifest, arrays, ev = net_parts(n_eval=6)
    path = tmp_path_factory.mktemp("net") / "net"
    save_workload(manifest, path, arrays=arrays, eval=ev)
    return str(path)


def run(argv, capsys):
    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_run_text(wl_dir, capsys):
    rc, out, err = run(["run", "trq", wl_dir], capsys)
    assert rc == 0 and err == ""
    for s in ("net on trq", "6 samples (eval set)", "c1", "c2", "c3", "fc", "total", "R1 share",
              "agreement with the ideal ADC", "accuracy", "wall time", "ADC (every layer): trq"):
        assert s in out, s


def test_run_text_per_layer_adc(wl_dir, tmp_path, capsys):
    regs = tmp_path / "r.yaml"
    regs.write_text(yaml.safe_dump({"layers": {"c2": LOSSLESS_TRQ}}))
    rc, out, _ = run(["run", BASE, wl_dir, "--registers", str(regs), "--samples", "2"], capsys)
    assert rc == 0 and "ADC trq n_r1=8 n_r2=1 m=7: c2\n" in out and "ADC uniform 8b step 1: c1, c3, fc\n" in out


def test_run_json(wl_dir, capsys):
    rc, out, _ = run(["run", "trq_baseline", wl_dir, "--json", "--samples", "3", "--set", "adc.mode=ideal"], capsys)
    assert rc == 0
    s = json.loads(out)
    for k in (*CONTRACT, "timing", "agreement", "samples", "status", "error", "mapping", "layers"):
        assert k in s
    for k in ("conversions", "ad_ops", "ops_per_conversion", "energy_j", "energy_share"):
        assert k in s["adc"]
    assert (s["samples"], s["status"], s["agreement"], s["arch"]) == (3, "ok", 1.0, "trq_baseline")
    assert s["layers"][0]["adc"] == {"mode": "ideal", "resolution": 8}


def test_run_out_files(wl_dir, tmp_path, capsys):
    out_dir = tmp_path / "deep" / "run1"
    rc, out, _ = run(["run", "trq", wl_dir, "--out", str(out_dir), "--json", "--batch-size", "4"], capsys)
    assert rc == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "breakdown.csv", "breakdown.parquet", "config.yaml", "events.csv", "events.parquet", "layers.csv",
        "profile.json", "registers.yaml", "summary.json"]
    printed = json.loads(out)
    saved = json.loads((out_dir / "summary.json").read_text())
    assert saved == printed and saved["batches"] == 2 and saved["batch_size"] == 4
    df = pd.read_csv(out_dir / "layers.csv")
    assert list(df["name"]) == [ly["name"] for ly in saved["layers"]]
    assert list(df["conversions"]) == [ly["conversions"] for ly in saved["layers"]]
    assert int(df["ad_ops"].sum()) == saved["adc"]["ad_ops"]
    arch = isaacsim.load_arch(yaml.safe_load((out_dir / "config.yaml").read_text()))
    assert arch == isaacsim.load_arch("trq")
    regs = load_registers(out_dir / "registers.yaml")
    assert {k: v.to_dict() for k, v in regs.items()} == {ly["name"]: ly["adc"] for ly in saved["layers"]}
    # the written registers file drives an identical run
    rc, out2, _ = run(["run", "trq", wl_dir, "--json", "--registers", str(out_dir / "registers.yaml")], capsys)
    assert rc == 0 and json.loads(out2)["adc"] == printed["adc"]


def test_out_written_on_failure_part_way(tmp_path, capsys):
    wl = overflow_workload(tmp_path / "ovf")
    out_dir = tmp_path / "o"
    rc, out, err = run(["run", "trq", str(wl.path), "--batch-size", "4", "--out", str(out_dir)], capsys)
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("isaacsim: error: batch 2 of 2 (samples 4..7): layer 'fc'")
    assert "overflows int32" in err and "Traceback" not in err
    s = json.loads((out_dir / "summary.json").read_text())
    assert (s["status"], s["samples"], s["batches"]) == ("failed", 4, 1)
    assert s["adc"]["conversions"] > 0 and "overflows int32" in s["error"]
    assert (out_dir / "layers.csv").is_file() and (out_dir / "registers.yaml").is_file()
    assert (out_dir / "config.yaml").is_file()
    assert "status failed" in out


def test_out_written_on_interrupt(wl_dir, tmp_path, monkeypatch, capsys):
    calls = {"n": 0}
    real = sim_mod.mvm

    def mvm(*a, **k):
        calls["n"] += 1
        if calls["n"] == 8:  # first call of the second batch (7 calls per batch)
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(sim_mod, "mvm", mvm)
    rc, out, err = run(["run", "trq", wl_dir, "--batch-size", "3", "--out", str(tmp_path / "o"), "--json",
                         "--no-timing"], capsys)
    assert rc == 130 and err == "isaacsim: interrupted in batch 2 of 2 (samples 3..5)\n"
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert (s["status"], s["samples"]) == ("interrupted", 3)
    assert json.loads(out) == s


def test_samples_beyond_the_set_warns(wl_dir, capsys):
    rc, out, err = run(["run", "trq", wl_dir, "--samples", "50", "--json"], capsys)
    assert rc == 0 and json.loads(out)["samples"] == 6
    assert err == "isaacsim: warning: workload 'net' has 6 eval samples; running all 6 (asked for 50)\n"


def _bad_cases(tmp_path, wl_dir):
    (tmp_path / "bad.yaml").write_text("name: x\nchip: {tiles: [1\n")
    (tmp_path / "regs_bad.yaml").write_text("layers:\n  c1: {mode: trq, n_r1: 99}\n")
    (tmp_path / "regs_syntax.yaml").write_text("layers: {c1: [\n")
    (tmp_path / "regs_layer.yaml").write_text("layers:\n  nope: {mode: ideal}\n")
    (tmp_path / "regs_key.yaml").write_text("layerz: {}\n")
    (tmp_path / "afile").write_text("x")
    return {
        "missing workload": (["run", "trq", str(tmp_path / "nope")], "not a workload directory"),
        "missing arch": (["run", str(tmp_path / "nope.yaml"), wl_dir], "nope.yaml"),
        "bad arch yaml": (["run", str(tmp_path / "bad.yaml"), wl_dir], "YAML syntax error"),
        "bad set key": (["run", "trq", wl_dir, "--set", "adc.bogus=1"], "adc.bogus"),
        "bad set form": (["run", "trq", wl_dir, "--set", "adc.bits"], "KEY=VALUE"),
        "bad set value": (["run", "trq", wl_dir, "--set", "adc.n_r1=-3"], "adc.n_r1"),
        "registers missing": (["run", "trq", wl_dir, "--registers", str(tmp_path / "r.yaml")], "no such register file"),
        "registers value": (["run", "trq", wl_dir, "--registers", str(tmp_path / "regs_bad.yaml")], "layers.c1"),
        "registers syntax": (["run", "trq", wl_dir, "--registers", str(tmp_path / "regs_syntax.yaml")], "YAML syntax"),
        "registers layer": (["run", "trq", wl_dir, "--registers", str(tmp_path / "regs_layer.yaml")], "unknown layer"),
        "registers key": (["run", "trq", wl_dir, "--registers", str(tmp_path / "regs_key.yaml")], "layerz"),
        "too big": (["run", "trq", wl_dir, "--set", "chip.tiles=1", "--set", "tile.pes=1", "--set", "pe.crossbars=2"],
                    "tiles"),
        "input format": (["run", "trq", wl_dir, "--set", "datapath.input_bits=4"], "layer 'c1'"),
        "no timing report": (["run", "trq", wl_dir, "--no-timing", "--timing-report"], "--no-timing"),
        "no timing trace": (["run", "trq", wl_dir, "--no-timing", "--trace", "t.json"], "--no-timing"),
        "out is a file": (["run", "trq", wl_dir, "--out", str(tmp_path / "afile")], "not a directory"),
        "zoo unknown": (["run", "trq", "zoo:no_such_net"], "no_such_net"),
    }


CASES = ["missing workload", "missing arch", "bad arch yaml", "bad set key", "bad set form", "bad set value",
         "registers missing", "registers value", "registers syntax", "registers layer", "registers key",
         "too big", "input format", "no timing report", "no timing trace", "out is a file", "zoo unknown"]


@pytest.mark.parametrize("case", CASES)
def test_bad_inputs_one_line_exit_2(case, wl_dir, tmp_path, capsys):
    argv, match = _bad_cases(tmp_path, wl_dir)[case]
    if case == "zoo unknown" and not HAVE_ZOO:
        match = "not available"
    rc, out, err = run(argv, capsys)
    assert rc == 2, (case, err)
    assert err.count("\n") == 1 and err.startswith("isaacsim: error: "), err
    assert match in err and "Traceback" not in err
    assert out == ""


@pytest.mark.parametrize("argv", [["run", "trq"], ["run", "trq", "w", "--samples", "0"],
                                  ["run", "trq", "w", "--samples", "abc"], ["run", "trq", "w", "--batch-size", "-2"],
                                  ["run", "trq", "w", "--timing", "slow"], ["zoo"], ["zoo", "make", "x"]])
def test_usage_errors_one_line(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and err.startswith("isaacsim")


def test_subprocess_failure_exit_code(tmp_path):
    wl = overflow_workload(tmp_path / "ovf")
    p = subprocess.run([sys.executable, "-m", "isaacsim.cli", "run", "trq", str(wl.path), "--batch-size", "4",
                        "--json", "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and "overflows int32" in p.stderr
    assert json.loads(p.stdout)["status"] == "failed"
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["samples"] == 4


# ---------------------------------------------------------------- zoo


@needs_zoo
def test_zoo_list(capsys):
    from isaacsim.workload.zoo import ZOO

    rc, out, _ = run(["zoo", "list"], capsys)
    assert rc == 0
    for name in ZOO:
        assert name in out
    rc, out, _ = run(["zoo", "list", "--json"], capsys)
    rows = json.loads(out)
    assert rc == 0 and [r["name"] for r in rows] == list(ZOO)
    for r in rows:
        assert set(r) == {"name", "input_shape", "macs", "eval_samples", "description"} and r["macs"] > 0


def _smallest():
    from isaacsim.workload.zoo import ZOO

    return min(ZOO, key=lambda n: ZOO[n].macs)


@needs_zoo
def test_zoo_make_and_run(tmp_path, capsys):
    name = _smallest()
    out_dir = tmp_path / "w"
    rc, out, err = run(["zoo", "make", name, "--out", str(out_dir), "--seed", "3", "--samples", "4"], capsys)
    assert rc == 0 and str(out_dir) in out, err
    wl = isaacsim.load_workload(out_dir)
    assert wl.eval is not None and wl.eval.x.shape[0] == 4
    rc, out, _ = run(["run", "trq", str(out_dir), "--samples", "2", "--json"], capsys)
    assert rc == 0 and json.loads(out)["samples"] == 2
    rc, out, _ = run(["run", "trq", f"zoo:{name}", "--samples", "2", "--json"], capsys)
    s = json.loads(out)
    assert rc == 0 and s["samples"] == 2 and s["status"] == "ok"


@needs_zoo
def test_zoo_make_unknown(tmp_path, capsys):
    rc, _, err = run(["zoo", "make", "no_such_net", "--out", str(tmp_path / "w")], capsys)
    assert rc == 2 and err.count("\n") == 1 and "no_such_net" in err


def test_zoo_missing_module_is_one_line(monkeypatch, capsys):
    """Until (or unless) the zoo module is importable, zoo commands fail in one line."""
    import isaacsim.workload

    monkeypatch.setitem(sys.modules, "isaacsim.workload.zoo", None)
    monkeypatch.delattr(isaacsim.workload, "zoo", raising=False)
    rc, _, err = run(["zoo", "list"], capsys)
    assert rc == 2
    assert err == "isaacsim: error: the model zoo (isaacsim.workload.zoo) is not available in this installation\n"
