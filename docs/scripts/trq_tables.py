"""Reproduce the TRQ tables of docs/trq.md (sec. V of the TRQ paper, on the workloads we have).

    python docs/scripts/trq_tables.py bits    [--work runs/trq_tables]   # table 1, LeNet-5
    python docs/scripts/trq_tables.py energy  [--work ...] [--only NAME]  # table 2, ADC energy
    python docs/scripts/trq_tables.py heldout [--work ...]                # select 0-499, report 500-999
    python docs/scripts/trq_tables.py all     [--work ...]

Every finished measurement is cached as JSON under --work (calibrations also keep the loop's
resumable state file there), so a re-run only prints the tables; kill and restart at will.

- bits: accuracy of LeNet-5 / MNIST-5k (eval = the 1,000 held-out test images) against the
  maximum ADC bits K = 8..4: uniform K-bit ADC with the default step 2^(R-K) (`adc.mode=uniform`,
  `adc.bits=K` on `trq_baseline`), uniform K-bit with the per-layer calibrated step
  (`search_layer`'s uniform alternative), pure TRQ (`search_layer(hist, R, K)` per layer with
  n_r1 <= K and n_r2 = K; Eq. 11's m, and with the loop's ideal-case m search) and
  TRQ-or-uniform per layer (fewer expected ops, as the loop does).
  Histograms: the 32 calib images with an ideal 8-bit ADC.
- energy: `calibrate("trq", WL, ...)` then the `trq_baseline` preset and the calibrated
  registers on the same eval samples; ADC energy = `summary()["adc"]["energy_j"]`.
- heldout: LeNet-5 calibrated on eval images 0-499 only, reported on 500-999.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import isaacsim
from isaacsim import load_arch
from isaacsim.calibrate import calibrate, write_registers
from isaacsim.calibrate.search import search_layer, trq_metrics
from isaacsim.errors import ConfigWarning
from isaacsim.workload import load_workload
from isaacsim.workload.io import Dataset

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "workloads" / "lenet5_mnist5k"
R = 8
BITS = (8, 7, 6, 5, 4)
# name -> (workload ref, calib, eval, refine (False: no refinement), zoo eval samples)
ENERGY = {
    "lenet5_mnist5k": (str(LENET), 32, None, True, None),
    "resnet20": ("zoo:resnet20", 8, 16, True, None),
    "squeezenet1_1": ("zoo:squeezenet1_1", 4, 16, False, 16),
    "resnet18": ("zoo:resnet18", 4, 8, False, 8),
}
# calibrate() options per variant; "default" is the loop as shipped (refinement passes until
# nothing changes, ideal case with m searched); "eq11" fixes m = R - n_r2 (Eq. 11) in the ideal
# case; "eq11_p1" is the earlier loop (Eq. 11, one refinement pass); "norefine" skips the
# refinement.
VARIANTS = {
    "default": {},
    "eq11": {"ideal_m": False},
    "eq11_p1": {"ideal_m": False, "refine_passes": 1},
    "norefine": {"refine": False},
    "eq11_norefine": {"ideal_m": False, "refine": False},
}


def log(msg: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def cached(path: Path, fn):
    if path.is_file():
        return json.loads(path.read_text())
    t = time.perf_counter()
    out = fn()
    out["wall_s"] = round(time.perf_counter() - t, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    return out


def sim(arch, wl, registers=None, overrides=None):
    a = load_arch(arch, overrides) if overrides else arch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        return isaacsim.simulate(a, wl, registers=registers, timing=False, progress=False)


def adc(res) -> dict:
    s = res.summary()["adc"]
    return {"accuracy": res.accuracy, "ops_per_conversion": s["ops_per_conversion"], "energy_j": s["energy_j"]}


def workload(ref: str, zoo_samples):
    if ref.startswith("zoo:"):
        from isaacsim.workload.zoo import make

        return make(ref[4:], samples=zoo_samples)
    return load_workload(ref)


# ---------------------------------------------------------------- table 1
def bits_table(work: Path) -> str:
    wl = load_workload(LENET)

    def capture():
        cal = dataclasses.replace(wl, eval=Dataset(wl.calib.x, None), calib=None)
        res = sim("trq_baseline", cal, overrides={"adc.mode": "ideal"})
        return {"hists": {k: np.asarray(s.sample_hist, np.int64).tolist() for k, s in res.layers.items()}}

    hists = {k: np.asarray(v) for k, v in cached(work / "lenet_hists.json", capture)["hists"].items()}
    rows = []
    for k in BITS:
        searches = {n: search_layer(h, R, k, n_r1_values=range(k + 1)) for n, h in hists.items()}
        wide = {n: ideal_wide(h, k, searches[n]) for n, h in hists.items()}

        def run(kind, k=k, searches=searches, wide=wide):
            def go():
                if kind == "uniform_default":
                    return adc(sim("trq_baseline", wl, overrides={"adc.mode": "uniform", "adc.bits": k}))
                if kind == "uniform_calibrated":
                    regs = {n: s.uniform for n, s in searches.items()}
                elif kind == "trq_eq11":
                    regs = {n: s.registers for n, s in searches.items()}
                elif kind == "trq":
                    regs = {n: w[0] for n, w in wide.items()}
                else:  # TRQ or uniform per layer, fewer expected ops (tie: lower MSE), as the loop
                    regs = {n: (w[0] if w[1:] <= (s.uniform_ops, s.uniform_mse) else s.uniform)
                            for (n, s), w in zip(searches.items(), wide.values(), strict=True)}
                out = adc(sim("trq", wl, registers=regs))
                out["modes"] = {n: g["mode"] for n, g in regs.items()}
                return out
            log(f"bits K={k} {kind}")
            return cached(work / f"bits_{k}_{kind}.json", go)

        rows.append((k, *(run(kind) for kind in KINDS)))
    lines = ["| max ADC bits K | uniform, step 2^(8-K) | uniform, calibrated step | TRQ, Eq. 11 m "
             "| TRQ, m searched | TRQ or uniform per layer | ops/conv TRQ Eq. 11 | ops/conv TRQ | ops/conv TRQ-or-U |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k, ud, uc, t11, t, tu in rows:
        lines.append(f"| {k} | {ud['accuracy']:.2%} | {uc['accuracy']:.2%} | {t11['accuracy']:.2%} | "
                     f"{t['accuracy']:.2%} | {tu['accuracy']:.2%} | {t11['ops_per_conversion']:.3f} | "
                     f"{t['ops_per_conversion']:.3f} | {tu['ops_per_conversion']:.3f} |")
    wall = sum(r.get("wall_s", 0) for row in rows for r in row[1:])
    return "\n".join(lines).replace("%", " %") + f"\n\n(simulation wall time {wall:.0f} s, capture excluded)"


KINDS = ("uniform_default", "uniform_calibrated", "trq_eq11", "trq", "trq_or_uniform")


def ideal_wide(hist, k: int, s):
    """(registers, ops, mse): search_layer's TRQ registers, and in the ideal case the loop's m
    search (isaacsim.calibrate.loop._ideal_wide) with n_r1 also capped at K."""
    if s.case != "ideal":
        return dict(s.registers), s.ops, s.mse
    n1 = np.arange(k + 1)[:, None]
    ms = np.arange(R - k, -1, -1)[None, :]
    ops, mse = trq_metrics(hist, R, n1, k, ms, 1.0, 0)
    n1b, msb = (a.ravel() for a in np.broadcast_arrays(n1, ms))
    ops, mse = ops.ravel(), mse.ravel()
    i = int(np.lexsort((n1b, -msb, mse, ops))[0])
    if (ops[i], mse[i]) >= (s.ops, s.mse):
        return dict(s.registers), s.ops, s.mse
    regs = {**s.registers, "n_r1": int(n1b[i]), "m": int(msb[i]), "delta_r1": 1.0, "bias": 0}
    return regs, float(ops[i]), float(mse[i])


# ---------------------------------------------------------------- table 2
def energy_one(work: Path, name: str, max_drop: float, variant: str) -> dict:
    ref, n_cal, n_ev, refine, zoo_n = ENERGY[name]
    kw = dict(VARIANTS[variant])
    if not refine:
        kw["refine"] = False
    tag = name if variant == "default" else f"{name}_{variant}"

    def go():
        wl = workload(ref, zoo_n)
        t = time.perf_counter()
        res = calibrate("trq", wl, max_drop=max_drop, calib=n_cal, eval_samples=n_ev,
                        state=work / f"{tag}.state.json", progress=False, **kw)
        cal_s = time.perf_counter() - t
        write_registers(work / f"{tag}.yaml", res)
        n = res.eval_samples
        ev = dataclasses.replace(wl, eval=Dataset(wl.eval.x[:n], None if wl.eval.y is None else wl.eval.y[:n]))
        base = sim("trq_baseline", ev)
        cal = sim("trq", ev, registers=res.registers)
        return {"calib": res.calib_samples, "eval": n, "metric": res.metric,
                "baseline_metric": res.baseline_accuracy, "metric_after": res.accuracy, "n_r2": res.n_r2,
                "base": adc(base), "cal": adc(cal), "calibrate_s": round(cal_s, 1),
                "simulations": res.simulations,
                "modes": {ly["name"]: [ly["mode"], ly["n_r2"], ly["case"]] for ly in res.layers}}

    log(f"energy {tag}")
    return cached(work / f"energy_{tag}.json", go)


def energy_table(work: Path, only, max_drop: float, variants=("default",), cached_only: bool = False) -> str:
    lines = ["| workload | variant | calib / eval samples | metric | baseline | calibrated | ops/conv | "
             "ADC energy 8-bit uniform (J) | ADC energy TRQ (J) | reduction | calibrate wall |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in ENERGY:
        for variant in variants:
            if only and name not in only:
                continue
            tag = name if variant == "default" else f"{name}_{variant}"
            if cached_only and not (work / f"energy_{tag}.json").is_file():
                continue
            e = energy_one(work, name, max_drop, variant)
            ratio = e["base"]["energy_j"] / e["cal"]["energy_j"]
            lines.append(f"| {name} | {variant} | {e['calib']} / {e['eval']} | {e['metric']} | "
                         f"{e['baseline_metric']:.2%} | {e['metric_after']:.2%} | "
                         f"{e['cal']['ops_per_conversion']:.3f} | "
                         f"{e['base']['energy_j']:.4g} | {e['cal']['energy_j']:.4g} | {ratio:.2f}x | "
                         f"{e['calibrate_s']:.0f} s |")
    return "\n".join(lines).replace("%", " %")


# ---------------------------------------------------------------- held-out
def heldout_table(work: Path, max_drop: float, variant: str = "default") -> str:
    wl = load_workload(LENET)
    x, y = wl.eval.x, wl.eval.y
    sel = dataclasses.replace(wl, eval=Dataset(x[:500], y[:500]))
    held = dataclasses.replace(wl, eval=Dataset(x[500:], y[500:]))
    tag = "heldout" if variant == "default" else f"heldout_{variant}"

    def go():
        kw = VARIANTS[variant]
        res = calibrate("trq", sel, max_drop=max_drop, calib=32, state=work / f"{tag}.state.json",
                        progress=False, **kw)
        b, c = adc(sim("trq_baseline", held)), adc(sim("trq", held, registers=res.registers))
        return {"select_base": res.baseline_accuracy, "select_cal": res.accuracy, "held_base": b["accuracy"],
                "held_cal": c["accuracy"], "ops": c["ops_per_conversion"],
                "ratio": b["energy_j"] / c["energy_j"]}

    log(f"heldout {tag}")
    e = cached(work / f"{tag}.json", go)
    return ("| set | 8-bit uniform | calibrated TRQ | drop |\n|---|---:|---:|---:|\n"
            f"| selection (eval 0-499) | {e['select_base']:.2%} | {e['select_cal']:.2%} | "
            f"{(e['select_base'] - e['select_cal']) * 100:.2f} pp |\n"
            f"| held out (eval 500-999) | {e['held_base']:.2%} | {e['held_cal']:.2%} | "
            f"{(e['held_base'] - e['held_cal']) * 100:.2f} pp |\n\n"
            f"held-out ops/conversion {e['ops']:.3f}, ADC energy reduction {e['ratio']:.2f}x; "
            f"wall {e['wall_s']:.0f} s").replace("%", " %")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("bits", "energy", "heldout", "all"))
    p.add_argument("--work", default="runs/trq_tables", type=Path)
    p.add_argument("--only", nargs="*", help="energy: only these workloads")
    p.add_argument("--max-drop", type=float, default=0.005)
    p.add_argument("--variant", choices=tuple(VARIANTS), nargs="+", default=["default"],
                   help="calibration loop options (VARIANTS); results are kept apart per variant")
    p.add_argument("--cached-only", action="store_true", help="energy: print only rows already measured")
    a = p.parse_args()
    if a.what in ("bits", "all"):
        print("## Accuracy against the maximum ADC bits (LeNet-5, MNIST-5k, 1,000 eval images)\n")
        print(bits_table(a.work), "\n", flush=True)
    if a.what in ("energy", "all"):
        print("## ADC energy against the 8-bit uniform baseline\n")
        print(energy_table(a.work, a.only, a.max_drop, a.variant, a.cached_only), "\n", flush=True)
    if a.what in ("heldout", "all"):
        for v in a.variant:
            print(f"## LeNet-5: selected on eval 0-499, reported on 500-999 (variant {v})\n")
            print(heldout_table(a.work, a.max_drop, v), "\n", flush=True)


if __name__ == "__main__":
    main()
