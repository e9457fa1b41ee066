"""Accuracy against programming sigma and against read sigma: the 8-bit uniform SAR ADC
(`trq_baseline`) and calibrated TRQ (`trq` with per-layer registers), on LeNet-5 / MNIST-5k and
ResNet-20 / digits (docs/nonideal.md).

For each workload:

1. `isaacsim calibrate trq WL --eval N --out WORK/<wl>_ideal.yaml` on the ideal chip (no noise;
   defaults otherwise: max drop 0.005, 32 calib samples, refinement); with `--noisy-calib` also
   `isaacsim calibrate trq WL --set KEY=SIGMA --seed SEED` at every non-zero sigma, on the noisy
   chip itself (WORK/<wl>_<key>_<sigma>.yaml);
2. for KEY in device.program_sigma, device.read_sigma and every SIGMA:
   `isaacsim run trq_baseline WL --set KEY=SIGMA --samples N --seed SEED` and
   `isaacsim run trq WL --registers WORK/<wl>_ideal.yaml --set KEY=SIGMA --samples N --seed SEED`
   (the registers calibrated without noise, on the noisy chip: a ConfigWarning says so and is
   silenced here), timing off.

Every run scores the first N eval samples (default 300) on each seed of --seeds (default 0; each
seed is another programmed chip, with its own read-noise draws); with several seeds the table gives
the mean accuracy over the chips and the lowest and highest, and noisy calibrations are made per
chip. Results are cached in WORK/study.json (default runs/nonideal), and
calibrations resume from their state files, so a re-run only prints. It prints a markdown table
and writes WORK/nonideal.png (matplotlib; not committed).

    python docs/scripts/nonideal_study.py [--work runs/nonideal] [--eval 300] [--seeds 0,1,2]
                                          [--thresholds grid|nominal]
                                          [--sigmas 0,0.02,0.05,0.1,0.2] [--only lenet5] [--noisy-calib]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = {"lenet5": "lenet5_mnist5k", "resnet20": "resnet20_digits"}
KEYS = ("device.program_sigma", "device.read_sigma")


def _calibrate(wl: str, path: Path, eval_n: int, seed: int, over: dict) -> Path:
    import isaacsim
    from isaacsim.calibrate import calibrate, write_registers

    if not path.exists():
        res = calibrate(isaacsim.load_arch("trq", over), ROOT / "workloads" / wl,
                        eval_samples=eval_n, state=str(path) + ".state.json", progress=None, seed=seed)
        write_registers(path, res)
    return path


def _point(preset: str, wl: str, over: dict, eval_n: int, seed: int, regs: Path | None) -> dict:
    import isaacsim
    from isaacsim.errors import ConfigWarning

    arch = isaacsim.load_arch(preset, over)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        res = isaacsim.simulate(arch, ROOT / "workloads" / wl, samples=eval_n, registers=regs, timing=False,
                                progress=False, seed=seed)
    a = res.summary()["adc"]
    return {"accuracy": float(res.accuracy), "ops_per_conversion": a["ops_per_conversion"],
            "r1_share": a["r1_conversions"] / a["conversions"], "overflows": a["overflows"],
            "wall_s": time.perf_counter() - t0}


def _label(v: float) -> str:
    return f"{v:g}"


def study(args) -> dict:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cache_path = work / "study.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    for short in args.only:
        wl = WORKLOADS[short]
        ideal_regs = _calibrate(wl, work / f"{wl}_ideal.yaml", args.eval, 0, {})
        for key, s, seed in itertools.product(KEYS, args.sigmas, args.seeds):
            over = {key: s, "adc.thresholds": args.thresholds}
            runs = {"uniform8": ("trq_baseline", None), "trq": ("trq", ideal_regs)}
            if args.noisy_calib and s > 0:
                tag = "" if args.thresholds == "grid" else f"_{args.thresholds}"
                path = work / f"{wl}_{key.split('.')[1]}_{_label(s)}_seed{seed}{tag}.yaml"
                runs["trq_noisy_cal"] = ("trq", _calibrate(wl, path, args.eval, seed, over))
            for name, (preset, regs) in runs.items():
                ck = _key(wl, key, s, name, args, seed)
                if ck not in cache:
                    cache[ck] = _point(preset, wl, over, args.eval, seed, regs)
                    cache_path.write_text(json.dumps(cache, indent=1))
                    print(f"{ck}: {cache[ck]['accuracy']:.2%} ({cache[ck]['wall_s']:.1f} s)", file=sys.stderr)
    return cache


def _key(wl: str, key: str, s: float, name: str, args, seed: int) -> str:
    return f"{wl}|{key}|{_label(s)}|{name}|{args.eval}|{seed}|{args.thresholds}"


def _over_seeds(cache: dict, wl: str, key: str, s: float, name: str, args) -> dict | None:
    """The run's figures averaged over --seeds (None if any seed is missing), with the lowest and
    highest accuracy over the chips."""
    runs = [cache.get(_key(wl, key, s, name, args, seed)) for seed in args.seeds]
    if not all(runs):
        return None
    acc = [r["accuracy"] for r in runs]
    mean = {k: float(np.mean([r[k] for r in runs])) for k in ("accuracy", "ops_per_conversion", "r1_share")}
    return {**mean, "lo": min(acc), "hi": max(acc)}


def _acc(r: dict | None, several: bool) -> str:
    if not r:
        return "-"
    return f"{r['accuracy']:.1%}" + (f" ({100 * r['lo']:.1f}-{100 * r['hi']:.1f})" if several else "")


def table(cache: dict, args) -> str:
    cols = ["uniform8", "trq"] + (["trq_noisy_cal"] if args.noisy_calib else [])
    head = ["workload", "sigma of", "sigma", "uniform 8-bit acc.", "TRQ acc.", "TRQ ops/conv.", "TRQ R1 share"]
    if args.noisy_calib:
        head[5:5] = ["TRQ cal. under noise acc.", "its ops/conv."]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for short in args.only:
        wl = WORKLOADS[short]
        for key in KEYS:
            for s in args.sigmas:
                get = {c: _over_seeds(cache, wl, key, s, c, args) for c in cols}
                accs = [_acc(get[c], len(args.seeds) > 1) for c in cols]
                t = get["trq"] or {"ops_per_conversion": float("nan"), "r1_share": float("nan")}
                if args.noisy_calib:
                    nc = get["trq_noisy_cal"] or (get["trq"] if s == 0 else None)
                    accs[2] = _acc(nc, len(args.seeds) > 1)
                    accs.append(f"{nc['ops_per_conversion']:.2f}" if nc else "-")
                row = [wl, key.split(".")[1], _label(s), *accs,
                       f"{t['ops_per_conversion']:.2f}", f"{t['r1_share']:.1%}"]
                lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def figure(cache: dict, args) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(args.only), len(KEYS), figsize=(9, 3.4 * len(args.only)), squeeze=False)
    names = {"uniform8": "uniform 8-bit", "trq": "TRQ (calibrated ideal)", "trq_noisy_cal": "TRQ (calibrated noisy)"}
    for i, short in enumerate(args.only):
        wl = WORKLOADS[short]
        for j, key in enumerate(KEYS):
            ax = axes[i][j]
            for c, label in names.items():
                pts = [(s, _over_seeds(cache, wl, key, s, c, args)) for s in args.sigmas]
                pts = [(s, p["accuracy"]) for s, p in pts if p]
                if pts:
                    ax.plot(*zip(*pts, strict=True), marker="o", label=label)
            ax.set_title(f"{wl}: {key}")
            ax.set_xlabel(key.split(".")[1])
            ax.set_ylabel("accuracy")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    out = Path(args.work) / "nonideal.png"
    fig.savefig(out, dpi=120)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default=str(ROOT / "runs" / "nonideal"))
    p.add_argument("--eval", type=int, default=300, help="eval samples of every run and calibration")
    p.add_argument("--seeds", default="0", help="comma list of seeds (one programmed chip each)")
    p.add_argument("--sigmas", default="0,0.02,0.05,0.1,0.2")
    p.add_argument("--only", default="lenet5,resnet20", help="comma list of lenet5, resnet20")
    p.add_argument("--thresholds", choices=("grid", "nominal"), default="grid",
                   help="adc.thresholds of every noisy run and noisy calibration")
    p.add_argument("--noisy-calib", action="store_true", help="also calibrate TRQ on each noisy chip")
    args = p.parse_args()
    try:
        args.sigmas = [float(v) for v in args.sigmas.split(",")]
    except ValueError:
        p.error(f"--sigmas: expected comma-separated numbers, got {args.sigmas!r}")
    try:
        args.seeds = [int(v) for v in args.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds: expected comma-separated whole numbers, got {args.seeds!r}")
    args.only = [s.strip() for s in args.only.split(",")]
    bad = [s for s in args.only if s not in WORKLOADS]
    if bad:
        p.error(f"--only: unknown {', '.join(bad)} (choose from {', '.join(WORKLOADS)})")
    cache = study(args)
    print(table(cache, args))
    print(f"\nfigure: {figure(cache, args)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
