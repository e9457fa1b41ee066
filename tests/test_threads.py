"""The kernels' work sharing (`isaacsim.kernels.threads`): every item is run once whatever the schedule,
and kernel results, statistics and traces do not depend on the thread count or the chunking."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import isaacsim
from isaacsim.adc import ADCRegisters
from isaacsim.kernels import fused_layer, fused_layer_traced, sar_table, threads
from isaacsim.kernels.packing import pack_input_planes
from isaacsim.mapping import slicing
from isaacsim.mapping.geometry import MatrixGeometry
from isaacsim.workload.zoo import make
from tests.support.datapath import reference_layer


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Chunks of one item wherever the job has enough items (the most hand-offs)."""
    monkeypatch.setattr(threads, "MIN_CHUNK_WORK", 1)
    monkeypatch.setattr(threads, "CHUNKS_PER_WORKER", 10**6)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 60), workers=st.integers(1, 9), work=st.integers(1, 300_000),
       mode=st.sampled_from(["dynamic", "static"]))
def test_every_item_runs_once(n, workers, work, mode):
    chunks = threads.split(n, workers, work, mode)
    assert [i for lo, hi in chunks for i in range(lo, hi)] == list(range(n))
    if mode == "static":
        assert len(chunks) == min(n, workers)
    seen, lock, who = [], threading.Lock(), set()

    def fn(w, lo, hi):
        with lock:
            seen.extend(range(lo, hi))
            who.add(w)

    with threads.schedule(mode):
        threads.run_chunks(fn, chunks, workers)
    assert sorted(seen) == list(range(n))
    assert who <= set(range(threads.workers_for(chunks, workers)))


def test_small_jobs_run_in_the_caller():
    chunks = threads.split(10, 8, 10)  # 100 samples of work: far below one chunk
    assert chunks == [(0, 10)] and threads.workers_for(chunks, 8) == 1
    caller = threading.get_ident()
    ran = []
    threads.run_chunks(lambda w, lo, hi: ran.append(threading.get_ident()), chunks, 8)
    assert ran == [caller]


def test_a_workers_error_reaches_the_caller(tiny_chunks):
    def fn(w, lo, hi):
        if lo == 5:
            raise ValueError("chunk 5")

    with pytest.raises(ValueError, match="chunk 5"):
        threads.run_chunks(fn, threads.split(20, 3, 1), 3)


def test_bad_schedule():
    with pytest.raises(ValueError, match="scheduling"):
        with threads.schedule("guided"):
            pass


def _layer(n, seed=0, psum_bits=9, rows=128):
    arch = isaacsim.load_arch("trq", overrides={"datapath.psum_bits": psum_bits, "crossbar.rows": rows})
    rng = np.random.default_rng(seed)
    k, m = 300, 5
    geo = MatrixGeometry.of(k, m, arch)
    x = rng.integers(0, 256, (n, k))
    w = rng.integers(-127, 128, (k, m))
    xw, sh, sg = slicing.pack_inputs(x, geo)
    ww = slicing.pack_weights(w, geo)
    _, msb, units, ops = sar_table(geo.max_sample, *ADCRegisters.of(arch.adc).kernel_args())
    acc = np.arange(n) % 3
    args = (xw, ww, units, ops, msb, acc, 3)
    tail = (sh, sg, 1, geo.n_slices, 2, psum_bits)
    slots = (geo.column_lanes(arch.pe.adcs), geo.crossbars * geo.lanes(arch.pe.adcs))
    return arch, x, w, args, tail, slots


@pytest.mark.parametrize("n", [1, 2, 3, 40])
@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_kernel_results_do_not_depend_on_chunking(n, mode, tiny_chunks):
    """1 vector, fewer vectors than threads, many one-vector chunks: all equal the one-thread run
    and the slow reference."""
    arch, x, w, args, tail, slots = _layer(n)
    ref = fused_layer_traced(*args, *slots, *tail, 1)
    y_ref, hist_ref, ovf_ref = reference_layer(x, w, arch, ADCRegisters.of(arch.adc))
    np.testing.assert_array_equal(ref[0], y_ref)  # trq: base step 1, differential, no column flip
    np.testing.assert_array_equal(ref[1], hist_ref)
    assert ref[2] == ovf_ref
    with threads.schedule(mode):
        for t in (2, 3, 7, 64):
            got = fused_layer_traced(*args, *slots, *tail, t)
            for a, b in zip(got, ref, strict=True):
                np.testing.assert_array_equal(a, b)
            for a, b in zip(fused_layer(*args, *tail, t), ref[:5], strict=True):
                np.testing.assert_array_equal(a, b)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 30), t=st.integers(1, 12), seed=st.integers(0, 2**16), rows=st.sampled_from([64, 128, 200]),
       psum_bits=st.sampled_from([6, 9, 64]))
