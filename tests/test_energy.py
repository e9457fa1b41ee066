"""Energy model: event counts, pricing, leakage, re-pricing, summaries and the report.

Golden numbers: ISAAC's published per-component powers (Shafiee et al., ISCA 2016, Table 6
"ISAAC tile at 1.2 GHz" rows per IMA and per tile) for the full-activity check, and hand counts
from the crossbar geometry (the TRQ paper's Eq. 3) for one linear layer.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

import isaacsim
from isaacsim.cli import main
from isaacsim.components import load_table
from isaacsim.components.loader import table_path
from isaacsim.energy.events import COLUMNS, count_events
from isaacsim.energy.peak import peak_summary
from isaacsim.energy.price import energy_report, price
from isaacsim.energy.runs import reprice
from isaacsim.errors import ConfigError, EnergyWarning
from isaacsim.workload import save_workload

LENET = "workloads/lenet5_mnist5k"


def _events(rows):
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["tile"] = df["tile"].astype("Int64")
    df["pe"] = df["pe"].astype("Int64")
    df["layer"] = df["layer"].astype("string")
    return df


# ------------------------------------------------------------------ full activity = peak


ISAAC_PE_MW = {"adc": 16.0, "dac": 4.0, "sh": 0.01, "crossbar": 2.4, "shift_add": 0.2,
               "input_register": 1.24, "output_register": 0.23}
"""ISAAC ISCA 2016 Table 6, one IMA (8 ADCs, 8x128 DACs, 8x128 S+H, 8 arrays, 4 S+A, IR, OR)."""
ISAAC_TILE_MW = {"edram": 20.7, "tile_bus": 7.0, "router": 42.0 / 4, "sigmoid": 0.52, "tile_shift_add": 0.05,
                 "maxpool": 0.4, "tile_output_register": 1.68}
"""ISAAC ISCA 2016 Table 6, per tile (the router's 42 mW is shared by 4 tiles)."""


def test_full_activity_power_equals_peak_and_isaac():
    """Counts of every PE and tile unit at its full rate for T seconds, written from the arch's
    parameters here (not from energy.peak), priced per inference over T: each component's
    power equals describe's peak row and ISAAC's published figure (1%). Full rates: the tile's
    digital logic at 1.2 GHz (ISAAC, ISCA 2016, Table I), NoC links of 32 bits at 1 GHz (sec.
    VIII-A); the input register's port takes the DACs' reads and the window writes (16-bit inputs
    on 1-bit DACs: a window's rows are written once per 16 reads); the output register a 2-byte
    write per ADC result and a read per column per window."""
    arch = isaacsim.load_arch("isaac")
    pe, tile, xb = arch.pe, arch.tile, arch.crossbar
    T = 1e-3
    tile_hz, noc_hz = 1.2e9, 1e9
    reads = 1e9 / xb.read_latency_ns * T  # per crossbar
    results = pe.adcs * 1.28e9 * T  # 1.28 GS/s per ADC
    cycles = arch.datapath.input_bits // xb.dac_bits  # reads per window
    ir_read = pe.crossbars * xb.rows * xb.dac_bits / 8 * reads
    or_write = results * arch.datapath.psum_bits / 8
    rows = [
        (0, 0, "l", "adc", "op", results * arch.adc.resolution),
        (0, 0, "l", "adc", "convert", results),
        (0, 0, "l", "dac", "drive", pe.crossbars * xb.rows * reads),
        (0, 0, "l", "sh", "sample", pe.crossbars * xb.cols * reads),
        (0, 0, "l", "crossbar", "read", pe.crossbars * reads),
        (0, 0, "l", "shift_add", "add", results),
        (0, 0, "l", "input_register", "read_byte", ir_read),
        (0, 0, "l", "input_register", "write_byte", pe.crossbars * xb.rows * arch.datapath.input_bits / 8
         * reads / cycles),
        (0, 0, "l", "output_register", "write_byte", or_write),
        (0, 0, "l", "output_register", "read_byte", or_write / cycles),
        (0, None, "l", "edram", "read_byte", tile.edram_width_bits / 8 * tile_hz * T),
        (0, None, "l", "tile_bus", "byte_hop", tile.bus_width_bits / 8 * tile_hz * T),
        (0, None, "l", "router", "byte_hop", arch.chip.noc_link_bits / 8 * noc_hz * T),  # 1 of 4 tiles' links
        (0, None, "l", "sigmoid", "op", tile.sigmoid_units * tile_hz * T),
        (0, None, "l", "tile_shift_add", "add", tile.shift_add_units * tile_hz * T),
        (0, None, "l", "maxpool", "op", tile.maxpool_units * tile_hz * T),
        (0, None, "l", "tile_output_register", "write_byte", tile.bus_width_bits / 8 * tile_hz * T),
    ]
    rep = energy_report(_events(rows), arch, time_s=T)
    power = {r.component: r.power_w for r in rep.by("component").itertuples()}
    peak = peak_summary(arch)
    peak_rows = {(r.level, r.component): r.peak_power_w for r in peak.rows}
    for comp, mw in ISAAC_PE_MW.items():
        assert power[comp] == pytest.approx(peak_rows[("pe", comp)], rel=1e-9), comp
        assert power[comp] * 1e3 == pytest.approx(mw, rel=0.01), comp
    for comp, mw in ISAAC_TILE_MW.items():
        assert power[comp] * 1e3 == pytest.approx(mw, rel=0.01), comp
        assert power[comp] == pytest.approx(peak_rows[("tile", comp)], rel=1e-9)
    pe_total = sum(power[c] for c in ISAAC_PE_MW)
    assert pe_total == pytest.approx(peak.pe_power_w, rel=1e-9)
    assert pe_total * tile.pes + sum(power[c] for c in ISAAC_TILE_MW) == pytest.approx(peak.tile_power_w, rel=1e-9)
    assert rep.power_w == pytest.approx(pe_total + sum(power[c] for c in ISAAC_TILE_MW), rel=1e-9)


# ------------------------------------------------------------------ hand-counted events


def _fmt(bits=8, signed=False, scale=0.05, zp=0):
    return {"bits": bits, "signed": signed, "scale": scale, "zero_point": zp}


@pytest.fixture(scope="module")
def linear_wl(tmp_path_factory):
    """One linear layer, K = 200 inputs, M = 10 outputs."""
    rng = np.random.default_rng(3)
    manifest = {"format_version": 1, "name": "lin", "input": {"shape": [200], **_fmt(scale=1 / 255)},
                "graph": [{"name": "fc", "op": "linear", "inputs": ["input"], "weight": "fc.w", "out_features": 10,
                           "requant": {**_fmt(signed=True), "multiplier": 1, "shift": 12}}]}
    arrays = {"fc.w": rng.integers(-127, 128, size=(10, 200)).astype(np.int8)}
    x = rng.integers(0, 256, size=(4, 200)).astype(np.uint8)
    return save_workload(manifest, tmp_path_factory.mktemp("lin") / "lin", arrays=arrays, eval=(x, None))


def _count(ev, component, action, **where):
    sel = (ev["component"] == component) & (ev["action"] == action)
    for k, v in where.items():
        sel &= ev[k] == v
    return float(ev.loc[sel, "count"].sum())


def test_hand_counted_linear_layer(linear_wl):
    """trq_baseline: 1-bit cells, 8-bit differential weights = 7 slices x 2 polarities; K = 200
    gives row partitions of 128 and 72 rows; 70 columns per polarity fit one column partition,
    so 4 crossbars on one PE; 8 bit-serial input cycles (1-bit DAC, unsigned 8-bit inputs)."""
    res = isaacsim.simulate("trq_baseline", linear_wl)
    ev = res.events
    assert res.samples == 4
    assert _count(ev, "crossbar", "read") == 4 * 8
    assert _count(ev, "dac", "drive") == 8 * (128 + 72) * 2
    assert _count(ev, "sh", "sample") == 8 * 70 * 4
    assert _count(ev, "adc", "convert") == 8 * 70 * 4 == res.layers["fc"].conversions / 4  # Eq. 3
    assert _count(ev, "adc", "op") == pytest.approx(res.layers["fc"].ad_ops / 4)
    assert _count(ev, "shift_add", "add") == 8 * 70 * 4
    assert _count(ev, "input_register", "read_byte") == 8 * (128 + 72) * 2 / 8
    assert _count(ev, "input_register", "write_byte") == 200  # both row partitions once, 8 bits each
    assert _count(ev, "output_register", "write_byte") == 8 * 70 * 4 * 2  # 16-bit partial sums
    assert _count(ev, "output_register", "read_byte") == 70 * 4 * 2
    assert _count(ev, "edram", "read_byte") == 200
    assert _count(ev, "edram", "write_byte") == 200  # the network input lands in eDRAM
    # trq_baseline has no off-chip links (the TRQ paper's chip has none), so nothing crosses
    # HyperTransport; with ISAAC's 4 links the input (200 B) and output (10 B) do, below
    assert _count(ev, "hypertransport", "byte_hop") == 0
    linked = isaacsim.simulate(isaacsim.load_arch("trq_baseline", {"chip.hypertransport_links": 4,
                                                                   "components.table": "isaac_32nm"}),
                               linear_wl, timing=False)
    assert _count(linked.events, "hypertransport", "byte_hop") == 200 + 10
    assert _count(ev, "tile_output_register", "write_byte") == 10
    assert _count(ev, "tile_shift_add", "add") == 0  # the copy sits on one PE
    assert _count(ev, "trq_config", "write") == 0  # uniform ADC
    dyn = ev[ev["action"] != "leakage"]  # leakage rows cover every unit of the chip
    assert set(dyn["pe"].dropna()) == {0} and set(dyn["tile"].dropna()) == {0}


def test_trq_counts_decode_shifts_and_config_writes(linear_wl):
    res = isaacsim.simulate("trq", linear_wl)
    ev = res.events
    st = res.layers["fc"]
    assert _count(ev, "shift_add", "shift") == pytest.approx(st.r2_conversions / res.samples)
    assert _count(ev, "trq_config", "write") == res.arch.pe.adcs  # one register per ADC of its one PE
    assert _count(ev, "adc", "op") == pytest.approx(st.ad_ops / res.samples)


def test_counts_name_only_registered_units(linear_wl):
    """Leakage rows cover every unit the arch has (from the unit registry); an unknown unit cannot be counted."""
    from isaacsim.components import UNITS
    from isaacsim.energy.events import _Acc

    res = isaacsim.simulate("trq", linear_wl)
    leak = res.events[res.events["action"] == "leakage"]
    assert set(leak["component"]) == {u.name for u in UNITS if u.count(res.arch)}
    assert set(res.events["component"]) <= set(UNITS.names)
    with pytest.raises(KeyError, match="unknown hardware unit 'adcc'"):
        _Acc().add(0, 0, "fc", "adcc", "op", 1)


# ------------------------------------------------------------------ ADC energy, leakage, sums


def _leaky_table(tmp_path, adc_leak=2e-6, edram_leak=5e-6):
    doc = yaml.safe_load(table_path("trq_45nm").read_text())
    doc["name"] = "leaky"
    doc["components"]["adc"]["leakage_w"] = adc_leak
    doc["components"]["edram"]["leakage_w"] = edram_leak
    p = tmp_path / "leaky.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@pytest.fixture(scope="module")
def lenet_run():
    return isaacsim.simulate("trq", LENET, samples=8)


def test_adc_energy_is_e_op_times_ops_plus_leakage(lenet_run, tmp_path):
    res = lenet_run
    table = _leaky_table(tmp_path)
    rep = res.price(table)
    t = res.timing.latency_s
    e_op = load_table(table).entry("adc").energy_j["op"]
    ops = res.totals()["ad_ops"] / res.samples
    # leakage is charged to the tiles the layers occupy (the others are power-gated)
    tiles = len({tl for lp in res.mapping.layers for tl in lp.tiles})
    assert tiles < res.mapping.tiles
    n_adcs = tiles * res.mapping.pes_per_tile * res.arch.pe.adcs
    assert rep.adc_j == pytest.approx(e_op * ops + 2e-6 * n_adcs * t, rel=1e-12)
    # without leakage the ADC energy is exactly e_op x ops
    assert res.energy.adc_j == pytest.approx(load_table("trq_45nm").entry("adc").energy_j["op"] * ops, rel=1e-12)
    edram = float(rep.frame.loc[(rep.frame["component"] == "edram") & (rep.frame["action"] == "leakage"),
                                "energy_j"].sum())
    assert edram == pytest.approx(5e-6 * tiles * t)  # 64 KB eDRAM per tile = the table's size
    # trq_45nm has leakage of its own (CACTI buffers, Aladdin logic): the leaky table replaces only
    # the ADC's (0 in trq_45nm) and the eDRAM's, so the rest of the leakage is unchanged
    base_edram = load_table("trq_45nm").entry("edram").leakage_w * tiles * t
    assert load_table("trq_45nm").entry("adc").leakage_w == 0
    assert rep.leakage_j == pytest.approx(
        res.energy.leakage_j - base_edram + 2e-6 * n_adcs * t + 5e-6 * tiles * t)
    assert rep.power_w == pytest.approx(rep.energy_j / t)


def test_summary_energy_keys_and_breakdown_sum(lenet_run):
    s = lenet_run.summary()
    json.dumps(s)
    assert s["energy_j"] > 0 and s["power_w"] == pytest.approx(s["energy_j"] / s["latency_s"])
    rows = s["breakdown"]
    assert rows and {"tile", "pe", "layer", "component", "energy_j", "power_w"} <= set(rows[0])
    assert math.fsum(r["energy_j"] for r in rows) == pytest.approx(s["energy_j"], rel=1e-12)
    assert math.fsum(r["power_w"] for r in rows) == pytest.approx(s["power_w"], rel=1e-12)
    adc = math.fsum(r["energy_j"] for r in rows if r["component"] == "adc")
    assert s["adc"]["energy_j"] == pytest.approx(adc)
    assert s["adc"]["energy_share"] == pytest.approx(adc / s["energy_j"])
    pes = {(r["tile"], r["pe"]) for r in rows if r["component"] == "adc"}
    assert pes == set(lenet_run.mapping.pe_layers())  # every used PE's ADCs, and no other
    df = lenet_run.to_frame()
    # every dynamic row belongs to a layer; leakage of units no layer uses (trq_45nm's buffers and
    # logic leak, the whole chip's) has none and is the only energy outside the layers' rows
    f = lenet_run.energy.frame
    unowned = f[f["layer"].isna()]
    assert (unowned["action"] == "leakage").all()
    assert df["energy_j"].sum() + unowned["energy_j"].sum() == pytest.approx(s["energy_j"], rel=1e-9)


def test_per_pe_adc_ops_follow_the_datapath(lenet_run):
    """Each PE's A/D operations are the functional per-crossbar sums of the crossbars it holds."""
    res = lenet_run
    ev = res.events
    for lp in res.mapping.layers:
        per_xbar = np.asarray(res.layers[lp.name].xbar_ad_ops).reshape(-1) / res.samples
        for e, (tile, pe) in enumerate(lp.pes):
            lo, hi = e * lp.crossbars_per_pe, min((e + 1) * lp.crossbars_per_pe, lp.crossbars)
            got = _count(ev, "adc", "op", tile=tile, pe=pe)
            assert got == pytest.approx(per_xbar[lo:hi].sum()), (lp.name, tile, pe)


def test_reprice_changes_only_prices(lenet_run):
    res = lenet_run
    other = res.price("isaac_32nm")
    r = load_table("isaac_32nm").entry("adc").energy_j["op"] / load_table("trq_45nm").entry("adc").energy_j["op"]
    assert other.adc_j == pytest.approx(res.energy.adc_j * r, rel=1e-12)
    assert other.frame["count"].tolist() == res.energy.frame["count"].tolist()
    assert other.table == "isaac_32nm" and res.energy.table == "trq_45nm"


def test_a_table_without_a_counted_action_is_a_clear_error(lenet_run, tmp_path):
    """TRQ's decode shifts are counted for the record but never priced (they set the shift of the
    add the S+A does anyway); a counted, priced action the table lacks is one clear error."""
    shifts = lenet_run.energy.frame.query("component == 'shift_add' and action == 'shift'")
    assert shifts["count"].sum() > 0 and (shifts["energy_j"] == 0).all()
    p = _leaky_table(tmp_path)
    doc = yaml.safe_load(p.read_text())
    doc["components"]["output_register"]["energy_j"] = {"write_byte": 1e-14}
    p.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=r"components\.output_register\.energy_j has no action 'read_byte'"):
        lenet_run.price(p)
    with pytest.warns(EnergyWarning, match="read_byte"):
        res = isaacsim.simulate(isaacsim.load_arch("trq", {"components.table": str(p)}), LENET, samples=2)
    assert res.energy is None and res.summary()["energy"] == {"error": res.failure("energy").message}
    assert res.failure("energy").stage == "energy" and res.failure("timing") is None and res.status == "ok"
    assert res.summary()["energy_j"] is None and res.accuracy is not None


