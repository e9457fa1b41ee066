"""Timing-model throughput: one ResNet-18 (224x224) zoo inference at the default granularity.

The functional run (`isaacsim.simulate(..., traces=1, timing=False)`) records every layer's
A/D-operation trace; its time is printed for the record but is not the timing model's. Then:

1. **Per layer** (`isaacsim.timing.simulate_layer`, default granularity: a numba recurrence per
   window and PE, one simpy event per window): every conv/linear layer on its own trace, all
   windows ready at cycle 0. Wall time, simpy events, events/s, simulated cycles (summed over
   the layers: no overlap between layers) and that sum as latency at the clock. Each layer's
   cycles are checked against its analytic bound (never below).
2. **Network pipeline** (`isaacsim.timing.network.simulate_network`, docs/timing.md "Between
   layers"): wall, events, events/s, latency in cycles and seconds, steady-state throughput, on
   the numba engine (the default) and on the simpy engine it restates (the baseline: every
   report field must be identical; the ratio is printed), and against the functional datapath
   of the same network (`simulate(..., timing=False)`'s datapath wall, in the same run; target:
   timing at most half of it). A third run fills an `isaacsim.timing.events.Timeline` capped for
   50 MB as `run --trace` does (simpy engine), written with `isaacsim.report.perfetto.write_trace`
   (time, events, bytes).
3. **Fine / default** on one small layer of the LeNet-5 zoo network (conv2 unless
   --fine-layer): same layer, same trace, both granularities; cycles, window ends and counters
   must be identical; the ratio of wall times and of events is printed.
4. **Baseline**: the default kernel against a plain-Python evaluation of the same recurrence
   (docs/timing.md, "One PE's schedule"; the slow exact-Fraction reference of
   tests/test_timing_layer.py, re-stated over `layer_steps`' per-PE inputs) on one ResNet-18
   layer (layer2.0.conv1 unless --baseline-layer). Same cycles and window ends are asserted.

Numba compilation is excluded by a warm-up on LeNet-5 (its cold time is printed).
Targets: ResNet-18's network pipeline (without a Timeline) in at most half the functional
datapath's wall time, and at most 5 s.

--smoke runs every step on the LeNet-5 zoo network instead of ResNet-18 (baseline layer conv2, the
trace in a temporary folder; a few seconds), with the same assertions.

Run: python benchmarks/bench_timing.py [--arch trq] [--fine-layer conv2] [--baseline-layer layer2.0.conv1] [--smoke]
"""

from __future__ import annotations

import argparse
import math
import resource
import tempfile
import time
import warnings
from fractions import Fraction
from pathlib import Path

import numba
import numpy as np

import isaacsim
from isaacsim.report.perfetto import max_events_for, write_trace
from isaacsim.timing import build_stages, layer_bound, simulate_layer
from isaacsim.timing.events import Timeline
from isaacsim.timing.layer import Rates, layer_steps
from isaacsim.timing.network import simulate_network
from isaacsim.timing.pe_work import segment_trace
from isaacsim.workload.zoo import make

TARGET_S = 5.0
TRACE_LIMIT = 50 * 2**20


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reference_layer(lp, trace, stages) -> tuple[int, np.ndarray]:
    """(cycles, window ends) of the layer by the recurrence in plain Python with exact Fractions
    (tests/test_timing_layer.py's reference_schedule), PE by PE over `layer_steps`' inputs."""
    rates = Rates.of(stages)
    n = trace.shape[-4]
    window_end = [0] * n
    for s in layer_steps(lp, trace, stages):
        work, conv, ready = s.work.tolist(), s.conv.tolist(), s.ready.tolist()
        prev_read = prev_conv = 0
        for r, ws in enumerate(s.windows):
            for c in range(s.input_cycles):
                i = r * s.input_cycles + c
                terms = [prev_read + rates.read_cycles, prev_conv]
                if c == 0:
                    terms.append(ready[r] + rates.read_cycles)
                read = max(terms)
                adc = max(math.ceil(Fraction(w) / rates.adc) for w in work[i])
                sa = math.ceil(Fraction(conv[i]) / rates.shift_add)
                prev_read, prev_conv = read, read + max(adc, sa)
            for w in ws:
                window_end[w] = max(window_end[w], prev_conv)
    return max(window_end), np.array(window_end, np.int64)


