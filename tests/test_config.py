"""Valid architecture configs: presets, extends chains, dotted keys, overrides, --set, frozenness."""

from __future__ import annotations

import warnings

import pydantic
import pytest

from isaacsim import Arch, ConfigWarning, load_arch
from isaacsim.cli import build_parser, main
from isaacsim.commands.options import load_arch_from_args
from isaacsim.config import PRESET_DIR, parse_set, preset_names

PRESETS = ["isaac", "trq_baseline", "trq"]


def _quiet_load(*args, **kwargs) -> Arch:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        return load_arch(*args, **kwargs)


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load_by_name_and_path(name):
    by_name = _quiet_load(name)
    by_path = _quiet_load(PRESET_DIR / f"{name}.yaml")
    assert isinstance(by_name, Arch)
    assert by_name == by_path
    assert by_name.name == name
    assert name in preset_names()


def test_isaac_values():
    a = _quiet_load("isaac")
    assert (a.chip.tiles, a.tile.pes, a.pe.crossbars, a.pe.adcs) == (168, 12, 8, 8)
    assert (a.crossbar.rows, a.crossbar.cols, a.crossbar.cell_bits, a.crossbar.dac_bits) == (128, 128, 2, 1)
    assert (a.datapath.input_bits, a.datapath.weight_bits) == (16, 16)
    assert (a.adc.mode, a.adc.resolution, a.adc.sample_rate_msps) == ("uniform", 8, 1280)
    assert a.technology_nm == 32 and a.components.table == "isaac_32nm"
    # ISAAC's encoding: offset weights, a column over half full stored complemented, so a column's
    # cells sum to at most 128 x 3 / 2 and 8 ADC bits are lossless (ISAAC, ISCA 2016)
    assert (a.datapath.weight_encoding, a.datapath.column_flip) == ("offset", True)
    assert a.max_sample == 128 * 1 * 3 // 2 and a.lossless_bits == 8


def test_trq_extends_trq_baseline_extends_isaac():
    isaac, base, trq = (_quiet_load(n) for n in PRESETS)
    # overridden by trq_baseline (with dotted top-level keys) and inherited by trq
    for a in (base, trq):
        assert a.crossbar.cell_bits == 1
        assert (a.datapath.weight_encoding, a.datapath.column_flip) == ("differential", False)
        assert (a.datapath.input_bits, a.datapath.weight_bits, a.datapath.psum_bits) == (8, 8, 16)
        assert a.technology_nm == 45 and a.components.table == "trq_45nm"
        assert a.lossless_bits == 8
    # inherited from isaac through both levels
    for a in (base, trq):
        # the chip is ISAAC's but without its off-chip links: trq_baseline sets
        # chip.hypertransport_links 0 (the TRQ paper's chip has no HyperTransport)
        assert a.chip == isaac.chip.model_copy(update={"hypertransport_links": 0})
        assert a.tile == isaac.tile and a.pe == isaac.pe
        assert a.crossbar.rows == 128 and a.adc.sample_rate_msps == 1280
    # overridden by trq only
    assert base.adc.mode == "uniform" and trq.adc.mode == "trq"
    assert (trq.adc.n_r1, trq.adc.n_r2, trq.adc.m, trq.adc.delta_r1, trq.adc.bias) == (4, 4, 4, 1.0, 0)
    assert trq.adc.delta_r2 == 16.0
    assert base.adc.model_copy(update={"mode": "trq"}) == trq.adc


def test_isaac_without_its_column_flip_warns_lossy_and_the_presets_do_not():
    with pytest.warns(ConfigWarning, match=r"adc.resolution=8 is below the lossless 9 bits"):
        load_arch("isaac", overrides={"datapath.column_flip": False})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        load_arch("isaac")
        load_arch("trq_baseline")
        load_arch("trq")


def test_coarse_uniform_adc_is_a_warning_not_an_error():
    with pytest.warns(ConfigWarning, match="coarser than lossless"):
        a = load_arch("trq_baseline", overrides={"adc.bits": 6})
    assert a.adc.bits == 6 and a.adc.effective_bits == 6 and a.adc.effective_delta == 4.0


