"""Running one design point, wherever it runs: `run_point` turns a point's payload (plain data,
picklable) into a result row and the point's full summary. It never raises: a point that fails
comes back as a row with status "failed" and its error, so the sweep goes on.

A point with `run.calibrate` (a TRQ point) is calibrated first, on its own arch and seed, unless
the payload brings the register file of an earlier run; its calibration state file, when the
worker can write the sweep's points folder, lets a killed calibration resume. The register file
goes back in the summary (`calibration.document`), and the store writes it.

Workers keep the last few loaded workloads (keyed by fingerprint) so that a worker running many
points of one workload reads it once. Numba's thread count is set per call: sweeps get their
parallelism from running points side by side, one thread each by default.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
import time
import warnings
from functools import lru_cache
from typing import Any

from isaacsim.sweep.spec import Point, RunOptions
from isaacsim.workload.resolve import resolve_workload, zoo_name


def payload(point: Point, run: RunOptions, *, registers: dict[str, Any] | None = None,
            calib_state: str | None = None) -> dict[str, Any]:
    """What a worker needs to run `point`: plain data only. `registers`: the register file of a
    calibrated point that an earlier run wrote (reused, no calibration); `calib_state`: where its
    calibration keeps its state."""
    wl = point.workload
    calib = run.calibrate.model_dump() if point.calibrate and run.calibrate is not None else None
    return {
        "point": point.index, "hash": point.hash, "values": dict(point.values), "arch": point.arch,
        "error": point.error, "workload": {"label": wl.label, "ref": wl.ref, "fingerprint": wl.fingerprint,
                                           "samples": wl.samples},
        "timing": run.timing, "batch_size": run.batch_size, "seed": point.seed,
        "calibrate": calib, "registers": registers, "calib_state": calib_state,
    }


@lru_cache(maxsize=4)
def _workload(ref: str, fingerprint: str):
    if zoo_name(ref) is not None:
        return resolve_workload(ref)
    from isaacsim.sweep.spec import workload_fingerprint

    if not os.path.isdir(ref):
        raise FileNotFoundError(f"workload {ref} is not on host {socket.gethostname()} "
                                "(put it at the same path on every worker, or on a shared file system)")
    now = workload_fingerprint(ref)
    if now != fingerprint:
        raise RuntimeError(f"workload {ref} changed since the sweep started (fingerprint {now} != {fingerprint})")
    return resolve_workload(ref)


def set_threads(threads: int | None) -> None:
    """Numba threads for this worker (None leaves numba's default)."""
    if threads is None:
        return
    import numba

    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))


def thread_limits(threads: int | None):
    """A context that caps BLAS/OpenMP thread pools at `threads` while a point runs.

    Without it every worker's numpy matmul starts one BLAS thread per core: two workers on
    two cores then run four busy threads and the reference matmul gets 20x slower."""
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=max(1, int(threads)))


@lru_cache(maxsize=64)
def _areas(arch_json: str) -> tuple[float, float]:
    """(chip area, area of one tile) in mm2 of an arch (describe's figures)."""
    from isaacsim.components import load_table
    from isaacsim.config.models import Arch
    from isaacsim.energy.peak import peak_summary

    arch = Arch.model_validate_json(arch_json)
    s = peak_summary(arch, load_table(arch.components.table))
    return float(s.chip_area_mm2), float(s.tile_area_mm2)


def row_base(p: dict[str, Any]) -> dict[str, Any]:
    """The identifying columns of a payload's row: point, hash, workload, the swept values, the seed
    and whether the point is calibrated first."""
    return {"point": p["point"], "hash": p["hash"], "workload": p["workload"]["label"], **p["values"],
            "seed": p.get("seed", 0), "calibrated": p.get("calibrate") is not None}


def _state_file(path: str | None) -> str | None:
    """The calibration's state file when its folder is there and writable (not on every Dask worker)."""
    if path is None:
        return None
    folder = os.path.dirname(path)
    return path if os.path.isdir(folder) and os.access(folder, os.W_OK) else None


