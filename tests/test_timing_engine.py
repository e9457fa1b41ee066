"""The numba event loop of the network pipeline against the simpy model it restates, and the
vectorised per-PE step inputs and per-segment traces it reads, against slow references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import isaacsim
from isaacsim.kernels import pipeline as kernel
from isaacsim.mapping.layers import layers_of
from isaacsim.mapping.placement import place_network
from isaacsim.timing import build_stages
from isaacsim.timing.events import Timeline
from isaacsim.timing.layer import Rates
from isaacsim.timing.network import TimingDeadlock, simulate_network
from isaacsim.timing.pe_work import pe_segments, pe_work, segment_trace
from tests.support.pe_steps_reference import reference_pe_steps
from tests.support.timing import SMALL, quiet_arch, small_net, synthetic_trace

arch = quiet_arch


@pytest.fixture(scope="module")
def net():
    return small_net(n_eval=2)


def synthetic(wl, a, kind, seed):
    mapping = place_network(layers_of(wl), a)
    rng = np.random.default_rng(seed)
    return mapping, {lp.name: synthetic_trace(lp, a.pe.adcs, kind, rng, a.adc.resolution) for lp in mapping.layers}


def both(wl, a, mapping, traces):
    """(numba, simpy) runs' reports, wall time left out."""
    out = []
    for engine in ("numba", "simpy"):
        try:
            d = simulate_network(wl, mapping, traces, build_stages(a), arch=a, engine=engine).as_dict()
        except TimingDeadlock as e:  # a buffer too small for a join: both must see it
            out.append(str(e))
            continue
        d.pop("wall_s")
        out.append(d)
    return out


CASES = st.fixed_dictionaries({
    "name": st.sampled_from(["trq", "trq_baseline", "isaac"]),
    "small": st.booleans(),
    "edram_kb": st.sampled_from([64.0, 0.25, 0.02]),
    "replicate": st.sampled_from([1, 3]),
    "tiles_per_router": st.sampled_from([1, 2, 4]),
    "pes": st.sampled_from([1, 2, 12]),
    "kind": st.sampled_from(["trq", "uniform"]),
    "seed": st.integers(0, 2**16),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=CASES)
def test_numba_loop_equals_simpy(net, case):
    """Every report field, events included, on random archs: small crossbars, buffers that push
    back, replicated layers (copies > 1), routers shared by 1, 2 or 4 tiles, 1 to 12 PEs a tile."""
    over = {**(SMALL if case["small"] else {}), "tile.edram_kb": case["edram_kb"],
            "chip.tiles_per_router": case["tiles_per_router"], "tile.pes": case["pes"], "chip.auto_tiles": True}
    if case["replicate"] > 1:
        over |= {"mapping.replication": "balance", "mapping.max_replication": case["replicate"]}
    a = arch(case["name"], **over)
    mapping, traces = synthetic(net, a, case["kind"], case["seed"])
    d, s = both(net, a, mapping, traces)
    assert d == s


def test_numba_loop_equals_simpy_on_real_traces(net):
    a = arch("trq", **SMALL, **{"mapping.replication": "balance", "mapping.max_replication": 2})
    res = isaacsim.simulate(a, net, samples=1, timing=False, traces=1)
    assert max(lp.copies for lp in res.mapping.layers) > 1
    d, s = both(net, a, res.mapping, res.traces())
    assert d == s


def test_auto_falls_back_to_simpy_on_overflow(net, monkeypatch):
    """A product the loop cannot hold in int64 makes it give up; auto then runs simpy."""
    a = arch("trq", **SMALL)
    mapping, traces = synthetic(net, a, "trq", 1)
    ref = simulate_network(net, mapping, traces, build_stages(a), arch=a, engine="simpy").as_dict()

    def overflowing(*args):
        return 0, 1

    monkeypatch.setattr(kernel, "run_pipeline", overflowing)
    got = simulate_network(net, mapping, traces, build_stages(a), arch=a).as_dict()
    ref.pop("wall_s")
    got.pop("wall_s")
    assert got == ref


def test_engine_argument_checked(net):
    a = arch("trq", **SMALL)
    mapping, traces = synthetic(net, a, "trq", 0)
    with pytest.raises(ValueError, match="engine"):
        simulate_network(net, mapping, traces, build_stages(a), arch=a, engine="fast")
    with pytest.raises(ValueError, match="numba engine"):
        simulate_network(net, mapping, traces, build_stages(a), arch=a, engine="numba", timeline=Timeline())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=CASES)
