"""Timing-only runs (`isaacsim.timing.profile`, docs/timing.md "Timing-only runs"): the profile
file, synthetic traces' totals, timing-only == functional timing when every conversion costs the
same, the worst case is never faster, and `isaacsim run --timing-only`."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

import isaacsim
from isaacsim.cli import main
from isaacsim.errors import ConfigError
from isaacsim.mapping.layers import layers_of
from isaacsim.mapping.placement import place_network
from isaacsim.timing.profile import (
    load_profile,
    profile_of,
    save_profile,
    synthetic_trace,
    synthetic_traces,
)
from isaacsim.workload import build, save_workload
from tests.support.timing import SMALL, quiet_arch, small_net
from tests.support.workloads import net_parts

VARIED = {"adc.n_r1": 2, "adc.n_r2": 6, "adc.m": 2}  # TRQ with both ranges in use: 3 or 7 ops


arch = quiet_arch


@pytest.fixture(scope="module")
def net():
    return small_net(n_eval=3)


@pytest.fixture(scope="module")
def varied(net):
    a = arch("trq", **{**SMALL, **VARIED})
    return a, isaacsim.simulate(a, net, samples=3)


def test_profile_round_trip(varied, tmp_path):
    a, res = varied
    p = tmp_path / "profile.json"
    save_profile(p, res)
    doc = load_profile(p)
    assert doc == json.loads(json.dumps(profile_of(res)))
    assert doc["format_version"] == 1 and doc["arch"] == a.name
    assert set(doc["layers"]) == set(res.layers)
    for name, e in doc["layers"].items():
        s = res.layers[name]
        assert e["ops_hist"] == s.ops_hist.tolist() and len(e["ops_hist"]) == a.adc.resolution + 3
        assert (e["conversions"], e["ad_ops"]) == (s.conversions, s.ad_ops)
    assert len({Fraction(e["ad_ops"], e["conversions"]) for e in doc["layers"].values()}) > 1


@pytest.mark.parametrize("text, what", [
    ("{", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deep"),
    ("[]", "not a JSON object"),
    ('{"format_version": 2, "layers": {}}', "format_version"),
    ('{"format_version": 1}', "'layers'"),
    ('{"format_version": 1, "layers": {}, "x": 1}', "unknown key"),
    ('{"format_version": 1, "layers": {"c1": {"ops_hist": [0, 2], "conversions": 2}}}', "layer 'c1': missing ad_ops"),
    ('{"format_version": 1, "layers": {"c1": {"ops_hist": [0, 2], "conversions": 2, "ad_ops": 3}}}',
     "layer 'c1': ops_hist does not add up"),
    ('{"format_version": 1, "layers": {"c1": {"ops_hist": [0, -1], "conversions": 2, "ad_ops": 3}}}',
     "layer 'c1': ops_hist must be"),
    ('{"format_version": 1, "layers": {"c1": {"ops_hist": [], "conversions": 0, "ad_ops": 0}}}',
     "layer 'c1': conversions"),
])
def test_bad_profile_names_the_file(tmp_path, text, what):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_profile(p)
    msg = str(e.value)
    assert str(p) in msg and what in msg and "\n" not in msg
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile(tmp_path / "missing.json")


def test_synthetic_totals(varied):
    a, res = varied
    doc = profile_of(res)
    traces = synthetic_traces(res.mapping, a, doc)
    for lp in res.mapping.layers:
        tr = traces[lp.name]
        g = lp.geometry
        assert tr.shape == (lp.layer.groups, lp.layer.n_vectors, g.input_cycles, g.crossbars, g.lanes(a.pe.adcs))
        e = doc["layers"][lp.name]
        mu = Fraction(e["ad_ops"], e["conversions"])
        conv = lp.layer.groups * g.conversions(lp.layer.n_vectors)
        assert abs(int(tr.sum()) - conv * mu) <= Fraction(1, 2)
        # every cell within 1 of its columns x mu
        per = np.bincount(g.column_lanes(a.pe.adcs).ravel(), minlength=g.crossbars * g.lanes(a.pe.adcs))
        want = per.reshape(g.crossbars, -1) * float(mu)
        assert np.abs(tr - want).max() < 1
    # the worst case: max_ops per conversion, exactly
    worst = synthetic_traces(res.mapping, a)
    for lp in res.mapping.layers:
        assert int(worst[lp.name].sum()) == lp.layer.groups * lp.geometry.conversions(lp.layer.n_vectors) * 7


def test_non_integer_mean_spreads_exactly():
    a = arch("trq", **SMALL)
    m, arrays, ev = net_parts(n_eval=1)
    wl = build(m, arrays, eval=ev)
    lp = place_network(layers_of(wl), a).layers[0]
    for mu in (Fraction(10, 3), Fraction(9, 2), Fraction(1, 7)):
        tr = synthetic_trace(lp, a, mu)
        conv = lp.layer.groups * lp.geometry.conversions(lp.layer.n_vectors)
        assert abs(int(tr.sum()) - conv * mu) <= Fraction(1, 2)


@pytest.mark.parametrize("name, over", [
    ("trq_baseline", {}),  # uniform ADC: every conversion costs `bits`
    ("trq_baseline", {"adc.mode": "ideal"}),
    ("trq", {"adc.early_termination": False}),
])
def test_constant_ops_timing_only_equals_functional(net, name, over):
    a = arch(name, **{**SMALL, **over})
    res = isaacsim.simulate(a, net, samples=2)
    doc = profile_of(res)
    assert all(sum(1 for v in e["ops_hist"] if v) == 1 for e in doc["layers"].values()) or \
        not a.adc.early_termination
    t = isaacsim.simulate(a, net, timing_only=True, profile=doc)
    assert t.timing_only.approximate is True and t.timing_only.ops_source == "profile"
    assert t.timing.latency_cycles == res.timing.latency_cycles
    assert [ly["cycles"] for ly in t.timing.layers] == [ly["cycles"] for ly in res.timing.layers]
    assert t.samples == 0 and t.agreement is None and t.accuracy is None
    for name_, s in t.layers.items():
        assert s.conversions * 2 == res.layers[name_].conversions
        if a.adc.early_termination:
            assert s.ad_ops * 2 == res.layers[name_].ad_ops


def test_worst_case_is_never_faster(net, varied):
    a, res = varied
    prof = isaacsim.simulate(a, net, timing_only=True, profile=profile_of(res))
    worst = isaacsim.simulate(a, net, timing_only=True)
    assert worst.timing_only.ops_source == "worst_case" and prof.timing_only.ops_source == "profile"
    assert worst.timing.latency_cycles >= prof.timing.latency_cycles
    for w, p in zip(worst.timing.layers, prof.timing.layers, strict=True):
        assert w["cycles"] >= p["cycles"] and w["ad_ops"] > p["ad_ops"]
    doc = profile_of(res)
    first = next(iter(doc["layers"]))
    doc["layers"].pop(first)
    mixed = isaacsim.simulate(a, net, timing_only=True, profile=doc).timing_only
    assert mixed.ops_source == "mixed" and mixed.worst_case_layers == (first,)
    with pytest.raises(ConfigError, match="timing_only"):
        isaacsim.simulate(a, net, samples=1, profile=doc)


@pytest.fixture(scope="module")
def wl_dir(tmp_path_factory):
    manifest, arrays, ev = net_parts(n_eval=2)
    path = tmp_path_factory.mktemp("net") / "net"
    save_workload(manifest, path, arrays=arrays, eval=ev)
    return str(path)


def test_cli_timing_only(wl_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "trq", wl_dir, "--json", "--out", str(out)]) == 0
    func = json.loads(capsys.readouterr().out)
    assert (out / "profile.json").exists()
    assert main(["run", "trq", wl_dir, "--timing-only", "--profile", str(out / "profile.json"), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    t = s["timing"]
    assert t["approximate"] is True and t["ops_source"] == "profile"
    assert s["samples"] == 0 and s["accuracy"] is None and s["agreement"] is None
    assert s["latency_cycles"] == t["latency_cycles"] > 0 and t["clock_hz"] == 100e6
    for ly in t["layers"]:
        assert {"name", "cycles", "bound_cycles"} <= set(ly) and ly["cycles"] >= ly["bound_cycles"]
    assert s["adc"]["conversions"] * 2 == func["adc"]["conversions"]
    assert main(["run", "trq", wl_dir, "--timing-only"]) == 0
    text = capsys.readouterr().out
    assert "timing only (approximate)" in text and "worst case" in text and "latency" in text


@pytest.mark.parametrize("argv, what", [
    (["--timing-only", "--profile", "MISSING"], "MISSING"),
    (["--timing-only", "--profile", "BAD"], "BAD"),
    (["--profile", "BAD"], "--profile applies to --timing-only"),
    (["--timing-only", "--no-timing"], "--no-timing"),
    (["--timing-only", "--samples", "2"], "--samples"),
])
def test_cli_bad_profile(wl_dir, tmp_path, capsys, argv, what):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format_version": 1, "layers": {"c1": 3}}')
    argv = [str(tmp_path / "missing.json") if v == "MISSING" else str(bad) if v == "BAD" else v for v in argv]
    what = {"MISSING": "missing.json", "BAD": "bad.json"}.get(what, what)
    assert main(["run", "trq", wl_dir, *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("isaacsim: error:") and what in err