def _calibrated(p: dict[str, Any], arch, wl) -> tuple[dict[str, Any], dict[str, Any]]:
    """(registers by layer, the summary's `calibration` entry) of a point calibrated first: the
    payload's register file when an earlier run wrote one, else a calibration on this point's
    arch, workload and seed."""
    from isaacsim.adc.regfile import parse_registers

    t0 = time.perf_counter()
    doc, reused = p.get("registers"), True
    if doc is None:
        from isaacsim.calibrate import calibrate

        opts = {k: v for k, v in p["calibrate"].items() if v is not None}
        opts.setdefault("eval_samples", p["workload"]["samples"])
        res = calibrate(arch, wl, state=_state_file(p.get("calib_state")), progress=None,
                        seed=p.get("seed", 0), **opts)
        doc, reused = res.document(), False
    regs = parse_registers(doc, f"point {p['point']}: registers")
    entry = {"reused": reused, "options": p["calibrate"], "wall_s": time.perf_counter() - t0, "document": doc}
    return regs, entry


def _finish(row: dict[str, Any], t0: float) -> dict[str, Any]:
    row["point_s"] = time.perf_counter() - t0
    row["host"] = socket.gethostname()
    row["finished_at"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return row


def run_point(p: dict[str, Any], threads: int | None = 1) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(row, summary) of one point; the summary is None when the point failed before simulating."""
    t0 = time.perf_counter()
    row = row_base(p)
    if p.get("error"):
        return _finish({**row, "status": "failed", "error": p["error"]}, t0), None
    try:
        set_threads(threads)
        from isaacsim.config.models import Arch
        from isaacsim.pipeline import simulate

        with warnings.catch_warnings(), thread_limits(threads):
            warnings.simplefilter("ignore")
            arch = Arch.model_validate(p["arch"])
            wl = _workload(p["workload"]["ref"], p["workload"]["fingerprint"])
            regs, calib = _calibrated(p, arch, wl) if p.get("calibrate") is not None else (None, None)
            t1 = time.perf_counter()
            res = simulate(arch, wl, samples=p["workload"]["samples"], timing=p["timing"], registers=regs,
                           batch_size=p.get("batch_size"), raise_on_error=False, seed=p.get("seed", 0))
            sim_s = time.perf_counter() - t1
            chip_mm2, tile_mm2 = _areas(arch.model_dump_json())
        s = res.summary()
        if calib is not None:
            s["calibration"] = calib
        tiles_used = (s.get("mapping") or {}).get("tiles_used")
        adc = s["adc"]
        row.update({
            "status": "failed" if res.status != "ok" else "ok",
            "error": "; ".join(f.message for f in res.failures if f.message) or None,  # datapath, timing, energy
            "energy_j": s["energy_j"], "latency_cycles": s["latency_cycles"], "latency_s": s["latency_s"],
            "power_w": s["power_w"], "area_mm2": chip_mm2,
            "area_used_mm2": None if tiles_used is None else tiles_used * tile_mm2,
            "accuracy": s["accuracy"], "reference_accuracy": s["reference_accuracy"],
            "agreement": s["agreement"], "ops_per_conversion": adc["ops_per_conversion"],
            "adc_energy_j": adc["energy_j"], "adc_share": adc["energy_share"],
            "conversions": adc["conversions"], "ad_ops": adc["ad_ops"], "samples": s["samples"],
            "tiles_used": tiles_used, "sim_s": sim_s, "calib_s": None if calib is None else calib["wall_s"],
        })
        return _finish(row, t0), s
    except BaseException as e:  # noqa: BLE001 - a point's failure is data, not a crash
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        msg = str(e) if e.__class__.__module__.startswith("isaacsim") else f"{type(e).__name__}: {e}"
        return _finish({**row, "status": "failed", "error": msg}, t0), None
