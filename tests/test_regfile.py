"""Register files (isaacsim.adc.regfile): round trip in YAML and JSON, one-line ConfigErrors."""

from __future__ import annotations

import json

import pytest

from isaacsim.adc.regfile import load_registers, parse_registers, save_registers
from isaacsim.adc.registers import ADCRegisters
from isaacsim.errors import ConfigError

TRQ = {"mode": "trq", "resolution": 8, "n_r1": 3, "n_r2": 4, "m": 4, "delta_r1": 1.5, "bias": 1}
UNI = {"mode": "uniform", "resolution": 8, "bits": 6, "delta": 4.0}


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_round_trip(tmp_path, suffix):
    regs = {"conv1": ADCRegisters.of(TRQ), "fc": UNI, "c2": {"mode": "ideal", "resolution": 8}}
    p = save_registers(tmp_path / f"r{suffix}", regs, meta={"workload": "w"})
    got = load_registers(p)
    assert list(got) == ["conv1", "fc", "c2"]
    assert got["conv1"] == ADCRegisters.of(TRQ) and got["fc"] == ADCRegisters.of(UNI)
    assert got["c2"].mode == "ideal"
    if suffix == ".json":
        assert json.loads(p.read_text())["format_version"] == 1


def test_minimal_and_empty_layers(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("layers:\n  conv1: {mode: trq, n_r1: 5}\n")
    got = load_registers(p)["conv1"]
    assert (got.mode, got.n_r1, got.n_r2, got.resolution) == ("trq", 5, 4, 8)  # ADCConfig defaults
    p.write_text("format_version: 1\nlayers: {}\n")
    assert load_registers(p) == {}


BAD = [
    ("nothing: 1\nlayers: {}\n", r"unknown key\(s\) nothing; valid keys: format_version, layers, meta"),
    ("format_version: 2\nlayers: {}\n", "format_version 2 is not supported"),
    ("format_version: 1\n", "'layers' is missing"),
    ("layers: [1, 2]\n", "layers must be a mapping"),
    ("layers:\n  conv1: 5\n", "layers.conv1: expected a mapping"),
    ("layers:\n  conv1: {n_r1: 3}\n", "layers.conv1: 'mode' is required"),
    ("layers:\n  conv1: {mode: trq, n_r1: -1}\n", "layers.conv1: adc.n_r1"),
    ("layers:\n  conv1: {mode: trq, nr1: 3}\n", "layers.conv1: adc.nr1: unknown ADC key"),
    ("layers:\n  conv1: {mode: trq, n_r2: 6, m: 4}\n", "layers.conv1: .*exceeds adc.resolution"),
    ("layers:\n  conv1: {mode: magic}\n", "layers.conv1: adc.mode"),
    ("meta: 3\nlayers: {}\n", "meta must be a mapping"),
    ("layers:\n  conv1: {mode: trq\n", "YAML syntax error at line"),
    ("", "empty"),
    ("- a\n- b\n", "top level must be a mapping"),
]


@pytest.mark.parametrize("text,match", BAD)
def test_bad_files(tmp_path, text, match):
    p = tmp_path / "regs.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match) as e:
        load_registers(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_bad_json_and_missing(tmp_path):
    p = tmp_path / "r.json"
    p.write_text('{"layers": {"c": {"mode": "trq",}}}')
    with pytest.raises(ConfigError, match=r"r\.json: JSON syntax error at line 1"):
        load_registers(p)
    with pytest.raises(ConfigError, match="no such register file"):
        load_registers(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="no such register file"):
        load_registers(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="is a directory"):
        load_registers(tmp_path)


def test_parse_registers_from_dict():
    assert parse_registers({"layers": {"a": TRQ}})["a"] == ADCRegisters.of(TRQ)
    with pytest.raises(ConfigError, match="<registers>: layers: layer names must be"):
        parse_registers({"layers": {3: TRQ}})
