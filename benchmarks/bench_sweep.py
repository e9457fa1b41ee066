"""Sweep executor: scaling from 1 to 2 local workers, and the per-point overhead of a sweep
against calling `isaacsim.simulate` directly.

Three timed runs of the same points (the shipped arch_configs/sweeps/adc_design_space.yaml by
default), one numba thread and one BLAS thread per point in each:

1. baseline, in this process: for each point, validate its arch and call `simulate` on the
   already-loaded workload (the workload loads and the numba warm-up are not timed);
2. `isaacsim sweep` with 1 local worker (wall time: worker start, imports, numba cache loads,
   hashing, the result store, everything);
3. `isaacsim sweep` with 2 local workers.

Printed: speed-up = (2) / (3) (target >= 1.8x), per-point overhead = ((2) - (1)) / (1)
(target <= 5%), absolute times per point, and a check that the three runs agree on every
metric. These machines are shared: compare ratios from one run, not absolute times across runs.

Run: python benchmarks/bench_sweep.py [--sweep FILE] [--every K] [--keep DIR] [--smoke]
(`--every 5` times every 5th point only, for a quick look; `--smoke` runs a two-point sweep of
LeNet-5 on 4 digits instead, a quick check that every step runs.)
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numba
import yaml

from isaacsim.config.models import Arch
from isaacsim.pipeline import simulate
from isaacsim.sweep import store as st
from isaacsim.sweep.execute import thread_limits
from isaacsim.sweep.executors import cpu_count
from isaacsim.sweep.run import run_sweep
from isaacsim.sweep.spec import load_sweep
from isaacsim.workload import load_workload

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "arch_configs" / "sweeps" / "adc_design_space.yaml"
SMOKE = """name: smoke
base: {{arch: trq_baseline}}
workloads:
  - {{path: {lenet}, samples: 4, name: lenet5}}
axes:
  - zip: {{adc.mode: [uniform, trq], adc.bits: [8, null]}}
"""
COMPARE = ["energy_j", "latency_cycles", "power_w", "accuracy", "ops_per_conversion", "adc_share"]


def with_absolute_paths(path: Path) -> dict:
    """The sweep file's document with its workload paths made absolute (to write it elsewhere)."""
    doc = yaml.safe_load(path.read_text())
    for w in doc["workloads"]:
        p = Path(w["path"])
        if not w["path"].startswith("zoo:") and not p.is_absolute():
            w["path"] = str((path.parent / p).resolve())
    return doc


def direct(points, run) -> tuple[float, dict[str, dict]]:
    """Seconds of arch validation + simulate per point, and the metrics of each, in-process."""
    workloads = {}
    for p in points:
        if p.workload.ref not in workloads:
            workloads[p.workload.ref] = load_workload(p.workload.ref)
    numba.set_num_threads(1)
    with warnings.catch_warnings(), thread_limits(1):
        warnings.simplefilter("ignore")
        # warm-up: numba kernels from the on-disk cache, first-call costs
        simulate(Arch.model_validate(points[0].arch), workloads[points[0].workload.ref], samples=2)
        total = 0.0
        rows = {}
        for p in points:
            t0 = time.perf_counter()
            arch = Arch.model_validate(p.arch)
            res = simulate(arch, workloads[p.workload.ref], samples=p.workload.samples, timing=run.timing)
            total += time.perf_counter() - t0
            s = res.summary()
            rows[p.hash] = {"energy_j": s["energy_j"], "latency_cycles": s["latency_cycles"],
                            "power_w": s["power_w"], "accuracy": s["accuracy"],
                            "ops_per_conversion": s["adc"]["ops_per_conversion"],
                            "adc_share": s["adc"]["energy_share"]}
    return total, rows


