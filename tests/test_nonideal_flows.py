"""The non-ideal datapath in the flows around a run (docs/nonideal.md): `isaacsim calibrate`
captures and evaluates on the noisy chip with its seed and records both in the register file,
and `device.*` / `adc.offset_lsb` / `adc.noise_lsb` are sweep axes whose points record their
settings."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

import isaacsim
from isaacsim.adc.regfile import load_registers
from isaacsim.calibrate import calibrate
from isaacsim.calibrate.loop import write_registers
from isaacsim.cli import main
from isaacsim.errors import ConfigWarning
from isaacsim.functional import mvm as mvm_mod
from isaacsim.functional import nonideal
from isaacsim.sweep import store as st
from isaacsim.sweep.run import run_sweep
from isaacsim.sweep.spec import load_sweep
from isaacsim.workload.io import Dataset, save_workload

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "workloads" / "lenet5_digits"
NOISY = {"device.read_sigma": 0.05, "device.program_sigma": 0.02}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """LeNet-5 / digits cut to 8 calibration and 16 eval samples."""
    wl = isaacsim.load_workload(DIGITS)
    d = tmp_path_factory.mktemp("wl")
    return save_workload(wl, d / "small", calib=Dataset(wl.calib.x[:8], None),
                         eval=Dataset(wl.eval.x[:16], wl.eval.y[:16]))


@pytest.fixture
def noisy_calls(monkeypatch):
    calls = []
    real = mvm_mod.noisy_layer

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(mvm_mod, "noisy_layer", counted)
    return calls


def _cal(arch, wl, **kw):
    return calibrate(arch, wl, calib=8, max_drop=0.5, progress=None, refine=False, min_n_r2=7, **kw)


def test_calibrate_runs_on_the_noisy_chip(small, noisy_calls, tmp_path):
    arch = isaacsim.load_arch("trq", NOISY)
    res = _cal(arch, small, seed=3, state=tmp_path / "a.json")
    assert noisy_calls, "the noisy kernel never ran"
    assert res.noise["ideal"] is False and res.noise["seed"] == 3
    assert res.noise["read_sigma"] == 0.05 and res.noise["program_sigma"] == 0.02
    # the capture saw the noisy samples: another seed, other histograms; the ideal chip, others again
    other = _cal(arch, small, seed=4, state=tmp_path / "b.json")
    hist = [json.loads((tmp_path / f).read_text())["hist_digest"] for f in ("a.json", "b.json")]
    assert hist[0] != hist[1] and other.noise["seed"] == 4
    n = len(noisy_calls)
    ideal = _cal(isaacsim.load_arch("trq"), small, seed=3, state=tmp_path / "c.json")
    assert len(noisy_calls) == n, "the ideal chip ran the noisy kernel"
    assert ideal.noise["ideal"] is True and ideal.noise["seed"] == 3
    assert json.loads((tmp_path / "c.json").read_text())["hist_digest"] not in hist
    # the same seed resumes from the state file; the seed is part of its key under noise
    again = _cal(arch, small, seed=3, state=tmp_path / "a.json")
    assert again.simulations == 0 and again.registers == res.registers
    with pytest.warns(ConfigWarning, match="seed"):
        _cal(arch, small, seed=5, state=tmp_path / "a.json")


def test_register_file_records_the_noise_and_still_loads(small, tmp_path):
    arch = isaacsim.load_arch("trq", NOISY)
    res = _cal(arch, small, seed=7)
    for name in ("r.yaml", "r.json"):
        p = write_registers(tmp_path / name, res)
        doc = yaml.safe_load(p.read_text())
        assert doc["meta"]["noise"] == {**res.noise, "seed": 7}
        assert doc["meta"]["noise"]["read_sigma"] == 0.05
        regs = load_registers(p)
        assert set(regs) == set(res.registers)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            isaacsim.simulate(arch, small, registers=p, timing=False, samples=2, seed=8)  # another chip, same noise
    p = tmp_path / "r.yaml"
    # a run under other non-idealities warns, naming what differs; the registers still apply
    with pytest.warns(ConfigWarning, match=r"read_sigma 0.05 \(this run: 0.0\)"):
        isaacsim.simulate("trq", small, registers=p, timing=False, samples=2)
    # a file that records no noise (hand-written, or older) warns about nothing
    doc = yaml.safe_load(p.read_text())
    del doc["meta"]["noise"]
    p.write_text(yaml.safe_dump(doc))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        isaacsim.simulate(arch, small, registers=p, timing=False, samples=2)


def test_calibrate_cli_seed(small, tmp_path, capsys):
    out = tmp_path / "regs.yaml"
    args = ["calibrate", "trq", str(small.path), "--calib", "8", "--max-drop", "0.5", "--no-refine",
            "--set", "adc.noise_lsb=0.3", "--set", "device.read_sigma=0.02", "--out", str(out)]
    assert main([*args, "--seed", "11"]) == 0
    meta = yaml.safe_load(out.read_text())["meta"]
    assert meta["noise"]["seed"] == 11 and meta["noise"]["noise_lsb"] == 0.3 and meta["noise"]["ideal"] is False
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main([*args, "--seed", "-1"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2 and "--seed" in err[-1]
    with pytest.raises(isaacsim.ConfigError, match="seed"):
        _cal("trq", small, seed=-2)


def test_noise_keys_are_sweep_axes(tmp_path):
    sw = tmp_path / "noise.yaml"
    sw.write_text(f"""