def test_overrides_are_dotted_and_leave_others_alone():
    a = load_arch("trq", overrides={"adc.n_r1": 3, "chip.tiles": 4, "name": "small"})
    base = load_arch("trq")
    assert (a.adc.n_r1, a.chip.tiles, a.name) == (3, 4, "small")
    assert a.adc.n_r2 == base.adc.n_r2 and a.tile == base.tile


def test_dotted_keys_in_a_file_apply_after_nested(tmp_path):
    p = tmp_path / "d.yaml"
    p.write_text("extends: trq_baseline\nadc.bits: 7\nadc:\n  bits: 4\n  resolution: 8\nchip.tiles: 2\n",
                 encoding="utf-8")
    with pytest.warns(ConfigWarning):
        a = load_arch(p)
    assert a.adc.bits == 7 and a.chip.tiles == 2 and a.datapath.input_bits == 8


def test_dict_source_with_extends_and_dotted_keys():
    a = load_arch({"extends": "trq", "adc.m": 3, "crossbar": {"cols": 64}})
    assert (a.adc.mode, a.adc.m, a.crossbar.cols, a.crossbar.rows) == ("trq", 3, 64, 128)


def test_extends_relative_file(tmp_path):
    (tmp_path / "parent.yaml").write_text("extends: trq\nchip:\n  tiles: 3\n", encoding="utf-8")
    (tmp_path / "child.yaml").write_text("extends: parent.yaml\nname: child\npe.adcs: 2\n", encoding="utf-8")
    a = load_arch(tmp_path / "child.yaml")
    assert (a.name, a.chip.tiles, a.pe.adcs, a.adc.mode) == ("child", 3, 2, "trq")


def test_preset_from_isaacsim_arch_path(tmp_path, monkeypatch):
    d = tmp_path / "more"
    d.mkdir()
    (d / "mine.yaml").write_text("extends: trq\nname: mine\nchip:\n  tiles: 4\n", encoding="utf-8")
    monkeypatch.setenv("ISAACSIM_ARCH_PATH", str(d))
    monkeypatch.chdir(tmp_path)
    assert "mine" in preset_names()
    a = load_arch("mine")
    assert (a.name, a.chip.tiles, a.adc.mode) == ("mine", 4, "trq")
    b = load_arch({"extends": "mine", "chip.tiles": 5})
    assert b.chip.tiles == 5 and b.name == "mine"


@pytest.mark.parametrize(
    "item, key, value",
    [
        ("adc.bits=6", "adc.bits", 6),
        ("adc.early_termination=false", "adc.early_termination", False),
        ("adc.delta=2.5", "adc.delta", 2.5),
        ("adc.bits=null", "adc.bits", None),
        ("adc.mode=trq", "adc.mode", "trq"),
        ("name=a=b", "name", "a=b"),
        (" name = x ", "name", "x"),
    ],
)
def test_parse_set_reads_yaml_values(item, key, value):
    k, v = parse_set(item)
    assert (k, v) == (key, value) and type(v) is type(value)


def test_cli_set_options_reach_the_arch():
    args = build_parser().parse_args(
        ["describe", "trq_baseline", "--set", "adc.bits=6", "--set", "adc.early_termination=false"]
    )
    with pytest.warns(ConfigWarning):
        a = load_arch_from_args(args)
    assert a.adc.bits == 6 and isinstance(a.adc.bits, int)
    assert a.adc.early_termination is False


def test_arch_is_frozen():
    a = load_arch("trq")
    with pytest.raises(pydantic.ValidationError):
        a.adc.bits = 3
    with pytest.raises(pydantic.ValidationError):
        a.chip = a.chip
    assert hash(a) == hash(load_arch("trq"))


def test_defaults_build_a_valid_arch():
    a = _quiet_load({})
    assert a == _quiet_load({"name": "custom"})
    assert a.adc.mode == "uniform" and a.clock.period_ns == 10


def test_adc_ops_per_cycle():
    a = load_arch("trq")
    assert a.adc_ops_per_cycle == pytest.approx(1280e6 * 8 / 100e6)
    assert load_arch("trq", {"adc.ops_per_cycle": 2}).adc_ops_per_cycle == 2


def test_cli_describe_valid_arch(capsys):
    pytest.importorskip("isaacsim.report.describe")
    assert main(["describe", "trq", "--json"]) == 0
    out, err = capsys.readouterr()
    assert out and "Traceback" not in err