def test_kernel_chunking_under_hypothesis(n, t, seed, rows, psum_bits):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(threads, "MIN_CHUNK_WORK", 1)
        _, _, _, args, tail, slots = _layer(n, seed, psum_bits, rows)
        ref = fused_layer_traced(*args, *slots, *tail, 1)
        for a, b in zip(fused_layer_traced(*args, *slots, *tail, t), ref, strict=True):
            np.testing.assert_array_equal(a, b)


def _pack_inputs_reference(u, first, count, dac_bits, geo):
    """pack_input_planes in plain numpy: each (cycle, DAC bit) plane through np.packbits."""
    n = u.shape[0]
    out = np.zeros((n, first.shape[0], geo.row_parts, dac_bits, slicing.n_words(geo)), np.uint64)
    for c in range(first.shape[0]):
        for a in range(count[c]):
            out[:, c, :, a, :] = slicing._pack_rows(((u >> (first[c] + a)) & 1).astype(np.uint8), geo)
    return out


@pytest.mark.filterwarnings("ignore::isaacsim.ConfigWarning")  # lossy ADC is irrelevant here
@pytest.mark.parametrize("t", [1, 2, 5])
@pytest.mark.parametrize("n", [1, 4, 33])
def test_input_packing_matches_reference_in_chunks(n, t, tiny_chunks):
    arch = isaacsim.load_arch("trq", overrides={"crossbar.rows": 70, "crossbar.dac_bits": 3})
    geo = MatrixGeometry.of(150, 1, arch)
    u = np.random.default_rng(n).integers(0, 256, (n, 150))
    cyc = slicing.input_cycles(geo)
    first = np.array([c[0] for c in cyc], np.int64)
    count = np.array([c[1] for c in cyc], np.int64)
    got = pack_input_planes(u, first, count, geo.dac_bits, geo.xbar_rows, geo.row_parts, slicing.n_words(geo), t)
    np.testing.assert_array_equal(got, _pack_inputs_reference(u, first, count, geo.dac_bits, geo))


@pytest.mark.parametrize("t", [1, 3])
def test_weight_packing_in_chunks(t, tiny_chunks, monkeypatch):
    monkeypatch.setattr(numba, "get_num_threads", lambda: t)
    arch = isaacsim.load_arch("trq", overrides={"crossbar.rows": 64, "crossbar.cell_bits": 2})
    geo = MatrixGeometry.of(300, 7, arch)
    w = np.random.default_rng(t).integers(-127, 128, (300, 7))
    np.testing.assert_array_equal(slicing.pack_weights(w, geo), slicing.pack_weights_reference(w, geo))
    w[17, 3] = 128
    with pytest.raises(ValueError, match="found 128"):
        slicing.pack_weights(w, geo)


def _run():
    arch = isaacsim.load_arch("trq")
    return isaacsim.simulate(arch, make("lenet5", samples=2), samples=2, batch_size=1, traces=1, timing=False)


def _untimed(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if not k.endswith("wall_s")}


def test_a_runs_results_do_not_depend_on_threads_or_chunking(tiny_chunks, monkeypatch):
    """A whole run (LeNet-5, traced) gives the same outputs, statistics and traces on 1 thread,
    on 5 with one-vector chunks, and under the static schedule."""
    runs = []
    for t, mode in ((1, "dynamic"), (5, "dynamic"), (3, "static")):
        monkeypatch.setattr(numba, "get_num_threads", lambda t=t: t)
        with threads.schedule(mode):
            runs.append(_run())
    base = runs[0]
    for r in runs[1:]:
        np.testing.assert_array_equal(r.outputs, base.outputs)
        assert _untimed(r.summary()) == _untimed(base.summary())
        for name, s in base.layers.items():
            other = r.layers[name]
            for f in dataclasses.fields(s):
                a, b = getattr(s, f.name), getattr(other, f.name)
                if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                    np.testing.assert_array_equal(a, b, err_msg=f"{name}.{f.name}")
                else:
                    assert a == b, f"{name}.{f.name}"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_pool(tiny_chunks):
    """The parent's pool threads do not survive a fork: the child starts a pool of its own."""
    ran = []
    threads.run_chunks(lambda w, lo, hi: ran.append(w), threads.split(8, 2, 1, "static"), 2)
    pid = os.fork()
    if pid == 0:  # the child: a static job needs worker 1, a pool thread
        signal.alarm(20)  # a child stuck waiting for a thread that does not exist dies
        try:
            with threads.schedule("static"):
                threads.run_chunks(lambda w, lo, hi: None, threads.split(8, 2, 1, "static"), 2)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