def per_layer(res, stages):
    """Every layer's default-granularity schedule on its trace: rows and totals."""
    rows = []
    traces = res.traces()
    for lp in res.mapping.layers:
        st = res.layers[lp.name]
        t = time.perf_counter()
        lt = simulate_layer(lp, traces[lp.name][0], stages)
        dt = time.perf_counter() - t
        bound = layer_bound(lp, stages, st.ad_ops, st.conversions)
        if lt.cycles < bound.bound_cycles:
            raise SystemExit(f"{lp.name}: {lt.cycles} cycles below the bound {bound.bound_cycles}")
        rows.append((lp, lt, dt, bound))
    return rows


def network(wl, res, stages, arch, out_trace):
    """The inter-layer pipeline: (NetworkTiming, wall s, trace info); on the numba engine (best of
    two), then on simpy (identical reports asserted; info["simpy_s"]), both on the per-segment
    traces a run keeps for timing (made beforehand, not timed), then with a Timeline capped for
    TRACE_LIMIT (the cap `isaacsim run --trace` uses), written as a Perfetto trace."""
    seg = {lp.name: segment_trace(lp, res.traces()[lp.name][0]) for lp in res.mapping.layers}
    wall = math.inf
    for _ in range(2):
        t = time.perf_counter()
        nt = simulate_network(wl, res.mapping, seg, stages, arch=arch, engine="numba")
        wall = min(wall, time.perf_counter() - t)
    t = time.perf_counter()
    ns = simulate_network(wl, res.mapping, seg, stages, arch=arch, engine="simpy")
    simpy_s = time.perf_counter() - t
    a, b = nt.as_dict(), ns.as_dict()
    a.pop("wall_s")
    b.pop("wall_s")
    assert a == b, "the numba and simpy engines disagree"
    tl = Timeline(max_events=max_events_for(TRACE_LIMIT, tracks=2 * arch.chip.tiles * arch.tile.pes + 1024))
    t = time.perf_counter()
    nt_tl = simulate_network(wl, res.mapping, res.traces(), stages, arch=arch, timeline=tl)
    wall_tl = time.perf_counter() - t
    assert nt_tl.latency_cycles == nt.latency_cycles
    t = time.perf_counter()
    info = write_trace(tl, out_trace, clock_hz=stages.clock.hz, metadata={"arch": arch.name, "workload": wl.name})
    info["write_s"] = time.perf_counter() - t
    info["with_timeline_s"] = wall_tl
    info["simpy_s"] = simpy_s
    return nt, wall, info


def _bottleneck(b) -> str:
    if isinstance(b, dict):
        return " / ".join(str(b[k]) for k in ("layer", "resource") if k in b) or str(b)
    return str(b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="trq", help="arch preset or YAML (default: trq)")
    ap.add_argument("--fine-layer", default="conv2", help="LeNet-5 zoo layer for fine vs default (default conv2)")
    ap.add_argument("--baseline-layer", default="layer2.0.conv1",
                    help="ResNet-18 layer for the plain-Python baseline (default layer2.0.conv1)")
    ap.add_argument("--trace-out", default="/tmp/bench_timing_resnet18.json",
                    help="where the network's Perfetto trace is written (default /tmp/...)")
    ap.add_argument("--smoke", action="store_true",
                    help="LeNet-5 instead of ResNet-18 (baseline layer conv2): a quick check that it runs")
    args = ap.parse_args()
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="bench_timing_") as d:
            args.trace_out = str(Path(d) / "bench_timing_lenet5.json")
            run(args, "lenet5", "LeNet-5", "conv2")
    else:
        run(args, "resnet18", "ResNet-18", args.baseline_layer)


