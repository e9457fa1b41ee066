"""`isaacsim describe` for every preset (text and JSON), and one-line errors for bad tables."""

from __future__ import annotations

import json

import pytest
import yaml

from isaacsim.cli import main
from isaacsim.components.loader import TABLE_DIR

PRESETS = ["isaac", "trq_baseline", "trq"]


@pytest.mark.parametrize("preset", PRESETS)
def test_describe_text(preset, capsys):
    assert main(["describe", preset]) == 0
    out = capsys.readouterr().out
    assert "per PE" in out and "per tile" in out and "chip" in out and "ADC" in out


@pytest.mark.parametrize("preset", PRESETS)
def test_describe_json(preset, capsys):
    assert main(["describe", preset, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for level in ("pe", "tile", "chip"):
        assert d[level]["area_mm2"] > 0 and d[level]["peak_power_w"] > 0
        assert isinstance(d[level]["components"], list)
    assert d["chip"]["peak_power_w"] > d["tile"]["peak_power_w"] > d["pe"]["peak_power_w"]
    assert d["table"]["name"] and d["table"]["source"]
    assert d["hierarchy"]["adcs"] == d["hierarchy"]["pes"] * d["hierarchy"]["adcs_per_pe"]


def test_describe_json_isaac_totals(capsys):
    """ISAAC ISCA 2016: tile 330 mW / 0.372 mm2, chip 65.8 W / 85.4 mm2."""
    assert main(["describe", "isaac", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["tile"]["peak_power_w"] == pytest.approx(0.330, rel=0.01)
    assert d["tile"]["area_mm2"] == pytest.approx(0.372, rel=0.01)
    assert d["chip"]["peak_power_w"] == pytest.approx(65.8, rel=0.01)
    assert d["chip"]["area_mm2"] == pytest.approx(85.4, rel=0.01)
    assert [c["component"] for c in d["chip"]["components"]] == ["hypertransport"]
    # ISAAC's tile logic at 1.2 GHz (Table I) and 32-bit NoC links at 1 GHz (sec. VIII-A)
    assert (d["clock_mhz"], d["tile_clock_mhz"], d["noc_clock_mhz"]) == (100, 1200, 1000)


def test_describe_set_changes_adc_power(capsys):
    def adc_w(argv):
        assert main(argv) == 0
        d = json.loads(capsys.readouterr().out)
        return next(c for c in d["pe"]["components"] if c["component"] == "adc")["peak_power_w"]

    base = adc_w(["describe", "isaac", "--json"])
    slow = adc_w(["describe", "isaac", "--json", "--set", "adc.sample_rate_msps=640"])
    assert base == pytest.approx(0.016) and slow == pytest.approx(0.008)  # 8 ADCs x 2 mW -> x 1 mW


def _bad_table(tmp_path, text=None):
    p = tmp_path / "bad_table.yaml"
    if text is None:
        data = yaml.safe_load((TABLE_DIR / "isaac_32nm.yaml").read_text())
        data["components"]["crossbar"]["energy_j"]["read"] = -3e-11
        text = yaml.safe_dump(data)
    p.write_text(text)
    return p


@pytest.mark.parametrize("kind", ["negative", "syntax", "missing"])
def test_describe_bad_table_exit_2_one_line(kind, tmp_path, capsys):
    if kind == "negative":
        p = _bad_table(tmp_path)
    elif kind == "syntax":
        p = _bad_table(tmp_path, "name: [x\n")
    else:
        p = tmp_path / "missing.yaml"
    rc = main(["describe", "isaac", "--set", f"components.table={p}"])
    err = capsys.readouterr().err
    assert rc == 2
    lines = [ln for ln in err.splitlines() if not ln.startswith("isaacsim: warning:")]
    assert len(lines) == 1 and lines[0].startswith("isaacsim: error:")
    assert p.name in lines[0]
    if kind == "negative":
        assert "components.crossbar.energy_j.read" in lines[0]


def test_runs_and_describe_name_the_tables_digest(capsys, tmp_path):
    """The digest names the table's numbers: describe and a run's energy show it, and a table
    that differs in one number has another."""
    import yaml

    import isaacsim
    from isaacsim.components import load_table, table_path

    digest = load_table("trq_45nm").digest()
    assert main(["describe", "trq", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["table"]["digest"] == digest
    res = isaacsim.simulate("trq", "workloads/lenet5_mnist5k", samples=1, timing=False)
    assert res.summary()["energy"]["table_digest"] == digest
    doc = yaml.safe_load(table_path("trq_45nm").read_text())
    doc["components"]["adc"]["energy_j"]["op"] *= 2
    p = tmp_path / "t.yaml"
    p.write_text(yaml.safe_dump(doc))
    assert load_table(p).digest() != digest
    p.write_text("# a comment changes nothing\n" + yaml.safe_dump(yaml.safe_load(
        table_path("trq_45nm").read_text())))
    assert load_table(p).digest() == digest