name: noise
base: {{arch: trq_baseline}}
workloads:
  - {{path: {DIGITS}, samples: 4, name: lenet}}
run: {{timing: false}}
axes:
  device.read_sigma: [0.0, 0.05]
""")
    out = run_sweep(sw, out=tmp_path / "out", workers=1)
    assert (out.ran, out.failed) == (2, 0)
    df = st.read_table(out.out).sort_values("point")
    assert list(df["device.read_sigma"]) == [0.0, 0.05]
    for p in load_sweep(sw).points:
        s = json.loads((out.out / st.POINTS / f"{p.hash}.json").read_text())
        assert s["noise"]["read_sigma"] == p.values["device.read_sigma"] and s["noise"]["seed"] == 0
        assert s["noise"]["ideal"] is (p.values["device.read_sigma"] == 0)
    # every noise key is a valid axis, and a value out of its range is one clear error
    sw.write_text(sw.read_text().replace("device.read_sigma: [0.0, 0.05]", """
  device.program_sigma: [0.1]
  device.stuck_at_gmin: [0.01]
  device.stuck_at_gmax: [0.01]
  device.on_off_ratio: [20.0]
  adc.offset_lsb: [0.2]
  adc.noise_lsb: [0.3]"""))
    assert len(load_sweep(sw).points) == 1
    sw.write_text(sw.read_text().replace("device.program_sigma: [0.1]", "device.program_sigma: [-0.1]"))
    with pytest.raises(isaacsim.ConfigError, match="program_sigma"):
        load_sweep(sw)


REPLICATED = {"mapping.replication": "balance", "device.program_sigma": 0.05, "device.read_sigma": 0.03,
              "device.stuck_at_gmin": 0.01, "device.stuck_at_gmax": 0.01}


def _noisy_run(small, monkeypatch, budget=None):
    """(result, (layer key, copy) of each map drawn, the run's MapCache) of a replicated noisy
    run of 12 samples in batches of 4, the first 2 traced; budget: MAP_CACHE_BYTES (None: default)."""
    if budget is not None:
        monkeypatch.setattr(nonideal, "MAP_CACHE_BYTES", budget)
    drawn, caches = [], []
    real_program, real_init = nonideal._program, nonideal.MapCache.__init__

    def program(lv, cell_bits, noise, copy, out):
        drawn.append((noise.layer, copy))
        return real_program(lv, cell_bits, noise, copy, out)

    def init(self, *a, **k):
        real_init(self, *a, **k)
        caches.append(self)

    monkeypatch.setattr(nonideal, "_program", program)
    monkeypatch.setattr(nonideal.MapCache, "__init__", init)
    arch = isaacsim.load_arch("trq", REPLICATED)
    res = isaacsim.simulate(arch, small, samples=12, batch_size=4, traces=2, timing=False)
    assert len(caches) == 1
    return res, drawn, caches[0]


def _same_run(a, b):
    np.testing.assert_array_equal(a.outputs, b.outputs)
    for name, la in a.layers.items():
        lb = b.layers[name]
        assert (la.conversions, la.ad_ops, la.overflows, la.n_vectors) == (lb.conversions, lb.ad_ops, lb.overflows,
                                                                           lb.n_vectors)
        for f in ("sample_hist", "ops_hist", "ad_ops_trace", "xbar_ad_ops"):
            np.testing.assert_array_equal(getattr(la, f), getattr(lb, f))


def test_programmed_maps_are_drawn_once_per_run(small, monkeypatch):
    """A run keeps each (matrix, copy) programmed map in its MapCache: later batches and both
    halves of a traced batch read it instead of drawing it again, with identical results; with a
    budget too small for any map nothing is kept, every call draws, and the results are the same."""
    res, drawn, cache = _noisy_run(small, monkeypatch)
    assert max(lay.copies for lay in res.layers.values()) > 1  # replication gives some layer copies
    assert res.batches == 3 and len(drawn) == len(set(drawn)) == len(cache)
    assert len(drawn) >= sum(lay.copies for lay in res.layers.values())
    assert 0 < cache.nbytes <= cache.budget == nonideal.MAP_CACHE_BYTES
    monkeypatch.undo()
    off, drawn_off, cache_off = _noisy_run(small, monkeypatch, budget=0)
    assert len(cache_off) == cache_off.nbytes == 0 and len(drawn_off) > 3 * len(drawn)  # every call draws
    assert set(drawn_off) == set(drawn)
    _same_run(res, off)
    monkeypatch.undo()
    some, drawn_some, cache_some = _noisy_run(small, monkeypatch, budget=cache.nbytes // 2)
    assert 0 < cache_some.nbytes <= cache.nbytes // 2 and 0 < len(cache_some) < len(cache)
    assert len(drawn) < len(drawn_some) < len(drawn_off)
    _same_run(res, some)


def test_map_cache_keeps_what_fits_and_never_shared_maps():
    """CopyMaps.draw reads kept maps and keeps new ones while they fit the budget; maps that
    need no drawing (no programming variation, no stuck cells) are never kept."""
    rng = np.random.default_rng(1)
    planes = rng.integers(0, 2**63, (2, 2, 1, 8), dtype=np.uint64)
    noise = nonideal.Noise(program_sigma=0.1, stuck_at_gmax=0.02, seed=5, layer=3)
    ref = nonideal.CopyMaps(planes, 2, noise).draw([0, 1, 2])
    cache = nonideal.MapCache(budget=2 * ref[0].nbytes)
    maps = nonideal.CopyMaps(planes, 2, noise, cache)
    np.testing.assert_array_equal(maps.draw([0, 1, 2]), ref)
    assert len(cache) == 2 and cache.nbytes == 2 * ref[0].nbytes
    np.testing.assert_array_equal(maps.draw([2, 1, 0]), ref[::-1])
    assert cache.get(planes, nonideal.MapCache.key(planes, 2, noise, 2)) is None
    other = nonideal.CopyMaps(planes.copy(), 2, noise, cache)  # another matrix: its own maps
    assert cache.get(other.planes, nonideal.MapCache.key(other.planes, 2, noise, 0)) is None
    np.testing.assert_array_equal(other.draw([1]), ref[1:2])
    flat = nonideal.CopyMaps(planes, 2, nonideal.Noise(read_sigma=0.1, seed=5), nonideal.MapCache())
    flat.draw([0, 1])
    assert len(flat.cache) == 0