def run(args, net: str, label: str, baseline_layer: str) -> None:

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arch = isaacsim.load_arch(args.arch)
    stages = build_stages(arch)
    clock = float(stages.clock.hz)

    # ---- warm-up on LeNet-5 (numba compile or cache load), and its traces for fine vs default
    lenet = make("lenet5", samples=1)
    small = isaacsim.simulate(arch, lenet, samples=1, traces=1, timing=False)
    lp_s = small.mapping.layer(args.fine_layer)
    tr_s = small.traces()[args.fine_layer][0]
    t = time.perf_counter()
    simulate_layer(lp_s, tr_s, stages)
    t_cold = time.perf_counter() - t

    # ---- the network (ResNet-18): functional run with traces (not timed as timing)
    t = time.perf_counter()
    wl = make(net, samples=1)
    t_make = time.perf_counter() - t
    t = time.perf_counter()
    res = isaacsim.simulate(arch, wl, samples=1, traces=1, timing=False)
    t_func = time.perf_counter() - t
    datapath_s = min(res.wall_s, isaacsim.simulate(arch, wl, samples=1, timing=False).wall_s)
    trace_gb = sum(v.nbytes for v in res.traces().values()) / 1e9
    seg_gb = sum(segment_trace(lp, res.traces()[lp.name][0]).nbytes for lp in res.mapping.layers) / 1e9

    rows = per_layer(res, stages)
    wall = sum(r[2] for r in rows)
    events = sum(r[1].events for r in rows)
    cycles = sum(r[1].cycles for r in rows)
    bound = sum(r[3].bound_cycles for r in rows)

    shape = "x".join(str(d) for d in wl.eval.x.shape[1:])
    print(f"{label} zoo workload, 1 x {shape}, {len(rows)} conv/linear layers, on {arch.name} "
          f"({arch.adc.mode} ADC, early termination {arch.adc.early_termination}), clock {clock / 1e6:g} MHz, "
          f"{numba.get_num_threads()} numba threads")
    print(f"zoo make                 : {t_make:8.2f} s")
    print(f"warm-up (cold kernel)    : {t_cold:8.2f} s  (LeNet-5 {args.fine_layer}: numba compile or cache load)")
    print(f"functional, traces=1     : {t_func:8.2f} s  ({trace_gb:.3f} GB of traces; not part of the timing)")
    print(f"traces per PE segment    : {seg_gb:8.3f} GB  (what a run keeps for timing alone: "
          f"{seg_gb / trace_gb:.2f} of the full traces)")
    print("\nper layer, default granularity (each layer alone, inputs ready at cycle 0):")
    print(f"  {'layer':20s} {'windows':>7s} {'PEs':>4s} {'cycles':>9s} {'bound':>9s} {'bottleneck':>13s} "
          f"{'events':>7s} {'wall s':>7s}")
    for lp, lt, dt, b in rows:
        print(f"  {lp.name:20s} {lp.layer.n_vectors:7d} {lp.n_pes:4d} {lt.cycles:9d} {b.bound_cycles:9d} "
              f"{b.bottleneck:>13s} {lt.events:7d} {dt:7.3f}")
    print(f"  total: {wall:.2f} s wall, {events:,} simpy events, {events / wall:,.0f} events/s, "
          f"{cycles:,} cycles summed over layers = {cycles / clock * 1e3:.3f} ms at the clock "
          f"(sum of bounds {bound:,}: x{cycles / bound:.3f})")

    nt, n_wall, info = network(wl, res, stages, arch, args.trace_out)
    print("\nnetwork pipeline (simulate_network, default granularity):")
    print(f"  numba engine {n_wall:.2f} s, {nt.events:,} events, {nt.events / n_wall:,.0f} events/s, "
          f"latency {nt.latency_cycles:,} cycles = {nt.latency_s * 1e3:.3f} ms, "
          f"steady state {nt.throughput_ips:,.1f} inferences/s (bottleneck {_bottleneck(nt.bottleneck)})")
    print(f"  simpy engine {info['simpy_s']:.2f} s, identical report: numba is {info['simpy_s'] / n_wall:.1f}x faster")
    ratio = n_wall / datapath_s
    print(f"  timing / functional datapath ({datapath_s:.2f} s untraced, same run): {ratio:.2f}  "
          f"(target <= 0.5: {'met' if ratio <= 0.5 else 'MISSED'})")
    print(f"  with a Timeline: {info['with_timeline_s']:.2f} s; trace file {info['path']}: "
          f"{info['events']:,} events on {info['tracks']} tracks, {info['bytes'] / 2**20:.1f} MiB "
          f"(limit {TRACE_LIMIT / 2**20:.0f} MiB), dropped {info['dropped']:,}, stride {info['stride']}, "
          f"written in {info['write_s']:.2f} s")
    print(f"target <= {TARGET_S:g} s (network pipeline): {n_wall:.2f} s  {'met' if n_wall <= TARGET_S else 'MISSED'}")

    # ---- fine vs default on a small layer
    d_best = f_best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        d = simulate_layer(lp_s, tr_s, stages, granularity="default")
        d_best = min(d_best, time.perf_counter() - t)
    t = time.perf_counter()
    f = simulate_layer(lp_s, tr_s, stages, granularity="fine")
    f_best = time.perf_counter() - t
    assert d.cycles == f.cycles and d.counters == f.counters, (d.cycles, f.cycles)
    assert np.array_equal(d.window_end, f.window_end)
    g = lp_s.geometry
    print(f"\nfine vs default, LeNet-5 {args.fine_layer} ({lp_s.layer.n_vectors} windows x {g.input_cycles} "
          f"input cycles, {lp_s.crossbars} crossbars on {lp_s.n_pes} PEs), same trace, {d.cycles:,} cycles in both:")
    print(f"  default {d_best * 1e3:8.1f} ms  {d.events:9,} events  {d.events / d_best:12,.0f} events/s")
    print(f"  fine    {f_best * 1e3:8.1f} ms  {f.events:9,} events  {f.events / f_best:12,.0f} events/s")
    print(f"  fine / default: {f_best / d_best:.1f}x wall, {f.events / d.events:.1f}x events")

    # ---- baseline: plain-Python recurrence vs the default kernel, one ResNet-18 layer
    lp_b = res.mapping.layer(baseline_layer)
    tr_b = res.traces()[baseline_layer][0]
    t = time.perf_counter()
    lt_b = simulate_layer(lp_b, tr_b, stages)
    t_k = time.perf_counter() - t
    t = time.perf_counter()
    ref_cycles, ref_ends = reference_layer(lp_b, tr_b, stages)
    t_ref = time.perf_counter() - t
    assert ref_cycles == lt_b.cycles and np.array_equal(ref_ends, lt_b.window_end), (ref_cycles, lt_b.cycles)
    steps = sum(len(s.conv) for s in layer_steps(lp_b, tr_b, stages))
    print(f"\nbaseline, {label} {baseline_layer} ({steps:,} PE steps on {lp_b.n_pes} PEs, "
          f"{lt_b.cycles:,} cycles in both):")
    print(f"  default (numba per window + simpy) {t_k:7.3f} s  {steps / t_k:12,.0f} steps/s")
    print(f"  plain Python, exact Fractions      {t_ref:7.3f} s  {steps / t_ref:12,.0f} steps/s")
    print(f"  speed-up {t_ref / t_k:.1f}x")
    print(f"\npeak RSS                 : {rss_mb():8.0f} MB")


if __name__ == "__main__":
    main()