def test_pe_work_equals_the_reference(net, case):
    """Per PE: rounds' windows, A/D operations per step and ADC, conversions per step; from the
    full trace and from the per-segment trace."""
    over = {**(SMALL if case["small"] else {}), "tile.pes": case["pes"], "chip.auto_tiles": True,
            "adc.early_termination": case["kind"] == "trq"}
    if case["replicate"] > 1:
        over |= {"mapping.replication": "balance", "mapping.max_replication": case["replicate"]}
    a = arch(case["name"], **over)
    mapping, traces = synthetic(net, a, "trq", case["seed"])
    stages = build_stages(a)
    for lp in mapping.layers:
        ref = reference_pe_steps(lp, traces[lp.name], stages)
        for tr in (traces[lp.name], segment_trace(lp, traces[lp.name])):
            pw = pe_work(lp, tr, stages, keep_work=True)
            assert pw.n_pes == len(ref)
            rate, sa_rate = stages["adc"].rate, Rates.of(stages).shift_add_at(lp.geometry.input_cycles)
            for e, (windows, work, conv) in enumerate(ref):
                sl = slice(pw.offsets[e], pw.offsets[e + 1])
                assert pw.windows(e) == windows
                assert np.array_equal(pw.work[sl], work) and np.array_equal(pw.conv[sl], conv)
                assert np.array_equal(pw.ad_ops[e], work.sum(axis=0))
                assert pw.adc[sl].tolist() == [max([math.ceil(v / rate) for v in row], default=0) for row in work]
                assert pw.sa[sl].tolist() == [math.ceil(c / sa_rate) for c in conv]
            ptr, pes, rounds = pw.triggers
            for n in range(pw.n):  # window n completes the rounds whose largest window it is
                want = [(e, r) for e, (ws, _, _) in enumerate(ref) for r, w in enumerate(ws) if max(w) == n]
                got = zip(pes[ptr[n]:ptr[n + 1]].tolist(), rounds[ptr[n]:ptr[n + 1]].tolist(), strict=True)
                assert list(got) == want


def test_segments_split_at_every_pe_boundary(net):
    a = arch("trq", **SMALL, **{"mapping.replication": "balance", "mapping.max_replication": 3})
    for lp in place_network(layers_of(net), a).layers:
        starts = set(pe_segments(lp).tolist())
        for k in range(lp.copies):
            for g in range(lp.layer.groups):
                base = k * lp.crossbars_per_copy + g * lp.geometry.crossbars
                pe = [(base + t) // lp.crossbars_per_pe for t in range(lp.geometry.crossbars)]
                assert {t for t in range(1, len(pe)) if pe[t] != pe[t - 1]} <= starts
        assert 0 in starts


def test_mvm_segment_trace_sums_the_full_one():
    a = arch("trq", **SMALL)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (5, 70))
    w = rng.integers(-127, 128, (70, 40))
    _, full = isaacsim.mvm(x, w, a, trace=True)
    starts = np.array([0, 1, 4])
    _, seg = isaacsim.mvm(x, w, a, trace=True, trace_segments=starts)
    assert np.array_equal(seg["ad_ops_trace"], np.add.reduceat(full["ad_ops_trace"], starts, axis=2))
    with pytest.raises(ValueError, match="trace_segments"):
        isaacsim.mvm(x, w, a, trace=True, trace_segments=np.array([1, 2]))


def test_a_run_times_its_segment_traces_as_the_full_ones(net):
    """`simulate` keeps per-segment traces when timing alone needs them: same timing."""
    a = arch("trq", **SMALL, **{"mapping.replication": "balance", "mapping.max_replication": 2})
    inner = isaacsim.simulate(a, net, samples=1)
    full = isaacsim.simulate(a, net, samples=1, traces=1)
    d, f = inner.timing.as_dict(), full.timing.as_dict()
    d.pop("wall_s")
    f.pop("wall_s")
    assert d == f
    assert all(s.timing_trace is None for s in inner.layers.values())


def test_auto_takes_simpy_for_a_small_network_on_a_cold_cache(net, monkeypatch):
    """A small network does not compile the loop; a large one, or a compiled loop, takes it."""
    import isaacsim.kernels.cache as cache
    from isaacsim.timing import network

    a = arch("trq", **SMALL)
    mapping = place_network(layers_of(net), a)
    monkeypatch.setattr(cache, "is_cached", lambda d: False)
    assert not network.uses_numba(mapping)
    assert network.uses_numba(mapping, engine="numba") and not network.uses_numba(mapping, engine="simpy")
    assert not network.uses_numba(mapping, granularity="fine", engine="auto")
    monkeypatch.setattr(network, "NUMBA_MIN_WINDOWS", 1)
    assert network.uses_numba(mapping)
    monkeypatch.setattr(network, "NUMBA_MIN_WINDOWS", 10**9)
    monkeypatch.setattr(cache, "is_cached", lambda d: True)
    assert network.uses_numba(mapping)


def test_compile_notice_names_the_kernels_a_run_uses(monkeypatch):
    """The notice checks the timing engine the run takes, and the noisy kernel only when noise is on."""
    import isaacsim.kernels.cache as cache

    seen = []
    monkeypatch.setattr(cache, "cold_kernels", lambda names: seen.append(names) or [])
    cache.compile_notice(numba_timing=True)
    cache.compile_notice(numba_timing=False, noisy=True)
    assert cache.TIMING_KERNELS[0] in seen[0] and cache.NOISY_KERNELS[0] not in seen[0]
    assert cache.SIMPY_TIMING_KERNELS[0] in seen[1] and cache.NOISY_KERNELS[0] in seen[1]