def swept(path: Path, out: Path, workers: int) -> tuple[float, float, dict[str, dict]]:
    """(wall seconds, seconds inside simulate summed over points, metrics per hash)."""
    t0 = time.perf_counter()
    res = run_sweep(path, out=out, workers=workers, threads=1)
    wall = time.perf_counter() - t0
    assert res.failed == 0, [r.get("error") for r in res.rows if r.get("status") != "ok"]
    df = st.read_table(out)
    return wall, float(df["sim_s"].sum()), {r["hash"]: {k: r[k] for k in COMPARE} for r in df.to_dict("records")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", type=Path, default=SHIPPED)
    ap.add_argument("--every", type=int, default=1, help="time every K-th point only (default: all)")
    ap.add_argument("--keep", type=Path, help="keep the sweep folders here")
    ap.add_argument("--smoke", action="store_true",
                    help="a two-point sweep of LeNet-5 on 4 digits instead: a quick check that it runs")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    try:
        if a.smoke:
            a.sweep = tmp / "smoke.yaml"
            a.sweep.write_text(SMOKE.format(lenet=ROOT / "workloads" / "lenet5_digits"))
        sweep_file = a.sweep
        sw = load_sweep(sweep_file)
        points = sw.points[:: a.every]
        if a.every > 1:  # write a sweep of just those points: one zip axis over every key
            doc = with_absolute_paths(a.sweep)
            doc["name"] = f"{sw.name}_every{a.every}"
            labels = [p.workload.label for p in points]
            doc["workloads"] = [w for w in doc["workloads"]
                                if (w.get("name") or Path(w["path"]).name) in labels]
            per_wl = {lab: [p for p in points if p.workload.label == lab] for lab in dict.fromkeys(labels)}
            if len({len(v) for v in per_wl.values()}) != 1 or any(
                    [q.values for q in v] != [q.values for q in next(iter(per_wl.values()))] for v in per_wl.values()):
                raise SystemExit("--every K must pick the same axis values for every workload (try a K that "
                                 "divides the points per workload)")
            first = next(iter(per_wl.values()))
            doc["axes"] = [{"zip": {k: [q.values[k] for q in first] for k in sw.keys}}]
            sweep_file = tmp / f"{doc['name']}.yaml"
            sweep_file.write_text(yaml.safe_dump(doc, sort_keys=False))
            points = load_sweep(sweep_file).points
        print(f"sweep {sweep_file.name}: {len(points)} points over {', '.join(sw.keys)}; "
              f"{cpu_count()} CPU cores; numba threads per point: 1")
        t_direct, ref = direct(points, sw.spec.run)
        print(f"direct simulate calls     {t_direct:8.1f} s   {t_direct / len(points):6.2f} s/point")
        t1, sim1, r1 = swept(sweep_file, tmp / "w1", 1)
        print(f"isaacsim sweep, 1 worker  {t1:8.1f} s   {t1 / len(points):6.2f} s/point")
        t2, _, r2 = swept(sweep_file, tmp / "w2", 2)
        print(f"isaacsim sweep, 2 workers {t2:8.1f} s   {t2 / len(points):6.2f} s/point")
        same = r1 == r2 == {h: ref[h] for h in r1}
        print(f"metrics identical in all three runs: {same}")
        speedup = t1 / t2
        overhead = (t1 - t_direct) / t_direct
        print(f"speed-up 1 -> 2 workers: {speedup:.2f}x  (target >= 1.8x)")
        print(f"per-point overhead of the sweep vs direct simulate: {overhead:+.1%} "
              f"({(t1 - t_direct) / len(points) * 1e3:+.0f} ms/point; target <= 5%)")
        print(f"  of which the sweep's own work (1-worker wall minus the time inside simulate): "
              f"{(t1 - sim1) / sim1:+.1%} ({(t1 - sim1) / len(points) * 1e3:.0f} ms/point)")
        print(f"  and simulate in the worker vs in this process (run-to-run variation): {sim1 / t_direct - 1:+.1%}")
        if a.keep:
            shutil.copytree(tmp, a.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
