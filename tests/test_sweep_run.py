"""`isaacsim sweep` end to end: rows equal direct `simulate` calls, resume skips finished points,
kill -9 part-way loses nothing and duplicates nothing, failed points are recorded and the sweep
goes on, and a real Dask LocalCluster with 2 workers gives the local executor's results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import isaacsim
from isaacsim.cli import main
from isaacsim.sweep import store as st
from isaacsim.sweep.run import run_sweep
from isaacsim.sweep.spec import load_sweep

ROOT = Path(__file__).resolve().parents[1]
LENET = ROOT / "workloads" / "lenet5_digits"
RESULT_COLS = ["point", "hash", "workload", "status", "energy_j", "latency_cycles", "power_w", "area_mm2",
               "accuracy", "ops_per_conversion", "adc_energy_j", "adc_share", "conversions", "ad_ops"]


def write_sweep(path: Path, *, samples: int = 4, extra: str = "", axes: str | None = None) -> Path:
    axes = axes or """
  - zip: {adc.mode: [uniform, uniform, trq], adc.bits: [8, 5, null]}
  - grid: {pe.adcs: [4, 8]}
"""
    path.write_text(f"""
name: tiny
base: {{arch: trq_baseline}}
workloads:
  - {{path: {LENET}, samples: {samples}, name: lenet}}
axes:{axes}{extra}""")
    return path


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    sw = write_sweep(d / "tiny.yaml")
    out = run_sweep(sw, out=d / "out", workers=2)
    return sw, out


def test_rows_equal_direct_simulate(local_run):
    sw, out = local_run
    assert (out.ran, out.failed, out.skipped, out.points) == (6, 0, 0, 6)
    df = st.read_table(out.out)
    assert list(df["point"]) == list(range(6)) and df["hash"].is_unique
    assert list(df.columns[:8]) == [*st.META, "adc.mode", "adc.bits", "pe.adcs"]
    csv = pd.read_csv(out.out / st.CSV)
    assert list(csv["hash"]) == list(df["hash"])
    spec = load_sweep(sw)
    wl = isaacsim.load_workload(LENET)
    for p in spec.points[::2]:
        res = isaacsim.simulate(p.arch, wl, samples=4)
        s = res.summary()
        row = df[df["point"] == p.index].iloc[0]
        assert row["hash"] == p.hash and row["status"] == "ok"
        assert row["energy_j"] == s["energy_j"] and row["latency_cycles"] == s["latency_cycles"]
        assert row["accuracy"] == s["accuracy"] and row["power_w"] == s["power_w"]
        assert row["ops_per_conversion"] == s["adc"]["ops_per_conversion"]
        assert row["adc_share"] == s["adc"]["energy_share"] and row["ad_ops"] == s["adc"]["ad_ops"]
        summary = json.loads((out.out / st.POINTS / f"{p.hash}.json").read_text())
        assert summary["breakdown"] == json.loads(json.dumps(s["breakdown"]))
    # TRQ points convert with fewer A/D operations than the 8-bit uniform ones
    ops = df.set_index("point")["ops_per_conversion"]
    assert ops[4] < ops[0] == 8.0 and ops[2] == 5.0


def test_rerun_skips_finished_points(local_run):
    sw, out = local_run
    before = (out.out / st.JOURNAL).read_text()
    again = run_sweep(sw, out=out.out, workers=1)
    assert (again.ran, again.skipped) == (0, 6)
    assert (out.out / st.JOURNAL).read_text() == before


def test_extended_sweep_runs_only_new_points(local_run, tmp_path):
    sw, out = local_run
    import shutil

    dest = tmp_path / "out"
    shutil.copytree(out.out, dest)
    bigger = write_sweep(tmp_path / "tiny.yaml", axes="""
  - zip: {adc.mode: [uniform, uniform, trq], adc.bits: [8, 5, null]}
  - grid: {pe.adcs: [4, 8, 16]}
""")
    res = run_sweep(bigger, out=dest, workers=1)
    assert (res.ran, res.skipped) == (3, 6)
    df = st.read_table(dest)
    assert len(df) == 9 and df["hash"].is_unique and sorted(df["pe.adcs"].unique()) == [4, 8, 16]


def test_failed_point_recorded_and_sweep_goes_on(tmp_path, capsys):
    # 4-bit weights cannot hold the workload's 8-bit weights (a MappingError at run time), and
    # adc.bits 9 > resolution 8 does not validate (an invalid combination); the rest run.
    sw = write_sweep(tmp_path / "f.yaml", axes="""
  - zip: {datapath.weight_bits: [8, 4, 8], adc.bits: [8, 8, 9]}
