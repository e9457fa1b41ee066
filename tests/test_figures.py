"""Energy/power figures (isaacsim.report.figures): each figure writes a valid PNG of the expected
size and a well-formed SVG; the tables behind the stacked bars, the grouping of minor components
into "other", the unit choice, the fixed colours, and the errors for inputs with nothing to draw."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import matplotlib as mpl
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from isaacsim.components import UNITS
from isaacsim.report import compare as C
from isaacsim.report import figures as F

COLUMNS = ["tile", "pe", "layer", "component", "action", "count", "energy_j", "power_w"]
T_INF = 1e-5
PE_W = {"adc": ("op", 16e-3), "dac": ("drive", 4e-3), "sh": ("sample", 1e-5),
        "crossbar": ("read", 2.4e-3), "shift_add": ("add", 2e-4), "input_register": ("read_byte", 1.2e-3)}
TILE_W = {"edram": ("read_byte", 2e-2), "router": ("byte_hop", 1e-2), "sigmoid": ("op", 5e-4)}


def breakdown(n_tiles: int = 3, pes: int = 4, layers=("conv1", "conv2", "fc1"), seed: int = 0,
              ht_w: float = 1e-2) -> pd.DataFrame:
    """A priced breakdown in the report's tidy format: PEs spread over the layers, leakage rows
    with no layer, tile-level units, and one chip-level HyperTransport row."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_tiles):
        for p in range(pes):
            layer = layers[(t * pes + p) * len(layers) // (n_tiles * pes)]
            for comp, (action, w) in PE_W.items():
                pw = w * rng.uniform(0.5, 1.0)
                rows.append((t, p, layer, comp, action, 10.0, pw * T_INF, pw))
                rows.append((t, p, None, comp, "leakage", 0.0, w * 1e-3 * T_INF, w * 1e-3))
        for comp, (action, w) in TILE_W.items():
            rows.append((t, None, layers[t % len(layers)], comp, action, 5.0, w * T_INF, w))
    rows.append((None, None, None, "hypertransport", "byte_hop", 3.0, ht_w * T_INF, ht_w))
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["tile"] = df["tile"].astype("Int64")
    df["pe"] = df["pe"].astype("Int64")
    df["layer"] = df["layer"].astype("string")
    return df


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return breakdown()


def check_outputs(paths, stem, size=(1500, 750)):
    png, svg = paths
    assert png == stem.with_name(stem.name + ".png") and svg == stem.with_name(stem.name + ".svg")
    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    assert (img.shape[1], img.shape[0]) == size
    assert img[..., :3].std() > 0.05  # something was drawn
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")


# ----------------------------------------------------------------------------- figures

def test_power_per_tile(small, tmp_path):
    stem = tmp_path / "new" / "dir" / "power_per_tile"
    check_outputs(F.power_per_tile(small, stem, title="LeNet-5"), stem)
    svg = stem.with_suffix(".svg").read_text()
    assert "LeNet-5" in svg and "ADC" in svg and "HyperTransport" in svg  # chip-level row named


def test_power_per_tile_300_tiles(tmp_path):
    df = breakdown(n_tiles=300, pes=2, layers=tuple(f"l{i}" for i in range(12)), seed=1)
    df = df[~df["tile"].between(100, 149).fillna(False)]  # idle tiles: left out, gap marked
    stem = tmp_path / "big"
    check_outputs(F.power_per_tile(df, stem), stem)
    raw, chip = F.tile_power(df)
    assert len(raw) == 250 and raw.index.is_monotonic_increasing and 120 not in raw.index
    assert list(chip.index) == ["hypertransport"]
    svg = stem.with_suffix(".svg").read_text()
    assert "250 with power" in svg and "dotted" in svg


def test_energy_per_layer(small, tmp_path):
    stem = tmp_path / "energy_per_layer"
    check_outputs(F.energy_per_layer(small, stem), stem)
    svg = stem.with_suffix(".svg").read_text()
    for name in ("conv1", "conv2", "fc1", "(shared)"):
        assert name in svg


def test_chip_breakdown(small, tmp_path):
    stem = tmp_path / "chip"
    before = dict(mpl.rcParams)
    paths = F.chip_breakdown(small, stem, title="LeNet-5")
    assert dict(mpl.rcParams) == before  # the style is set locally
    png = mpimg.imread(paths[0])
    assert png.shape[1] == 1500 and 300 < png.shape[0] <= 750
    check_outputs(paths, stem, size=(png.shape[1], png.shape[0]))
    total = small["power_w"].sum()
    svg = stem.with_suffix(".svg").read_text()
    assert f"total {total * 1e3:.0f} mW" in svg or f"total {total * 1e3:.3g} mW" in svg
    adc = small.loc[small.component == "adc", "power_w"].sum() / total
    assert f"{adc:.1%}" in svg


def runs_for(layers, resolution=8):
    uni = [{"name": n, "ops_per_conversion": float(resolution),
            "adc": {"mode": "uniform", "resolution": resolution, "bits": resolution}} for n in layers]
    trq = [{"name": n, "ops_per_conversion": 3.0 + i / 2,
            "adc": {"mode": "trq", "resolution": resolution}} for i, n in enumerate(layers)]
    return uni, trq


def test_ops_per_conversion(tmp_path):
    layers = ["conv1", "conv2", "fc1", "fc2"]
    uni, trq = runs_for(layers)
    trq[-1]["ops_per_conversion"] = None  # no conversions: "n/a", no bar
    stem = tmp_path / "ops"
    check_outputs(C.ops_per_conversion({"uniform 8b": uni, "trq": trq}, stem), stem)
    svg = stem.with_suffix(".svg").read_text()
    assert "uniform 8b" in svg and "trq" in svg and "uniform SAR: 8" in svg and "n/a" in svg


def test_ops_per_conversion_one_run_and_mixed_resolutions(tmp_path):
    _, trq = runs_for(["a", "b", "c"])
    trq[1]["adc"]["resolution"] = 6
    stem = tmp_path / "one"
    check_outputs(C.ops_per_conversion({"trq": trq}, stem), stem)
    assert "uniform SAR" in stem.with_suffix(".svg").read_text()


# ----------------------------------------------------------------------------- tables and helpers

def test_layer_energy_order_and_shared(small):
    raw = F.layer_energy(small)
    assert list(raw.index) == ["conv1", "conv2", "fc1", "(shared)"]
    assert raw.loc["(shared)", "hypertransport"] == pytest.approx(1e-2 * T_INF)
    assert raw.to_numpy().sum() == pytest.approx(small["energy_j"].sum())
    # rows with no layer but no energy: no "(shared)" bar
    no_shared = small[small["layer"].notna() | (small["component"] == "__none__")]
    assert list(F.layer_energy(no_shared).index) == ["conv1", "conv2", "fc1"]
    zero = small.copy()
    zero.loc[zero["layer"].isna(), "energy_j"] = 0.0
    assert "(shared)" not in F.layer_energy(zero).index
    # order of first appearance, not alphabetical
    rev = pd.concat([small[small["layer"] == "fc1"], small[small["layer"] != "fc1"]])
    assert list(F.layer_energy(rev).index)[:3] == ["fc1", "conv1", "conv2"]


def test_group_minor():
    wide = pd.DataFrame({"dac": [10.0, 5.0], "adc": [60.0, 20.0], "sh": [0.2, 0.1],
                         "sigmoid": [0.3, 0.2], "maxpool": [0.0, 0.0], "edram": [3.0, 1.2]})
    g = F.group_minor(wide)
    assert list(g.columns) == ["adc", "dac", "edram", "other"]  # fixed order, "other" last
    assert g["other"].tolist() == pytest.approx([0.5, 0.3])
    assert g.to_numpy().sum() == pytest.approx(wide.to_numpy().sum())
    # one minor component keeps its name; a higher threshold merges more
    assert list(F.group_minor(wide.drop(columns="sh")).columns) == ["adc", "dac", "edram", "sigmoid"]
    assert list(F.group_minor(wide, 0.1).columns) == ["adc", "dac", "other"]
    # nothing under the threshold: no "other"; all-zero columns dropped
    assert "other" not in F.group_minor(wide, 0.0001).columns
    assert "maxpool" not in F.group_minor(wide, 0.0001).columns


@pytest.mark.parametrize(("value", "factor", "unit"), [
    (2.5, 1.0, "W"), (1.0, 1.0, "W"), (0.999, 1e-3, "mW"), (0.0123, 1e-3, "mW"),
    (4.2e-5, 1e-6, "\u00b5W"), (3e-9, 1e-9, "nW"), (2e-12, 1e-9, "nW"), (0.0, 1.0, "W"),
    (1500.0, 1.0, "W"),
])
def test_power_unit(value, factor, unit):
    assert F.power_unit(value) == (factor, unit)


@pytest.mark.parametrize(("value", "factor", "unit"), [
    (3.0, 1.0, "J"), (2e-3, 1e-3, "mJ"), (1.48e-5, 1e-6, "\u00b5J"), (7e-9, 1e-9, "nJ"),
    (5e-12, 1e-12, "pJ"), (5e-14, 1e-12, "pJ"),
])
def test_energy_unit(value, factor, unit):
    assert F.energy_unit(value) == (factor, unit)


def test_component_colors():
    colors = F.component_colors()
    assert set(UNITS.names) | {"other"} == set(colors)
    assert len(set(colors.values())) == len(colors)  # distinct
    assert colors["adc"] == "#d62728"
    colors["adc"] = "#000000"  # a copy: the module's mapping is untouched
    assert F.component_colors()["adc"] == "#d62728"
    assert F.component_label("adc") == "ADC" and F.component_label("new_unit") == "new_unit"


def test_save_helper(tmp_path):
    from matplotlib.figure import Figure

    def fig():
        f = Figure(figsize=(2, 1), layout="constrained")
        f.add_subplot().plot([0, 1], [1, 0], label="x")
        return f

    stem = tmp_path / "a" / "b.v2"
    paths = F.save(fig(), stem)
    assert [p.name for p in paths] == ["b.v2.png", "b.v2.svg"] and all(p.exists() for p in paths)
    assert mpimg.imread(paths[0]).shape[:2] == (150, 300)
    # reproducible SVGs: no date, fixed ids
    again = F.save(fig(), tmp_path / "c")
    assert paths[1].read_bytes() == again[1].read_bytes()


# ----------------------------------------------------------------------------- errors

EMPTY = pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
    COLUMNS, ["Int64", "Int64", "string", "object", "object", "float", "float", "float"], strict=True)})


@pytest.mark.parametrize("fn", [F.power_per_tile, F.energy_per_layer, F.chip_breakdown])
def test_empty_frame_raises(fn, small, tmp_path):
    with pytest.raises(ValueError, match="nothing to draw"):
        fn(EMPTY, tmp_path / "e")
    zero = small.assign(energy_j=0.0, power_w=0.0)
    with pytest.raises(ValueError, match="no row with non-zero"):
        fn(zero, tmp_path / "z")
    assert not list(tmp_path.iterdir())  # nothing written


def test_other_bad_inputs(small, tmp_path):
    with pytest.raises(ValueError, match="lacks column"):
        F.power_per_tile(small.drop(columns="power_w"), tmp_path / "p")
    with pytest.raises(ValueError, match="chip-level"):
        F.power_per_tile(small[small["tile"].isna()], tmp_path / "p")
    with pytest.raises(ValueError, match="no runs"):
        C.ops_per_conversion({}, tmp_path / "o")
    with pytest.raises(ValueError, match="nothing to draw"):
        C.ops_per_conversion({"trq": [{"name": "a", "ops_per_conversion": None, "adc": {}}]},
                             tmp_path / "o")
    assert issubclass(F.FigureError, ValueError)