def test_no_timing_prices_dynamic_energy_only():
    res = isaacsim.simulate("trq", LENET, samples=2, timing=False)
    assert res.energy.time_s is None and res.energy.power_w is None
    assert (res.events["action"] != "leakage").all()
    s = res.summary()
    assert s["energy_j"] > 0 and s["power_w"] is None
    assert all(r["power_w"] is None for r in s["breakdown"])


def test_price_needs_no_simulation():
    """Pricing is a function of counts alone."""
    ev = _events([(0, 0, "a", "adc", "op", 1000.0), (0, None, "a", "edram", "read_byte", 10.0)])
    arch = isaacsim.load_arch("trq")
    t = load_table("trq_45nm")
    out = price(ev, arch, "trq_45nm", time_s=1e-6)
    assert out["energy_j"].tolist() == pytest.approx([1000 * t.entry("adc").energy_j["op"],
                                                      10 * t.entry("edram").energy_j["read_byte"]])
    assert out["power_w"].tolist() == pytest.approx((out["energy_j"] / 1e-6).tolist())


def test_count_events_rejects_wrong_stats(lenet_run):
    res = lenet_run
    wl = isaacsim.load_workload(LENET)
    with pytest.raises(ValueError, match="samples must be >= 1"):
        count_events(wl, res.mapping, res.arch, res.layers, 0)


