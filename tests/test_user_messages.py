"""Messages a user meets in a first hour: bad workload folders (a damaged npz, a missing field, a
training folder passed as the workload), duplicate keys in every kind of YAML file, the grammar
of the datapath check, and the lossless-ADC ConfigWarning (once per command, never when
re-pricing a saved run, attributed to the caller's line in Python)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
import yaml

import isaacsim
from isaacsim.cli import main
from isaacsim.errors import ConfigError, ConfigWarning, MappingError, WorkloadError
from isaacsim.sweep.spec import load_sweep
from tests.support.runs import BASE

REPO = Path(__file__).resolve().parents[1]
LENET = REPO / "workloads" / "lenet5_digits"
LOSSY = "adc.resolution=8 is below the lossless 9 bits"  # ISAAC without its column flip warns so
NO_FLIP = str(Path(__file__).parent / "support" / "isaac_no_flip.yaml")


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    rc = main(argv)
    return rc, capsys.readouterr().err


def _one_error_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("isaacsim: error: "), err
    assert "Traceback" not in err
    return err[len("isaacsim: error: "):].rstrip("\n")


def _lenet_copy(dest: Path) -> Path:
    shutil.copytree(LENET, dest)
    return dest


def _edit_manifest(wl: Path, edit) -> None:
    m = yaml.safe_load((wl / "workload.yaml").read_text())
    edit(m)
    (wl / "workload.yaml").write_text(yaml.safe_dump(m, sort_keys=False))


# ---------------------------------------------------------------- workload folders


@pytest.mark.parametrize("fname", ["arrays.npz", "eval.npz"])
def test_damaged_npz_is_one_clean_line_naming_folder_and_file(tmp_path, capsys, fname):
    wl = _lenet_copy(tmp_path / "x")
    (wl / fname).write_bytes(b"not a zip archive at all")
    rc, err = _cli(["run", "trq_baseline", str(wl)], capsys)
    assert rc == 2
    assert _one_error_line(err) == f"{wl}: {fname}: not a valid npz file (not a zip archive)"


def test_truncated_npz_names_folder_and_file_once(tmp_path):
    wl = _lenet_copy(tmp_path / "x")
    data = (wl / "arrays.npz").read_bytes()
    (wl / "arrays.npz").write_bytes(data[: len(data) // 2] + data[-200:])
    with pytest.raises(WorkloadError) as info:
        isaacsim.load_workload(wl)
    msg = str(info.value)
    assert msg.startswith(f"{wl}: arrays.npz: ") and msg.count("arrays.npz") == 1, msg


def test_missing_field_says_required_field_missing(tmp_path, capsys):
    wl = _lenet_copy(tmp_path / "x")
    _edit_manifest(wl, lambda m: m["graph"][0].pop("kernel"))
    rc, err = _cli(["run", "trq_baseline", str(wl)], capsys)
    assert rc == 2
    msg = _one_error_line(err)
    assert msg == f"{wl}: workload.yaml: layer 'conv1' (conv2d): kernel: required field missing"


def test_missing_top_level_fields_each_named(tmp_path):
    wl = _lenet_copy(tmp_path / "x")

    def drop(m):
        del m["name"], m["input"]["bits"]

    _edit_manifest(wl, drop)
    with pytest.raises(WorkloadError) as info:
        isaacsim.load_workload(wl)
    msg = str(info.value)
    assert "name: required field missing" in msg and "input.bits: required field missing" in msg, msg
    assert "got dict" not in msg and "field required" not in msg


def test_duplicate_key_in_manifest(tmp_path):
    wl = _lenet_copy(tmp_path / "x")
    text = (wl / "workload.yaml").read_text()
    (wl / "workload.yaml").write_text(text + "name: again\n")
    n = text.count("\n") + 1
    with pytest.raises(WorkloadError, match=rf"^{wl}: workload.yaml: key 'name' appears twice \(lines 2 and {n}\)$"):
        isaacsim.load_workload(wl)


def test_training_folder_points_at_its_workload(tmp_path, capsys):
    """`isaacsim train --out DIR` keeps the exported workload in DIR/workload."""
    train = tmp_path / "trained"
    _lenet_copy(train / "workload")
    (train / "checkpoints").mkdir()
    (train / "checkpoints" / "last.pt").write_bytes(b"")
    (train / "metrics.jsonl").write_text("{}\n")
    rc, err = _cli(["run", "trq_baseline", str(train)], capsys)
    assert rc == 2
    msg = _one_error_line(err)
    assert msg.startswith(f"{train / 'workload.yaml'}: manifest missing; "), msg
    assert f"its workload is {train / 'workload'}" in msg and "isaacsim train --out" in msg, msg


def test_folder_of_workloads_lists_them(tmp_path):
    _lenet_copy(tmp_path / "zoo" / "b")
    _lenet_copy(tmp_path / "zoo" / "a")
    (tmp_path / "zoo" / "notes").mkdir()
    with pytest.raises(WorkloadError) as info:
        isaacsim.load_workload(tmp_path / "zoo")
    assert str(info.value).endswith(f"manifest missing; workload folders in {tmp_path / 'zoo'}: a, b")


def test_empty_folder_has_no_hint(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkloadError) as info:
        isaacsim.load_workload(tmp_path / "empty")
    assert str(info.value) == f"{tmp_path / 'empty' / 'workload.yaml'}: manifest missing"


# ---------------------------------------------------------------- duplicate keys in other YAML files


def test_duplicate_key_in_sweep_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "sweep.yaml"
    p.write_text("name: t\nbase: {arch: trq_baseline}\nworkloads: [{path: 'zoo:lenet5'}]\n"
                 "axes: {adc.bits: [4, 5]}\nname: u\n")
    with pytest.raises(ConfigError, match=rf"^{p}: key 'name' appears twice \(lines 1 and 5\)$"):
        load_sweep(p)
    rc, err = _cli(["sweep", str(p), "--dry-run"], capsys)
    assert rc == 2
    assert _one_error_line(err) == f"{p}: key 'name' appears twice (lines 1 and 5)"


def test_duplicate_key_in_register_file(tmp_path, capsys):
    p = tmp_path / "regs.yaml"
    p.write_text("format_version: 1\nlayers:\n  conv1: {mode: trq}\n  conv1: {mode: uniform}\n")
    rc, err = _cli(["run", "trq_baseline", str(LENET), "--registers", str(p)], capsys)
    assert rc == 2
    assert _one_error_line(err) == f"{p}: key 'conv1' appears twice (lines 3 and 4)"


def test_duplicate_key_in_component_table(tmp_path):
    from isaacsim.components import load_table

    p = tmp_path / "table.yaml"
    p.write_text("name: t\nname: u\n")
    with pytest.raises(ConfigError, match=rf"^{p}: key 'name' appears twice \(lines 1 and 2\)$"):
        load_table(p)


def test_merge_keys_may_still_override(tmp_path):
    """YAML merge keys (`<<: *anchor`) are not duplicates: a key written beside them wins."""
    p = tmp_path / "a.yaml"
    p.write_text("extends: trq_baseline\nlatency_ns: &lat {edram_access: 2.0}\n"
                 "pe:\n  <<: {adcs: 4, crossbars: 4}\n  adcs: 2\n")
    arch = isaacsim.load_arch(p)
    assert (arch.pe.adcs, arch.pe.crossbars, arch.latency_ns.edram_access) == (2, 4, 2.0)


# ---------------------------------------------------------------- grammar


def test_input_format_message_grammar(net):
    with pytest.raises(MappingError, match="is an unsigned 8-bit tensor, which does not fit the arch's unsigned 7-bit"):
        isaacsim.simulate(isaacsim.load_arch(BASE, overrides={"datapath.input_bits": 7}), net)


# ---------------------------------------------------------------- the lossless-ADC ConfigWarning


def test_python_warning_points_at_the_callers_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        isaacsim.load_arch(NO_FLIP)
    lossy = [w for w in caught if issubclass(w.category, ConfigWarning) and LOSSY in str(w.message)]
    assert len(lossy) == 1
    assert lossy[0].filename == __file__, lossy[0].filename
    assert "pydantic" not in lossy[0].filename


def test_python_warning_shows_once_per_line_by_default():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):
            isaacsim.load_arch(NO_FLIP)
    assert sum(LOSSY in str(w.message) for w in caught) == 1


def test_cli_prints_a_warning_once_per_command(capsys, monkeypatch):
    """However often a command validates the arch, and even with every warning shown."""
    from isaacsim.commands import describe

    real = describe.run

    def run_validating_thrice(args):
        isaacsim.load_arch(NO_FLIP)
        isaacsim.load_arch(isaacsim.load_arch(NO_FLIP).model_dump(mode="json"))
        return real(args)

    monkeypatch.setattr(describe, "run", run_validating_thrice)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        rc, err = _cli(["describe", NO_FLIP], capsys)
    assert rc == 0
    assert err.count(LOSSY) == 1, err
    assert err.count("\n") == 1 and err.startswith("isaacsim: warning: isaac_no_flip: "), err


def test_describe_warns_once(capsys):
    rc, err = _cli(["describe", NO_FLIP], capsys)
    assert rc == 0 and err.count(LOSSY) == 1, err


def test_run_warns_once_and_report_of_the_saved_run_not_at_all(tmp_path, capsys):
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        rc, err = _cli(["run", NO_FLIP, str(LENET), "--samples", "2", "--no-timing", "--out", str(out)], capsys)
        assert rc == 0 and err.count(LOSSY) == 1, err
        rc, err = _cli(["report", str(out), "--out", str(tmp_path / "rep")], capsys)
    assert rc == 0 and LOSSY not in err, err
    from isaacsim.energy.runs import reprice

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        assert reprice(out).energy_j > 0


@pytest.mark.parametrize("text,expect", [
    ('{"format_version": 1, "layers": {"conv1": {"mode": "trq"}, "conv1": {"mode": "uniform"}}}',
     "key 'conv1' appears twice in one object"),
    ("[" * 5000 + "]" * 5000, "arrays and objects nested too deep"),
])
def test_json_register_file_duplicate_key_or_deep_nesting(tmp_path, capsys, text, expect):
    p = tmp_path / "regs.json"
    p.write_text(text)
    rc, err = _cli(["run", "trq_baseline", str(LENET), "--registers", str(p)], capsys)
    assert rc == 2
    assert _one_error_line(err) == f"{p}: {expect}"
