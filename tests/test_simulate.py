"""isaacsim.simulate: bit-exact against the reference executor with a lossless ADC, exact
statistics (the TRQ paper's Eq. 3, independently computed), per-layer registers, input-format checks,
sample selection, batching, and results that survive a failure part-way."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import isaacsim
from isaacsim.errors import ConfigError, ConfigWarning, MappingError, WorkloadError
from isaacsim.functional import batches as sim_mod
from isaacsim.functional import inputs
from isaacsim.mapping.layers import layers_of
from isaacsim.workload import build, execute, save_workload
from isaacsim.workload.io import pair
from tests.support.runs import BASE, CONTRACT, LOSSLESS_TRQ
from tests.support.workloads import fmt as _fmt
from tests.support.workloads import overflow_workload, tiny_parts


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    manifest, arrays, ev = tiny_parts(seed=1, n_eval=6)
    return save_workload(manifest, tmp_path_factory.mktemp("tiny") / "w", arrays=arrays, eval=ev)


def ideal_arch():
    return isaacsim.load_arch(BASE, overrides={"adc.mode": "ideal"})


def plain(v):
    """True when v holds only JSON-native Python types (no numpy scalars)."""
    if isinstance(v, dict):
        return all(isinstance(k, str) and plain(x) for k, x in v.items())
    if isinstance(v, list):
        return all(plain(x) for x in v)
    return v is None or type(v) in (bool, int, float, str)


# ---------------------------------------------------------------- bit-exactness


def test_fixture_is_not_degenerate(net):
    _, nodes = execute(net, net.eval.x, return_nodes=True)
    for name in ("c1", "c2", "res", "c3", "cat", "fc"):
        assert len(np.unique(nodes[name])) > 5, name
        assert (nodes[name] < 255).mean() > 0.9, name  # not saturated
    layers = {ly.name: ly.geometry(ideal_arch()) for ly in layers_of(net)}
    assert layers["c1"].row_parts == 2 and layers["c1"].col_parts == 2


@pytest.mark.parametrize("fixture", ["net", "tiny"])
def test_ideal_adc_equals_reference_bit_for_bit(fixture, request):
    wl = request.getfixturevalue(fixture)
    res = isaacsim.simulate(ideal_arch(), wl)
    ref = execute(wl, wl.eval.x)
    assert res.status == "ok" and res.error is None
    assert res.outputs.dtype == np.int64 and np.array_equal(res.outputs, ref)
    assert np.array_equal(res.reference_outputs, ref)
    assert res.agreement == 1.0
    assert res.accuracy == res.reference_accuracy
    assert res.samples == wl.eval.x.shape[0] and res.sample_source == "eval"
    assert res.wall_s > 0 and res.reference_wall_s > 0


def test_accuracy_against_labels(net):
    res = isaacsim.simulate(ideal_arch(), net)
    want = float(np.mean(execute(net, net.eval.x).argmax(axis=1) == net.eval.y))
    assert res.accuracy == pytest.approx(want) and 0.5 < want < 0.8


def test_lossy_adc_differs_but_is_counted(net):
    with pytest.warns(ConfigWarning):
        arch = isaacsim.load_arch(BASE, overrides={"adc.bits": 3})
    res = isaacsim.simulate(arch, net)
    assert not np.array_equal(res.outputs, res.reference_outputs)
    assert res.summary()["adc"]["ops_per_conversion"] == 3.0
    assert 0.0 <= res.agreement <= 1.0


# ---------------------------------------------------------------- statistics


def eq3(wl, arch, n_samples: int) -> dict[str, int]:
    """The TRQ paper's Eq. 3 per layer from first principles: groups x vectors x row partitions x
    mapped columns x input cycles, with 1-bit cells/DACs and differential 8-bit weights."""
    rows, cols = arch.crossbar.rows, arch.crossbar.cols
    assert arch.crossbar.cell_bits == 1 and arch.crossbar.dac_bits == 1
    slices = arch.datapath.weight_bits - 1
    cycles = arch.datapath.input_bits
    out = {}
    for n in wl.nodes:
        if n.op == "conv2d":
            cin = wl.shapes[n.inputs[0]][0]
            _, ho, wo = wl.shapes[n.name]
            kh, kw = pair(n.kernel)
            kk = kh * kw * cin // n.groups
            vectors, m, g = n_samples * ho * wo, n.out_channels // n.groups, n.groups
        elif n.op == "linear":
            kk, m, g, vectors = wl.shapes[n.inputs[0]][0], n.out_features, 1, n_samples
        else:
            continue
        assert math.ceil(m * slices / cols) >= 1
        out[n.name] = g * vectors * math.ceil(kk / rows) * (2 * m * slices) * cycles
    return out


@pytest.mark.parametrize("preset", ["trq_baseline", "trq"])
def test_stats_are_exact(net, preset):
    arch = isaacsim.load_arch(BASE, overrides={"adc.mode": "trq"} if preset == "trq" else None)
    res = isaacsim.simulate(arch, net, batch_size=5)
    s = res.summary()
    assert res.batches == 3
    want = eq3(net, arch, net.eval.x.shape[0])
    got = {ly["name"]: ly["conversions"] for ly in s["layers"]}
    assert got == want
    assert s["adc"]["conversions"] == sum(want.values())
    for key in ("conversions", "ad_ops", "r1_conversions", "r2_conversions", "overflows"):
        assert s["adc"][key] == sum(ly[key] for ly in s["layers"]), key
    assert s["adc"]["ops_per_conversion"] == s["adc"]["ad_ops"] / s["adc"]["conversions"]
    for ly in s["layers"]:
        st = res.layers[ly["name"]]
        assert ly["ops_per_conversion"] == ly["ad_ops"] / ly["conversions"]
        assert int(st.sample_hist.sum()) == ly["conversions"]
        assert int(st.ops_hist.sum()) == ly["conversions"]
        assert int(st.ops_hist @ np.arange(st.ops_hist.size)) == ly["ad_ops"]
        groups = next(n for n in net.nodes if n.name == ly["name"]).groups if ly["op"] == "conv2d" else 1
        assert ly["mvm_calls"] == 3 * groups
        if preset == "trq":
            assert ly["r1_conversions"] + ly["r2_conversions"] == ly["conversions"]
            assert ly["r1_conversions"] > 0 and (ly["r2_conversions"] > 0 or ly["k"] < 128)
            assert ly["r1_share"] == ly["r1_conversions"] / ly["conversions"]
        else:
            assert ly["r1_conversions"] == ly["r2_conversions"] == 0 and ly["r1_share"] is None
            assert ly["ad_ops"] == 8 * ly["conversions"]


def test_batching_does_not_change_anything(net):
    arch = isaacsim.load_arch("trq")
    a = isaacsim.simulate(arch, net, samples=5)
    b = isaacsim.simulate(arch, net, samples=5, batch_size=1)
    assert a.batches == 1 and b.batches == 5
    assert np.array_equal(a.outputs, b.outputs)
    sa, sb = a.summary(), b.summary()
    for la, lb in zip(sa["layers"], sb["layers"], strict=True):
        assert {k: v for k, v in la.items() if k != "mvm_calls"} == {k: v for k, v in lb.items() if k != "mvm_calls"}
        assert np.array_equal(a.layers[la["name"]].sample_hist, b.layers[lb["name"]].sample_hist)


def test_reference_matmul_is_exact():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (50, 300))
    w = rng.integers(-127, 128, (300, 7))
    y = sim_mod.reference_matmul("l", x, w)
    assert y.dtype == np.int64 and np.array_equal(y, x @ w)
    big = np.full((2, 3), 2**40, np.int64)  # K * max|x| * max|w| >= 2^53: the int64 path
    wb = np.full((3, 2), 2**12, np.int64)
    assert np.array_equal(sim_mod.reference_matmul("l", big, wb), np.full((2, 2), 3 * 2**52, np.int64))
    assert np.array_equal(sim_mod.reference_matmul("l", big + 1, wb), (big + 1) @ wb)


def test_packed_weights_are_reused_and_exact(net, monkeypatch):
    from isaacsim.functional.mvm import PackedWeights

    arch = isaacsim.load_arch("trq")
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (9, 300))
    w = rng.integers(-127, 128, (300, 40))
    y0, s0 = isaacsim.mvm(x, w, arch)
    y1, s1 = isaacsim.mvm(x, PackedWeights.of(w, arch), arch)
    assert np.array_equal(y0, y1) and s0["conversions"] == s1["conversions"] and s0["ad_ops"] == s1["ad_ops"]
    assert np.array_equal(s0["sample_hist"], s1["sample_hist"])
    with pytest.raises(ValueError, match="different crossbar"):
        isaacsim.mvm(x, PackedWeights.of(w, arch), isaacsim.load_arch("trq", overrides={"crossbar.rows": 64}))
    with pytest.raises(ValueError, match="inner sizes"):
        isaacsim.mvm(x[:, :10], PackedWeights.of(w, arch), arch)
    built = []
    real = PackedWeights.of
    monkeypatch.setattr(PackedWeights, "of",
                        classmethod(lambda cls, w, a, **kw: built.append(w.shape) or real(w, a, **kw)))
    res = isaacsim.simulate(arch, net, batch_size=4, timing=False)
    assert res.batches == 3 and len(built) == 7  # c1, 4 groups of c2, c3, fc: packed once per run


def test_auto_batch_size_respects_budget(net):
    arch = ideal_arch()
    assert inputs.auto_batch_size(net, arch, 12) == 12
    assert inputs.auto_batch_size(net, arch, 12, budget=1) == 1
    per = inputs.auto_batch_size(net, arch, 10**9, budget=10**9)
    assert 1 < per < 10**9
    assert inputs.auto_batch_size(net, arch, 10**9, budget=2 * 10**9) in (2 * per, 2 * per + 1)


# ---------------------------------------------------------------- summary and frame


ADC_KEYS = ("conversions", "ad_ops", "ops_per_conversion", "energy_j", "energy_share",
            "r1_conversions", "r2_conversions", "overflows")


def test_summary_keys_and_json(net):
    res = isaacsim.simulate("trq", net, samples=4)
    s = res.summary()
    for k in (*CONTRACT, "timing", "agreement", "samples", "status", "error", "arch", "workload",
              "mapping", "layers", "wall_s", "reference_wall_s"):
        assert k in s, k
    for k in ADC_KEYS:
        assert k in s["adc"], k
    assert s["energy_j"] > 0 and s["power_w"] == pytest.approx(s["energy_j"] / s["latency_s"])
    t = s["timing"]
    assert s["latency_cycles"] == t["latency_cycles"] > 0 and s["latency_s"] == t["latency_s"] > 0
    assert t["clock_hz"] == 100e6 and [ly["name"] for ly in t["layers"]] == ["c1", "c2", "c3", "fc"]
    off = isaacsim.simulate("trq", net, samples=1, timing=False).summary()
    assert off["timing"] is None and off["latency_cycles"] is None and off["latency_s"] is None
    assert off["power_w"] is None and off["energy_j"] > 0  # dynamic energy needs no timing
    assert 0 < s["adc"]["energy_j"] < s["energy_j"] and s["adc"]["energy_share"] == pytest.approx(
        s["adc"]["energy_j"] / s["energy_j"])
    assert s["breakdown"] and s["energy"]["table"] == "trq_45nm"  # tests/test_energy.py checks the sums
    assert plain(s)
    assert json.loads(json.dumps(s)) == s
    assert (s["arch"], s["workload"], s["samples"], s["status"]) == ("trq", "net", 4, "ok")
    m = s["mapping"]
    assert m["crossbars_used"] == sum(ly["crossbars"] for ly in s["layers"])
    assert m["pes_used"] == sum(ly["pes"] for ly in s["layers"])
    layer_keys = {"name", "op", "k", "m", "crossbars", "copies", "tiles", "adc", "conversions", "ad_ops",
                  "ops_per_conversion", "r1_conversions", "r2_conversions", "overflows", "mvm_calls", "n_vectors"}
    assert all(layer_keys <= set(ly) for ly in s["layers"])
    assert [ly["name"] for ly in s["layers"]] == ["c1", "c2", "c3", "fc"]
    c1 = s["layers"][0]
    assert (c1["k"], c1["m"], c1["n_vectors"]) == (144, 20, 4 * 16)


def test_to_frame(net):
    res = isaacsim.simulate("trq", net, samples=3)
    df = res.to_frame()
    assert list(df["name"]) == ["c1", "c2", "c3", "fc"]
    t = res.summary()["adc"]
    assert int(df["conversions"].sum()) == t["conversions"] and int(df["ad_ops"].sum()) == t["ad_ops"]
    for col in ("op", "k", "m", "crossbars", "copies", "tiles", "ops_per_conversion", "r1_conversions",
                "r2_conversions", "overflows", "mvm_calls", "n_vectors", "adc_mode", "adc_n_r1"):
        assert col in df.columns, col
    assert (df["adc_mode"] == "trq").all()


# ---------------------------------------------------------------- registers


def test_per_layer_registers_change_only_that_layer(net, tmp_path):
    arch = ideal_arch()
    base = isaacsim.simulate(arch, net)
    path = tmp_path / "regs.yaml"
    path.write_text("format_version: 1\nlayers:\n  c2: {mode: trq, resolution: 8, n_r1: 8, n_r2: 1, m: 7}\n")
    for regs in ({"c2": LOSSLESS_TRQ}, path, str(path)):
        res = isaacsim.simulate(arch, net, registers=regs)
        assert np.array_equal(res.outputs, base.outputs)
        for a, b in zip(base.summary()["layers"], res.summary()["layers"], strict=True):
            if a["name"] == "c2":
                assert b["adc"]["mode"] == "trq" and b["ad_ops"] == 9 * b["conversions"] != a["ad_ops"]
                assert b["r1_conversions"] == b["conversions"]
            else:
                assert a == b


def test_unknown_register_layer(net):
    with pytest.raises(ConfigError, match="unknown layer.*nope"):
        isaacsim.simulate(ideal_arch(), net, registers={"nope": LOSSLESS_TRQ})


def test_non_integral_step_rounds(net):
    """A calibrated D1 = 0.5 gives float datapath outputs; they are rounded into the accumulator."""
    regs = {name: {"mode": "trq", "resolution": 8, "n_r1": 8, "n_r2": 1, "m": 7, "delta_r1": 0.5}
            for name in ("c1", "c2", "c3", "fc")}
    res = isaacsim.simulate(ideal_arch(), net, registers=regs, samples=4)
    assert res.outputs.dtype == np.int64 and res.status == "ok"


# ---------------------------------------------------------------- checks before running


def test_input_format_mismatch_names_layer(net):
    with pytest.raises(MappingError, match="layer 'c1'.*unsigned 8-bit.*unsigned 7-bit"):
        isaacsim.simulate(isaacsim.load_arch(BASE, overrides={"datapath.input_bits": 7}), net)
    with pytest.raises(MappingError, match="layer 'c1'.*signed 8-bit"):
        isaacsim.simulate(isaacsim.load_arch(BASE, overrides={"datapath.input_signed": True}), net)
    with pytest.raises(MappingError, match="layer 'c1'.*8-bit weights.*weight_bits=6"):
        isaacsim.simulate(isaacsim.load_arch(BASE, overrides={"datapath.weight_bits": 6}), net)
    # unsigned 8-bit fits signed 9-bit inputs, and the result is still exact
    arch = isaacsim.load_arch(BASE, overrides={"datapath.input_signed": True, "datapath.input_bits": 9,
                                               "adc.mode": "ideal"})
    res = isaacsim.simulate(arch, net, samples=2)
    assert np.array_equal(res.outputs, res.reference_outputs)


def test_signed_input_needs_signed_arch(tmp_path):
    manifest = {"format_version": 1, "name": "s", "input": {"shape": [4], **_fmt(signed=True)},
                "graph": [{"name": "fc", "op": "linear", "inputs": ["input"], "weight": "fc.w", "out_features": 3,
                           "requant": {**_fmt(signed=True), "multiplier": 1, "shift": 8}}]}
    arrays = {"fc.w": np.arange(12, dtype=np.int8).reshape(3, 4)}
    x = np.array([[-128, 127, -1, 5], [0, 1, 2, 3]], np.int8)
    wl = build(manifest, arrays, eval=x)
    with pytest.raises(MappingError, match="layer 'fc'.*signed 8-bit.*unsigned 8-bit"):
        isaacsim.simulate(ideal_arch(), wl)
    arch = isaacsim.load_arch(BASE, overrides={"adc.mode": "ideal", "datapath.input_signed": True})
    res = isaacsim.simulate(arch, wl)
    assert np.array_equal(res.outputs, execute(wl, x)) and res.labels is None and res.accuracy is None


def test_network_too_big_is_mapping_error(net):
    arch = isaacsim.load_arch(BASE, overrides={"chip.tiles": 1, "tile.pes": 1, "pe.crossbars": 2})
    with pytest.raises(MappingError, match="tiles"):
        isaacsim.simulate(arch, net)


def test_arch_and_workload_by_path(net):
    res = isaacsim.simulate(BASE, str(net.path), samples=1)
    assert res.arch.name == "trq_baseline" and res.workload == "net" and res.samples == 1
    res = isaacsim.simulate({"extends": "trq_baseline", "adc.mode": "ideal"}, net.path, samples=1)
    assert res.arch.adc.mode == "ideal"


# ---------------------------------------------------------------- samples


def test_samples_selection(net, tiny):
    arch = ideal_arch()
    assert isaacsim.simulate(arch, net, samples=5).samples == 5
    with pytest.warns(ConfigWarning, match="has 12 eval samples; running all 12"):
        res = isaacsim.simulate(arch, net, samples=50)
    assert res.samples == 12 and res.samples_requested == 50 and res.samples_available == 12
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ConfigError, match="samples"):
            isaacsim.simulate(arch, net, samples=bad)
    with pytest.raises(ConfigError, match="batch_size"):
        isaacsim.simulate(arch, net, batch_size=0)


def test_calib_then_random(net):
    calib = build(net.manifest, net.arrays, calib=(net.eval.x[:3], None))
    res = isaacsim.simulate(ideal_arch(), calib)
    assert (res.sample_source, res.samples, res.labels, res.accuracy) == ("calib", 3, None, None)
    bare = build(net.manifest, net.arrays)
    res = isaacsim.simulate(ideal_arch(), bare)
    assert (res.sample_source, res.samples, res.samples_available) == ("random", inputs.DEFAULT_RANDOM_SAMPLES, None)
    again = isaacsim.simulate(ideal_arch(), bare, samples=20)
    assert again.samples == 20 and np.array_equal(again.outputs[:16], res.outputs)  # seeded
    assert res.agreement == 1.0


# ---------------------------------------------------------------- failure part-way


def _fail_on_call(monkeypatch, n_fail: int, exc: BaseException):
    calls = {"n": 0}
    real = sim_mod.mvm

    def mvm(*a, **k):
        calls["n"] += 1
        if calls["n"] == n_fail:
            raise exc
        return real(*a, **k)

    monkeypatch.setattr(sim_mod, "mvm", mvm)


def test_failure_keeps_completed_batches(net, monkeypatch):
    arch = ideal_arch()
    # without timing, like the failed run below: trq_45nm's leakage (priced only with timing)
    # would otherwise change the ADC's energy share between the two
    first = isaacsim.simulate(arch, net, samples=4, timing=False)
    # 4 layers, conv c2 has 4 groups: 7 mvm calls per batch (timing off: no traced split); fail
    # inside the second batch
    _fail_on_call(monkeypatch, 9, WorkloadError("layer 'c2': accumulator + bias overflows int32"))
    with pytest.raises(WorkloadError, match="overflows"):
        isaacsim.simulate(arch, net, batch_size=4, timing=False)
    _fail_on_call(monkeypatch, 9, WorkloadError("layer 'c2': accumulator + bias overflows int32"))
    res = isaacsim.simulate(arch, net, batch_size=4, raise_on_error=False, timing=False)
    assert res.status == "failed" and res.batches == 1 and res.samples == 4
    assert res.error == "batch 2 of 3 (samples 4..7): layer 'c2': accumulator + bias overflows int32"
    assert isinstance(res.exception, WorkloadError)
    s = res.summary()
    assert s["status"] == "failed" and s["error"] == res.error and plain(s)
    assert s["adc"] == first.summary()["adc"]
    assert np.array_equal(res.outputs, first.outputs)


def test_interrupt_keeps_completed_batches(net, monkeypatch):
    _fail_on_call(monkeypatch, 15, KeyboardInterrupt())
    res = isaacsim.simulate(ideal_arch(), net, batch_size=4, raise_on_error=False, timing=False)
    assert res.status == "interrupted" and res.samples == 8 and res.batches == 2
    assert res.error == "interrupted in batch 3 of 3 (samples 8..11)"
    _fail_on_call(monkeypatch, 1, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        isaacsim.simulate(ideal_arch(), net, batch_size=4)


def test_failure_in_first_batch(net, monkeypatch):
    _fail_on_call(monkeypatch, 1, WorkloadError("boom"))
    res = isaacsim.simulate(ideal_arch(), net, raise_on_error=False)
    s = res.summary()
    assert res.samples == 0 and res.outputs is None
    assert s["agreement"] is None and s["accuracy"] is None and s["adc"]["conversions"] == 0
    assert s["adc"]["ops_per_conversion"] is None and json.loads(json.dumps(s)) == s


def test_real_int32_overflow_on_some_inputs(tmp_path):
    wl = overflow_workload(tmp_path / "ovf")
    res = isaacsim.simulate(ideal_arch(), wl, batch_size=4, raise_on_error=False)
    assert res.status == "failed" and res.samples == 4
    assert "layer 'fc'" in res.error and "overflows int32" in res.error