# ------------------------------------------------------------------ files, CLI and report


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name, arch in (("uniform", "trq_baseline"), ("trq", "trq")):
        assert main(["run", arch, LENET, "--samples", "4", "--out", str(root / name), "--json"]) == 0
    return root


def test_out_writes_events_and_breakdown(run_dirs):
    d = run_dirs / "trq"
    for stem in ("events", "breakdown"):
        csv = pd.read_csv(d / f"{stem}.csv")
        pq = pd.read_parquet(d / f"{stem}.parquet")
        assert len(csv) == len(pq) > 0
    s = json.loads((d / "summary.json").read_text())
    b = pd.read_parquet(d / "breakdown.parquet")
    assert b["energy_j"].sum() == pytest.approx(s["energy_j"], rel=1e-9)
    rep = reprice(d)
    assert rep.energy_j == pytest.approx(s["energy_j"], rel=1e-12)
    rep2 = reprice(d, "isaac_32nm")
    assert rep2.table == "isaac_32nm" and rep2.energy_j != pytest.approx(s["energy_j"])


def test_report_draws_figures_for_runs(run_dirs, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(run_dirs), "--out", str(out), "--table", "isaac_32nm"]) == 0
    text = capsys.readouterr().out
    assert "isaac_32nm" in text and "ADC share" in text
    for run in ("uniform", "trq"):
        for fig in ("power_per_tile", "energy_per_layer", "chip_breakdown"):
            for ext in ("png", "svg"):
                assert (out / run / f"{fig}.{ext}").stat().st_size > 1000, (run, fig, ext)
        b = pd.read_csv(out / run / "breakdown.csv")
        assert b["energy_j"].sum() > 0
    assert (out / "ops_per_conversion.png").exists() and (out / "ops_per_conversion.svg").exists()