""")
    rc = main(["sweep", str(sw), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "point 1 (lenet) failed" in err and "point 2 (lenet) failed" in err
    df = st.read_table(tmp_path / "out").set_index("point")
    assert list(df["status"]) == ["ok", "failed", "failed"]
    assert "weight_bits" in df.loc[1, "error"] and "adc" in df.loc[2, "error"]
    assert df.loc[0, "energy_j"] > 0 and pd.isna(df.loc[1, "energy_j"])
    # failed points count as finished; --retry-failed runs them again, without duplicates
    assert run_sweep(sw, out=tmp_path / "out", workers=1).ran == 0
    again = run_sweep(sw, out=tmp_path / "out", workers=1, retry_failed=True)
    assert (again.ran, again.failed) == (2, 2)
    assert len(st.read_table(tmp_path / "out")) == 3


def test_kill_9_then_resume_loses_and_duplicates_nothing(tmp_path):
    sw = write_sweep(tmp_path / "k.yaml", samples=8, axes="""
  - zip: {adc.mode: [uniform, uniform, trq], adc.bits: [8, 5, null]}
  - grid: {pe.adcs: [2, 4, 8, 16]}
""")
    out = tmp_path / "out"
    journal = out / st.JOURNAL
    cmd = [sys.executable, "-m", "isaacsim.cli", "sweep", str(sw), "--out", str(out), "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if journal.exists() and len(st.read_journal(journal)) >= 3:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        else:
            pytest.fail("the sweep finished no point in time")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = {r["hash"]: r for r in st.read_journal(journal)}
    assert 3 <= len(before) < 12
    # the orphaned worker notices its parent is gone and exits (once its running kernel returns
    # the GIL to the watchdog thread), and the resource tracker follows it
    left = "?"
    for _ in range(60):
        left = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True).stdout.strip()
        if not left:
            break
        time.sleep(0.5)
    assert left == "", f"worker processes left behind 30 s after the kill: {left}"
    res = run_sweep(sw, out=out, workers=1)
    assert res.skipped == len(before) and res.ran == 12 - len(before) and res.failed == 0
    rows = st.read_journal(journal)
    assert len(rows) == 12 and len({r["hash"] for r in rows}) == 12  # nothing duplicated
    df = st.read_table(out)
    assert sorted(df["point"]) == list(range(12)) and (df["status"] == "ok").all()
    for h, r in before.items():  # nothing finished before the kill was lost or redone
        assert df.set_index("hash").loc[h, "finished_at"] == r["finished_at"]
        assert (out / st.POINTS / f"{h}.json").exists()


def test_dask_local_cluster_equals_local_executor(local_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    sw, out = local_run
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        res = run_sweep(sw, out=tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert (res.ran, res.failed) == (6, 0)
    a = st.read_table(tmp_path / "dask")[RESULT_COLS]
    b = st.read_table(out.out)[RESULT_COLS]
    pd.testing.assert_frame_equal(a, b)


def test_bad_scheduler_is_one_line(local_run, tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("isaacsim.sweep.executors.CONNECT_TIMEOUT", "2s")
    sw, _ = local_run
    rc = main(["sweep", str(sw), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("isaacsim: error: --scheduler tcp://127.0.0.1:9")


def test_out_of_another_sweep_is_refused(local_run, tmp_path, capsys):
    sw, out = local_run
    other = tmp_path / "other.yaml"
    other.write_text(sw.read_text().replace("name: tiny", "name: other"))
    rc = main(["sweep", str(other), "--out", str(out.out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "holds the results of sweep 'tiny'" in err


def test_point_caps_blas_and_numba_threads(monkeypatch, tmp_path):
    """Workers side by side must not each start a BLAS thread per core (oversubscription made
    the reference matmul 20x slower with 2 workers on 2 cores)."""
    from threadpoolctl import threadpool_info

    import isaacsim.pipeline as sim
    from isaacsim.sweep.execute import payload, run_point

    seen = {}
    real = sim.simulate

    def spy(*a, **k):
        import numba

        seen["blas"] = [d["num_threads"] for d in threadpool_info()]
        seen["numba"] = numba.get_num_threads()
        return real(*a, **k)

    monkeypatch.setattr(sim, "simulate", spy)
    sw = load_sweep(write_sweep(tmp_path / "caps.yaml", samples=1))
    row, _ = run_point(payload(sw.points[0], sw.spec.run), 1)
    assert row["status"] == "ok", row["error"]
    assert seen["numba"] == 1 and seen["blas"] and set(seen["blas"]) == {1}
