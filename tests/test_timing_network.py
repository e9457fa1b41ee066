"""The inter-layer pipeline (`isaacsim.timing.network`, docs/timing.md "Between layers"): default
== fine on small networks, never below the per-layer bound, the single-layer ADC-bound case,
back-pressure from a small buffer, a residual join waiting for both inputs, and the wiring into
`simulate` and `isaacsim run` (--json, --timing-report, --trace)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import isaacsim
from isaacsim.cli import main
from isaacsim.mapping.layers import layers_of
from isaacsim.mapping.placement import place_network
from isaacsim.timing import build_stages
from isaacsim.timing.edges import buffer_gate
from isaacsim.timing.events import Timeline
from isaacsim.timing.network import simulate_network
from isaacsim.workload import build, save_workload
from tests.support.timing import SMALL, quiet_arch, small_net, synthetic_trace
from tests.support.workloads import net_parts

arch = quiet_arch


@pytest.fixture(scope="module")
def net():
    return small_net(n_eval=2)


def synthetic(wl, a, kind="trq", seed=0, scale=None):
    mapping = place_network(layers_of(wl), a)
    rng = np.random.default_rng(seed)
    traces = {lp.name: synthetic_trace(lp, a.pe.adcs, kind, rng, a.adc.resolution) for lp in mapping.layers}
    for name, k in (scale or {}).items():
        traces[name] = traces[name] * k
    return mapping, traces


def timed(wl, a, traces=None, mapping=None, **kw):
    if traces is None:
        mapping, traces = synthetic(wl, a)
    return simulate_network(wl, mapping, traces, build_stages(a), arch=a, **kw)


@pytest.mark.parametrize("early_termination", [True, False])
@pytest.mark.parametrize("name", ["trq", "trq_baseline"])
def test_default_equals_fine_on_a_network(net, name, early_termination):
    """net_parts: strided conv, grouped conv, residual add, max-pool, 1x1 conv, concat, avg-pool,
    flatten, linear; real traces (TRQ, uniform), with and without early termination."""
    a = arch(name, **{**SMALL, "adc.early_termination": early_termination})
    res = isaacsim.simulate(a, net, samples=1, timing=False, traces=1)
    d = timed(net, a, res.traces(), res.mapping).as_dict()
    f = timed(net, a, res.traces(), res.mapping, granularity="fine").as_dict()
    for k in ("latency_cycles", "occupancy_cycles", "stalls", "bottleneck"):
        assert d[k] == f[k], k
    strip = ("events",)
    assert [{k: v for k, v in ly.items() if k not in strip} for ly in d["layers"]] == \
           [{k: v for k, v in ly.items() if k not in strip} for ly in f["layers"]]
    assert f["events"] > 10 * d["events"]


@pytest.mark.parametrize("name", ["trq", "trq_baseline"])
def test_never_below_the_bound(net, name):
    a = arch(name)
    nt = timed(net, a, *reversed(synthetic(net, a)))
    for ly in nt.layers:
        assert ly["cycles"] >= ly["bound_cycles"] > 0, ly["name"]
    assert nt.latency_cycles >= max(ly["end"] for ly in nt.layers)
    assert nt.throughput_ips == pytest.approx(100e6 / nt.occupancy_cycles)


def test_lenet5_never_below_the_bound():
    res = isaacsim.simulate("trq", "workloads/lenet5_mnist5k", samples=1)
    t = res.timing
    assert t.latency_cycles == res.summary()["latency_cycles"] > 0
    for ly in t.layers:
        assert ly["cycles"] >= ly["bound_cycles"], ly["name"]
    assert res.layers["conv1"].ad_ops_trace is None  # kept only for the timing model


def one_conv(cin=3, cout=2, k=3, hw=5, padding=1):
    rng = np.random.default_rng(0)
    fmt = {"bits": 8, "signed": False, "scale": 0.05, "zero_point": 0}
    m = {"format_version": 1, "name": "one", "input": {"shape": [cin, hw, hw], **fmt},
         "graph": [{"name": "c", "op": "conv2d", "inputs": ["input"], "weight": "c.w", "out_channels": cout,
                    "kernel": k, "padding": padding, "requant": {**fmt, "multiplier": 1, "shift": 8}}]}
    return build(m, {"c.w": rng.integers(-127, 128, (cout, cin, k, k)).astype(np.int8)})


def test_single_layer_adc_bound_meets_the_bound():
    """The balanced ADC-bound layer of test_timing_layer (14 columns on 2 ADCs, uniform ops) as a
    one-layer network: its cycles equal the bound plus the exposed first window's input fetch
    (its 27 one-byte rows from eDRAM over the bus, then into the input register) and first read."""
    a = arch("trq_baseline", **{**SMALL, "pe.adcs": 2, "adc.ops_per_cycle": 4})
    wl = one_conv()
    mapping, traces = synthetic(wl, a, "uniform")
    ly = timed(wl, a, traces, mapping).layers[0]
    assert ly["bound_resource"] == "adc"
    window = ly["cycles"] // ly["windows"] + 1
    assert ly["bound_cycles"] <= ly["cycles"] <= ly["bound_cycles"] + window
    st = build_stages(a)
    rows = 3 * 3 * 3
    # the input register's port serves the DACs (1 bit a row a read) and the writes (8 bits a row per
    # 8 reads) alike: the writes get half of it
    fetch = max(math.ceil(rows / st["edram"].rate), math.ceil(rows / st["tile_bus"].rate)) \
        + math.ceil(rows / (st["input_register"].rate / 2))
    assert ly["cycles"] == ly["bound_cycles"] + fetch + 3  # only the first fetch and 3-cycle read are exposed


def chain():
    rng = np.random.default_rng(1)
    fmt = {"bits": 8, "signed": False, "scale": 0.05, "zero_point": 0}
    rq = {**fmt, "multiplier": 1, "shift": 8}
    m = {"format_version": 1, "name": "chain", "input": {"shape": [4, 8, 8], **fmt},
         "graph": [{"name": "a", "op": "conv2d", "inputs": ["input"], "weight": "a.w", "out_channels": 8,
                    "kernel": 1, "requant": rq},
                   {"name": "b", "op": "conv2d", "inputs": ["a"], "weight": "b.w", "out_channels": 4,
                    "kernel": 3, "padding": 1, "requant": rq}]}
    return build(m, {"a.w": rng.integers(-127, 128, (8, 4, 1, 1)).astype(np.int8),
                     "b.w": rng.integers(-127, 128, (4, 8, 3, 3)).astype(np.int8)})


def test_back_pressure_from_a_small_buffer():
    """A fast 1x1 conv feeds a slow 3x3 conv (its ops x 8): with a buffer of a few rows the
    producer stalls on it (buffer-full stalls) and finishes later; the consumer's window needs
    2 rows + 3 pixels = 19 pixels of 8 bytes, so 0.2 KiB (25 pixels) is just above that."""
    wl = chain()
    big = arch("trq", **SMALL)
    small = arch("trq", **{**SMALL, "tile.edram_kb": 0.2})
    mapping, traces = synthetic(wl, big, scale={"b": 8})
    free = timed(wl, big, traces, mapping)
    tight = timed(wl, small, traces, mapping)
    assert free.stalls["buffer_full"] == 0 and tight.stalls["buffer_full"] > 0
    assert tight.layer("a")["stall_buffer_full"] > 0
    assert tight.layer("a")["released"] > free.layer("a")["released"]
    assert tight.latency_cycles >= free.latency_cycles
    assert not tight.notes
    tiny = timed(wl, arch("trq", **{**SMALL, "tile.edram_kb": 0.01}), traces, mapping)
    assert tiny.notes and "buffer is taken as 19 pixels" in tiny.notes[0]


def test_buffer_gate_by_hand():
    """Producer output p is input pixel p (one to one); consumer window n needs pixels up to 2n+1,
    so pixel q is last needed by window q // 2. A 2-pixel ring: output p >= 2 waits for pixel
    p - 2 to be freed, at the end of window (p - 2) // 2; a ring as large as the input never waits."""
    need_px, last = np.arange(6), np.arange(6) // 2
    assert buffer_gate(need_px, 6, last, 2, 6).tolist() == [-1, -1, 0, 0, 1, 1]
    assert buffer_gate(need_px, 6, last, 6, 6).tolist() == [-1] * 6
    # a pooled producer: input pixels 2k and 2k+1 need output k, so output k first appears at pixel 2k
    assert buffer_gate(np.arange(6) // 2, 3, last, 2, 6).tolist() == [-1, 0, 1]


def test_residual_join_waits_for_both_inputs(net):
    """c3 reads pool(add(c1, c2)): slowing c2 alone (its ops x 16) delays c3's first window."""
    a = arch("trq", **SMALL)
    mapping, traces = synthetic(net, a)
    base = timed(net, a, traces, mapping)
    slow = timed(net, a, {**traces, "c2": traces["c2"] * 16}, mapping)
    assert slow.layer("c1")["end"] == base.layer("c1")["end"]
    assert slow.layer("c2")["end"] > base.layer("c2")["end"]
    assert slow.layer("c3")["start"] > base.layer("c3")["start"]
    assert slow.layer("c3")["start"] >= slow.layer("c2")["start"]


def test_timeline_events(net):
    a = arch("trq", **SMALL)
    tl = Timeline()
    nt = timed(net, a, granularity="default", timeline=tl)
    tracks = {e.track for e in tl.events}
    assert {f"layer {ly['name']}" for ly in nt.layers} <= tracks
    assert any(t.endswith("/ adc") for t in tracks) and any(t.startswith("tile ") for t in tracks)


@pytest.fixture(scope="module")
def wl_dir(tmp_path_factory):
    manifest, arrays, ev = net_parts(n_eval=2)
    path = tmp_path_factory.mktemp("net") / "net"
    save_workload(manifest, path, arrays=arrays, eval=ev)
    return str(path)


def test_run_json_timing(wl_dir, capsys):
    assert main(["run", "trq", wl_dir, "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    t = s["timing"]
    assert t["clock_hz"] == 100e6 and s["latency_cycles"] == t["latency_cycles"] > 0
    for ly in t["layers"]:
        assert {"name", "cycles", "bound_cycles"} <= set(ly) and ly["cycles"] >= ly["bound_cycles"]
    assert main(["run", "trq", wl_dir, "--json", "--timing", "fine"]) == 0
    f = json.loads(capsys.readouterr().out)["timing"]
    assert [ly["cycles"] for ly in f["layers"]] == [ly["cycles"] for ly in t["layers"]]
    assert main(["run", "trq", wl_dir, "--json", "--no-timing"]) == 0
    assert json.loads(capsys.readouterr().out)["timing"] is None


def test_run_timing_report_and_trace(wl_dir, tmp_path, capsys):
    path = tmp_path / "t.json"
    assert main(["run", "trq", wl_dir, "--timing-report", "--trace", str(path)]) == 0
    out = capsys.readouterr().out
    for s in ("stages", "multi-cycle", "crossbar_read", "bound", "ratio", "utilisation", "stalls",
              "bottleneck", "latency", "inferences/s"):
        assert s in out, s
    doc = json.loads(path.read_text())
    assert doc["traceEvents"]


def test_utilisation_covers_every_resource_kind():
    """Every resource the report names has a utilisation in [0, 1]; the NFU activation figure is
    checked by hand for LeNet-5: ReLU on conv1 (6x28x28 = 4704), conv2 (16x10x10 = 1600), fc1 (120)
    and fc2 (84) outputs = 6508 ops on one tile's 2 sigmoid units, each one op per cycle of the tile
    clock (1.2 GHz in ISAAC's organisation: 12 ops per 100 MHz cycle)."""
    res = isaacsim.simulate("trq", "workloads/lenet5_mnist5k", samples=1)
    u = res.timing.utilisation
    kinds = {"adc", "crossbar", "shift_add", "tile_bus", "edram", "noc", "nfu_activation", "nfu_pool",
             "tile_shift_add", "input_register"}
    assert kinds <= set(u)
    # trq (like trq_baseline) has no off-chip links, so no HyperTransport utilisation; ISAAC's has one
    assert u.get("hypertransport", 0.0) == 0.0
    isaac = isaacsim.simulate("isaac", "workloads/lenet5_mnist5k", samples=1).timing.utilisation
    assert 0.0 < isaac["hypertransport"] <= 1.0
    assert all(0.0 <= v <= 1.0 for v in u.values()), u
    assert u["nfu_activation"] == pytest.approx(6508 / (2 * 12 * res.timing.latency_cycles))
    # pooling: conv1 and conv2 outputs pass a 2x2 maxpool on the tile's single max-pool unit
    assert u["nfu_pool"] == pytest.approx((4704 + 1600) / (12 * res.timing.latency_cycles))