def test_report_single_run_default_out(run_dirs):
    assert main(["report", str(run_dirs / "uniform")]) == 0
    assert (run_dirs / "uniform" / "report" / "chip_breakdown.png").exists()


@pytest.mark.parametrize("argv, pattern", [
    (["report", "does/not/exist"], "no such directory"),
    (["report", "arch_configs"], "neither a run directory"),
])
def test_report_bad_input_one_line(argv, pattern, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and pattern in err


def test_report_bad_table_one_line(run_dirs, capsys):
    assert main(["report", str(run_dirs / "trq"), "--table", "nope.yaml", "--out", str(run_dirs / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.yaml" in err


def test_timing_only_runs_are_priced_too():
    """A timing-only run prices its synthetic A/D operations; with a uniform ADC every
    conversion costs `bits` operations, so its energy equals a functional run's exactly."""
    full = isaacsim.simulate("trq_baseline", LENET, samples=3)
    only = isaacsim.simulate("trq_baseline", LENET, timing_only=True)
    assert only.energy is not None and only.energy.samples == 1
    assert only.energy.adc_j == pytest.approx(full.energy.adc_j, rel=1e-12)
    assert only.energy.energy_j == pytest.approx(full.energy.energy_j, rel=1e-12)
    worst = isaacsim.simulate("trq", LENET, timing_only=True)  # no profile: the registers' worst case
    assert worst.energy.adc_j >= isaacsim.simulate("trq", LENET, samples=3).energy.adc_j


@pytest.mark.parametrize("src, dst, want", [
    (0, [0], 0),  # local: the tile bus, no router
    (0, [1], 1),  # another tile on the same router: one hop, as the timing model counts
    (0, [9], 3),  # routers 0 -> 2: 1 + 2 (4 tiles per router)
    (0, [4, 8, 9, 13], 4),  # multicast along the line: routers 0..3, each link once
    (9, [0, 13], 4),  # destinations on both sides: routers 0..3
    (9, [8, 9, 10], 1),
])
def test_multicast_hops(src, dst, want):
    from isaacsim.mapping.noc import multicast_hops
    from isaacsim.mapping.noc import router_hops as hops

    assert multicast_hops(src, dst, 4) == want
    if len(dst) == 1:
        assert multicast_hops(src, dst, 4) == hops(src, dst[0], 4)
