"""Malformed architecture inputs: each one is a ConfigError naming the key or file, and on the CLI
one stderr line with exit status 2 and no traceback."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from isaacsim import ConfigError, load_arch
from isaacsim.cli import main
from isaacsim.config import parse_set

OK_BASE = "extends: trq_baseline\n"  # valid and lossless, so no ConfigWarning noise


@dataclass(frozen=True)
class Case:
    id: str
    text: str | bytes | None  # BAD.yaml contents; None: no file is written
    expect: tuple[str, ...]  # substrings the one-line message must contain
    sets: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)  # more files beside BAD.yaml
    arch: str = "BAD.yaml"  # relative to tmp_path; a "@name" is passed bare (preset lookup)


def _unknown(section: str, bad: str, good: str) -> Case:
    return Case(f"unknown-{section}-{bad}", f"{section}:\n  {bad}: 1\n",
                (f"{section}.{bad}", f"did you mean '{section}.{good}'", f"valid keys at {section}:"))


CASES = [
    # --- files and YAML
    Case("yaml-unclosed-flow", "chip: {tiles: 3\n", ("BAD.yaml", "YAML syntax error", "line")),
    Case("yaml-bad-indent", "chip:\n  tiles: 3\n pes: 2\n", ("BAD.yaml", "YAML syntax error", "line 3")),
    Case("yaml-two-documents", "name: a\n---\nname: b\n", ("BAD.yaml", "YAML syntax error")),
    Case("empty-file", "", ("BAD.yaml", "empty")),
    Case("comments-only", "# nothing here\n", ("BAD.yaml", "empty")),
    Case("top-is-list", "- chip\n- tile\n", ("BAD.yaml", "must be a mapping", "list")),
    Case("top-is-int", "42\n", ("BAD.yaml", "must be a mapping", "int")),
    Case("top-is-string", "hello\n", ("BAD.yaml", "must be a mapping", "str")),
    Case("not-utf8", b"name: \xff\xfe\n", ("BAD.yaml", "cannot read")),
    Case("missing-file", None, ("missing.yaml", "no such"), arch="missing.yaml"),
    Case("directory", None, ("adir", "is a directory"), extra={"adir/x.yaml": "name: x\n"}, arch="adir"),
    Case("unknown-preset-name", None, ("isaak", "no such architecture file or preset", "trq_baseline"), arch="@isaak"),
    Case("non-string-key", "1: 2\n", ("BAD.yaml", "1:", "keys should be strings")),
    Case("yaml-duplicate-key", OK_BASE + "adc:\n  bits: 4\nchip:\n  tiles: 2\nadc:\n  bits: 5\n",
         ("BAD.yaml: key 'adc' appears twice (lines 2 and 6)",)),
    Case("yaml-duplicate-nested-key", OK_BASE + "adc:\n  bits: 4\n  mode: uniform\n  bits: 5\n",
         ("BAD.yaml: key 'bits' appears twice (lines 3 and 5)",)),
    Case("yaml-duplicate-flow-key", OK_BASE + "adc: {bits: 4, bits: 5}\n",
         ("BAD.yaml: key 'bits' appears twice (both on line 2)",)),
    Case("yaml-duplicate-dotted-key", OK_BASE + "adc.bits: 4\nadc.bits: 5\n",
         ("BAD.yaml: key 'adc.bits' appears twice (lines 2 and 3)",)),
    Case("yaml-deep-flow-nesting", "a: " + "[" * 5000 + "]" * 5000 + "\n",
         ("BAD.yaml: lists and mappings nested deeper than 100 levels", "line 1")),
    Case("yaml-deep-block-nesting", "a:\n" + "".join(" " * i + "-\n" for i in range(1, 3000)),
         ("BAD.yaml: lists and mappings nested deeper than 100 levels", "line 101")),
    Case("yaml-deep-mapping-nesting", "".join(" " * i + f"k{i}:\n" for i in range(3000)),
         ("BAD.yaml: lists and mappings nested deeper than 100 levels",)),
    # --- wrong types, negative and absurd values
    Case("type-str-for-int", "chip:\n  tiles: many\n", ("chip.tiles", "valid integer", "allowed >= 1 and <= 1000000")),
    Case("type-fraction-for-int", "chip:\n  tiles: 2.5\n", ("chip.tiles", "fractional")),
    Case("type-bool-for-int", "adc:\n  resolution: yes\n", ("adc.resolution", "boolean", "allowed >= 1 and <= 16")),
    Case("type-str-for-float", "clock_mhz: fast\n", ("clock_mhz", "valid number", "allowed > 0")),
    Case("type-list-for-str", "name: [a, b]\n", ("name", "valid string")),
    Case("type-str-for-bool", "adc:\n  early_termination: maybe\n", ("adc.early_termination", "boolean")),
    Case("section-is-scalar", "chip: 5\n", ("chip", "expected a section", "a number")),
    Case("section-is-null", "adc:\n", ("adc", "expected a section", "null")),
    Case("section-is-list", "pe: [1, 2]\n", ("pe", "expected a section", "a list")),
    Case("negative-count", "pe:\n  adcs: -8\n", ("pe.adcs", "(got -8)", "allowed >= 1")),
    Case("zero-clock", "clock_mhz: 0\n", ("clock_mhz", "(got 0)", "allowed > 0")),
    Case("absurd-rows", "crossbar:\n  rows: 1000000000\n", ("crossbar.rows", "<= 8192")),
    Case("absurd-latency", "crossbar:\n  read_latency_ns: 1.0e+99\n", ("crossbar.read_latency_ns", "<= 1000000")),
    Case("negative-bias", "adc:\n  bias: -1\n", ("adc.bias", "allowed >= 0 and <= 65535")),
    Case("empty-name", "name: ''\n", ("name", "at least 1 character")),
    # --- unknown keys at every level
    Case("unknown-top", "clock_mz: 100\n", ("clock_mz", "did you mean 'clock_mhz'", "valid keys at the top level:")),
    Case("unknown-top-no-match", "zzz: 1\n", ("zzz", "unknown key", "valid keys at the top level: adc, chip")),
    _unknown("chip", "tilez", "tiles"),
    _unknown("tile", "pe", "pes"),
    _unknown("pe", "adc", "adcs"),
    _unknown("crossbar", "row", "rows"),
    _unknown("datapath", "weight_bit", "weight_bits"),
    _unknown("adc", "resolutoin", "resolution"),
    _unknown("latency_ns", "edram_acess", "edram_access"),
    _unknown("components", "tabel", "table"),
    _unknown("mapping", "replicaton", "replication"),
    Case("unknown-dotted-top", OK_BASE + "adc.bitz: 4\n", ("adc.bitz", "did you mean 'adc.bits'")),
    Case("dotted-into-scalar", "adc: 5\nadc.mode: trq\n", ("BAD.yaml", "adc is a value, not a section")),
    # --- extends
    Case("extends-missing", "extends: no_such_preset\n", ("BAD.yaml: extends", "no_such_preset", "presets: isaac")),
    Case("extends-bad-path", "extends: ../nowhere/p.yaml\n", ("BAD.yaml: extends", "nowhere/p.yaml")),
    Case("extends-self", "extends: BAD.yaml\n", ("extends cycle", "BAD.yaml -> BAD.yaml")),
    Case("extends-cycle-a-b-a", "extends: b.yaml\n", ("extends cycle", "BAD.yaml -> b.yaml -> BAD.yaml"),
         extra={"b.yaml": "extends: BAD.yaml\n"}),
    Case("extends-non-string", "extends: [isaac]\n", ("BAD.yaml", "extends must be", "list")),
    Case("extends-parent-bad-yaml", "extends: parent.yaml\n", ("parent.yaml", "YAML syntax error"),
         extra={"parent.yaml": "chip: [\n"}),
    Case("extends-parent-duplicate-key", "extends: parent.yaml\n", ("parent.yaml: key 'chip' appears twice",),
         extra={"parent.yaml": "chip: {tiles: 2}\nchip: {tiles: 3}\n"}),
    Case("extends-parent-unknown-key", "extends: parent.yaml\n", ("chip.tilez", "did you mean 'chip.tiles'"),
         extra={"parent.yaml": "chip:\n  tilez: 2\n"}),
    # --- enums
    Case("enum-adc-mode", "adc:\n  mode: sar\n", ("adc.mode", "'ideal', 'uniform' or 'trq'", "(got 'sar')")),
    Case("enum-weight-encoding", "datapath:\n  weight_encoding: twos\n",
         ("datapath.weight_encoding", "'differential' or 'offset'")),
    Case("enum-replication", "mapping:\n  replication: all\n", ("mapping.replication", "'none' or 'balance'")),
    # --- cross-field checks
    Case("uniform-bits-gt-resolution", "adc:\n  mode: uniform\n  resolution: 6\n  bits: 7\n",
         ("adc.bits=7", "adc.resolution=6", "allowed 1..6")),
    Case("trq-nr2-plus-m-gt-resolution", "adc:\n  mode: trq\n  resolution: 8\n  n_r2: 5\n  m: 4\n",
         ("adc.n_r2 + adc.m", "exceeds adc.resolution=8", "allowed 0..3")),
    Case("trq-nr1-gt-resolution", "adc:\n  mode: trq\n  n_r1: 9\n  n_r2: 4\n  m: 4\n", ("adc.n_r1=9", "allowed 0..8")),
    # --- --set overrides
    Case("set-without-equals", OK_BASE, ("--set", "adc.bits", "expected KEY=VALUE"), sets=("adc.bits",)),
    Case("set-empty-key", OK_BASE, ("--set", "empty key"), sets=("=5",)),
    Case("set-unknown-key", OK_BASE, ("adc.bitz", "did you mean 'adc.bits'"), sets=("adc.bitz=3",)),
    Case("set-unknown-section", OK_BASE, ("adcs", "valid keys at the top level"), sets=("adcs.bits=3",)),
    Case("set-into-scalar", OK_BASE, ("adc.mode.x", "adc.mode is a value, not a section"), sets=("adc.mode.x=1",)),
    Case("set-bad-dotted-key", OK_BASE, ("adc..bits", "bad dotted key"), sets=("adc..bits=3",)),
    Case("set-wrong-type", OK_BASE, ("adc.bits", "valid integer", "(got 'abc')"), sets=("adc.bits=abc",)),
    Case("set-out-of-range", OK_BASE, ("chip.tiles", "(got -5)", "allowed >= 1"), sets=("chip.tiles=-5",)),
    Case("set-cross-field", OK_BASE, ("adc.bits=9", "adc.resolution=8"), sets=("adc.bits=9",)),
    Case("set-duplicate-key", OK_BASE, ("--set", "key 'bits' appears twice"), sets=("adc={bits: 3, bits: 4}",)),
    Case("set-deep-nesting", OK_BASE, ("--set", "nested deeper than 100 levels"),
         sets=("adc.bits=" + "[" * 3000 + "]" * 3000,)),
    Case("set-trq-cross-field", OK_BASE, ("adc.n_r2 + adc.m",), sets=("adc.mode=trq", "adc.m=5")),
]


def _prepare(case: Case, tmp_path: Path, monkeypatch) -> str:
    monkeypatch.chdir(tmp_path)
    for name, text in case.extra.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    if case.text is not None:
        data = case.text if isinstance(case.text, bytes) else case.text.encode()
        (tmp_path / "BAD.yaml").write_bytes(data)
    return case.arch[1:] if case.arch.startswith("@") else str(tmp_path / case.arch)


def _check_message(msg: str, case: Case) -> None:
    assert "\n" not in msg.strip(), msg
    for part in case.expect:
        assert part in msg, f"{part!r} not in {msg!r}"


def test_battery_is_large_enough():
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_api_raises_config_error(case: Case, tmp_path, monkeypatch):
    arch = _prepare(case, tmp_path, monkeypatch)
    with pytest.raises(ConfigError) as info:
        overrides = dict(parse_set(s) for s in case.sets)
        load_arch(arch, overrides)
    _check_message(str(info.value), case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_cli_one_line_exit_2(case: Case, tmp_path, monkeypatch, capsys):
    arch = _prepare(case, tmp_path, monkeypatch)
    argv = ["describe", arch]
    for s in case.sets:
        argv += ["--set", s]
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("isaacsim: error: "), err
    assert "Traceback" not in err
    _check_message(err, case)


# argparse-level mistakes: the same contract (one line, exit 2), raised as SystemExit(2).
ARGV_ERRORS = [
    [],
    ["describe"],
    ["describe", "trq", "--set"],
    ["describe", "trq", "--bogus"],
    ["nosuchcommand"],
]


@pytest.mark.parametrize("argv", ARGV_ERRORS, ids=lambda a: " ".join(a) or "no-args")
def test_cli_usage_errors_one_line(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    _, err = capsys.readouterr()
    assert info.value.code == 2
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err, err


SUBPROCESS_IDS = ["yaml-unclosed-flow", "unknown-chip-tilez", "missing-file", "set-without-equals", "extends-self",
                  "yaml-duplicate-key", "yaml-deep-flow-nesting"]


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SUBPROCESS_IDS], ids=lambda c: c.id)
def test_cli_subprocess(case: Case, tmp_path, monkeypatch):
    arch = _prepare(case, tmp_path, monkeypatch)
    cmd = [sys.executable, "-m", "isaacsim.cli", "describe", arch]
    for s in case.sets:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("isaacsim: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    _check_message(proc.stderr, case)


def test_api_does_not_mutate_callers_dict():
    src = {"extends": "trq_baseline", "adc": {"bits": 4}}
    load_arch(src, {"adc.bits": 8})
    assert src == {"extends": "trq_baseline", "adc": {"bits": 4}}


def test_all_errors_of_one_file_in_one_line(tmp_path):
    p = tmp_path / "two.yaml"
    p.write_text("chip:\n  tilez: 1\npe:\n  adcs: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_arch(p)
    msg = str(info.value)
    assert "\n" not in msg and "chip.tilez" in msg and "pe.adcs" in msg
