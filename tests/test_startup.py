"""The first run compiles the numba kernels (tens of seconds): the command line says so on stderr
when numba's cache is cold, and says nothing when it is warm (`isaacsim.kernels.cache`)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest

import isaacsim.kernels.cache as kcache
from isaacsim.kernels.cache import DATAPATH_KERNELS, TIMING_KERNELS, cold_kernels, compile_notice, is_cached

NOTICE = "isaacsim: compiling kernels (first run only"

KERNEL_SOURCE = """
from numba import njit


@njit(cache=True)
def add_one(x):
    return x + {k}
"""


def _load(path):
    """A fresh module object (so a fresh dispatcher) from the file; numba names its cache entries
    after the module's name, so every load uses the same one."""
    spec = importlib.util.spec_from_file_location("toy_kernel", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_is_cached_follows_numbas_cache(tmp_path):
    """A kernel is cold until it has been compiled once, warm for a new process (a fresh dispatcher
    of the same source), and cold again once its source changes."""
    src = tmp_path / "toy_kernel.py"
    src.write_text(KERNEL_SOURCE.format(k=1))
    mod = _load(src)
    assert not is_cached(mod.add_one)
    assert mod.add_one(1) == 2
    assert is_cached(mod.add_one)
    assert is_cached(_load(src).add_one)
    time.sleep(0.01)  # a new modification time, as an edit gives
    src.write_text(KERNEL_SOURCE.format(k=2))
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert not is_cached(_load(src).add_one)


def test_cold_kernels_in_a_fresh_cache(tmp_path):
    """With NUMBA_CACHE_DIR empty, every kernel a run uses is cold (nothing compiled here)."""
    code = "from isaacsim.kernels.cache import cold_kernels; print(len(cold_kernels()))"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert int(out) == len(DATAPATH_KERNELS + TIMING_KERNELS)


def test_compile_notice(monkeypatch):
    seen, state = [], {"cold": True}

    def fake(names):
        seen.append(names)
        return list(names[:1]) if state["cold"] else []

    monkeypatch.setattr(kcache, "cold_kernels", fake)
    assert compile_notice().startswith(NOTICE)
    assert seen[-1] == DATAPATH_KERNELS + TIMING_KERNELS
    assert compile_notice(timing_only=True).startswith(NOTICE)
    assert seen[-1] == TIMING_KERNELS
    compile_notice(timing=False)  # a run without timing never compiles the timing kernel
    assert seen[-1] == DATAPATH_KERNELS
    state["cold"] = False
    assert compile_notice() is None


def test_compile_notice_says_nothing_if_the_check_fails(monkeypatch):
    def broken(names):
        raise AttributeError("numba moved its cache")

    monkeypatch.setattr(kcache, "cold_kernels", broken)
    assert compile_notice() is None


def test_warm_after_one_call():
    """Once a run's kernel has been called (compiled, or loaded from the cache), it is not cold."""
    import numpy as np

    from isaacsim.kernels.sar import sar_convert_array

    sar_convert_array(np.arange(3, dtype=np.int64), 0, 4, 0, 0, 0, 0, 1.0)
    assert "isaacsim.kernels.sar:sar_convert_array" not in cold_kernels()


def _run(args, cache):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    return subprocess.run([sys.executable, "-m", "isaacsim.cli", *args], env=env, capture_output=True, text=True)


def test_notice_on_a_cold_cache_only(tmp_path, net):
    """End to end, with the timing model's kernel only (a timing-only run compiles nothing else)."""
    args = ["run", "trq", str(net.path), "--timing-only", "--json"]
    first = _run(args, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr.startswith(NOTICE), first.stderr
    second = _run(args, tmp_path)
    assert second.returncode == 0, second.stderr
    assert NOTICE not in second.stderr
    assert json.loads(second.stdout)["latency_cycles"] == json.loads(first.stdout)["latency_cycles"]


@pytest.mark.slow
def test_notice_on_the_first_full_run(tmp_path, net):
    """The whole datapath compiled from an empty cache (about 20 s), then loaded."""
    args = ["run", "trq", str(net.path), "--samples", "2"]
    first = _run(args, tmp_path)
    assert first.returncode == 0 and first.stderr.startswith(NOTICE), first.stderr
    second = _run(args, tmp_path)
    assert second.returncode == 0 and NOTICE not in second.stderr, second.stderr


@pytest.mark.parametrize("args", [
    ["run", "trq", "no/such/workload"],
    ["run", "trq", "WORKLOAD", "--set", "adc.nope=1"],
    ["run", "trq", "WORKLOAD", "--registers", "no/such/registers.yaml"],
    ["calibrate", "trq", "no/such/workload"],
    ["sweep", "no/such/sweep.yaml"],
])
def test_bad_input_on_a_cold_cache_is_one_line(tmp_path, net, args):
    """The notice comes after every input is checked, so bad input still gets its one line."""
    args = [str(net.path) if a == "WORKLOAD" else a for a in args]
    res = _run(args, tmp_path / "empty-cache")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and NOTICE not in res.stderr, res.stderr
