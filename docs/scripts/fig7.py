"""The TRQ paper's Fig. 7: power breakdown of uniform against TRQ ADCs on its four networks.

For each network (LeNet-5 on MNIST-5k, and the zoo's ResNet-20, ResNet-18 and SqueezeNet 1.1):

1. calibrate TRQ registers on `trq` with R2 capped at 4 bits (`isaacsim calibrate trq WL
   --max-n-r2 4`: the TRQ paper's "upper bound of N2 is set as 4bit"), allowed drop --max-drop;
2. find the narrowest uniform ADC (`trq_baseline --set adc.bits=B`, B = 8, 7, ... until the first
   B whose metric drops by more than --max-drop from the 8-bit run's), on the same eval samples;
3. run the 8-bit uniform baseline, the narrowest uniform ADC and the calibrated TRQ with
   `isaacsim run ... --out FOLDER/<network>_<adc>`;
4. `isaacsim report FOLDER`: FOLDER/report/power_breakdown.png/.svg and power_breakdown.csv.

It prints a markdown table (network, ADC, bits, accuracy, A/D ops per conversion, energy per
inference, power, ADC share). The metric is the accuracy against the labels for LeNet-5 and, for
the zoo models (random weights, no labels), the top-1 agreement with the ideal-ADC run.

Sample counts are kept small so the script runs in about 6 minutes on a 2-core machine:
LeNet-5 calibrates on 32 calib images and evaluates 500 eval images; ResNet-20 its 16 eval
images; ResNet-18 and SqueezeNet 1.1 their 2 eval images (4 calib images), without per-layer
refinement. On 2 images an agreement is 0, 0.5 or 1, so for those two the tolerance means "the
same top-1 on both images".

    python docs/scripts/fig7.py --out runs/fig7 [--max-drop 0.01] [--only lenet5,resnet20]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

NETWORKS = {
    # name: (workload, eval samples, calib samples, refine passes (0: none), label)
    "lenet5": ("workloads/lenet5_mnist5k", 500, 32, 1, "LeNet-5 (MNIST-5k)"),
    "resnet20": ("zoo:resnet20", 16, 32, 1, "ResNet-20 (zoo, CIFAR-10 shape)"),
    "resnet18": ("zoo:resnet18", 2, 4, 0, "ResNet-18 (zoo, ImageNet shape)"),
    "squeezenet1_1": ("zoo:squeezenet1_1", 2, 4, 0, "SqueezeNet 1.1 (zoo, ImageNet shape)"),
}
N_R2_CAP = 4
ROOT = Path(__file__).resolve().parents[2]


def _metric(res) -> float:
    s = res.summary()
    return float(s["accuracy"] if s.get("accuracy") is not None else s["agreement"])


def narrowest_uniform(wl, samples: int, max_drop: float, log) -> tuple[int, dict[int, float]]:
    """The fewest bits B (from 8 down) whose uniform ADC stays within max_drop of the 8-bit one."""
    from isaacsim import simulate
    from isaacsim.config import load_arch

    scores: dict[int, float] = {}
    best = 8
    for b in range(8, 0, -1):
        arch = load_arch("trq_baseline", overrides={"adc.bits": b})
        scores[b] = _metric(simulate(arch, wl, samples=samples, timing=False))
        log(f"  uniform {b}b: metric {scores[b]:.4f}")
        if scores[8] - scores[b] > max_drop + 1e-12:
            break
        best = b
    return best, scores


def run_network(name: str, out: Path, max_drop: float, log) -> list[dict]:
    from isaacsim.calibrate import calibrate, write_registers
    from isaacsim.cli import main
    from isaacsim.workload.resolve import resolve_workload

    ref, n_eval, n_calib, passes, _ = NETWORKS[name]
    ref = str(ROOT / ref) if not ref.startswith("zoo:") else ref
    wl = resolve_workload(ref)
    t0 = time.perf_counter()
    regs = out / f"{name}_trq_registers.yaml"
    cal = calibrate("trq", wl, max_drop=max_drop, calib=n_calib, eval_samples=n_eval,
                    state=out / f"{name}_trq_registers.state.json", progress=None, max_n_r2=N_R2_CAP,
                    refine=passes > 0, refine_passes=passes or None)
    write_registers(regs, cal)
    log(f"{name}: calibrated in {time.perf_counter() - t0:.0f} s: n_r2 {cal.n_r2}, metric "
        f"{cal.baseline_accuracy:.4f} -> {cal.accuracy:.4f}, ops/conversion {cal.ops_after:.3f}")
    bits, _ = narrowest_uniform(wl, n_eval, max_drop, log)
    log(f"{name}: narrowest uniform ADC within {max_drop:g}: {bits} bits")
    runs = [("uniform8b", ["trq_baseline"]), ("trq", ["trq", "--registers", str(regs)])]
    if bits < 8:
        runs.insert(1, (f"uniform{bits}b", ["trq_baseline", "--set", f"adc.bits={bits}"]))
    rows = []
    for tag, argv in runs:
        d = out / f"{name}_{tag}"
        rc = main(["run", argv[0], ref, *argv[1:], "--samples", str(n_eval), "--out", str(d)])
        if rc != 0:
            raise SystemExit(f"isaacsim run for {d} failed ({rc})")
        s = json.loads((d / "summary.json").read_text())
        rows.append(_row(name, tag, s))
    log(f"{name}: done in {time.perf_counter() - t0:.0f} s")
    return rows


def _calibrated(s: dict) -> tuple[str, str]:
    """(ADC, bits) of a calibrated run from its layers' registers: R2's bits (a uniform layer's bits)."""
    adcs = [ly["adc"] for ly in s["layers"]]
    widths = sorted({int(a["n_r2"] if a["mode"] == "trq" else a["bits"]) for a in adcs})
    if all(a["mode"] == "uniform" for a in adcs) and widths == [8]:
        return "calibrated: lossless uniform (TRQ over budget)", "8"
    span = f"{widths[0]}" if len(widths) == 1 else f"{widths[0]}-{widths[-1]}"
    return "TRQ (calibrated)", f"R2 {span}"


def _row(name: str, tag: str, s: dict) -> dict:
    e = s["energy"]
    acc = s["accuracy"] if s.get("accuracy") is not None else s["agreement"]
    adc, bits = _calibrated(s) if tag == "trq" else (f"uniform {tag[len('uniform'):-1]}b", tag[len("uniform"):-1])
    return {"network": NETWORKS[name][4], "adc": adc, "bits": bits,
            "metric": "accuracy" if s.get("accuracy") is not None else "agreement",
            "accuracy": acc, "ops": s["adc"]["ops_per_conversion"], "energy_j": e["energy_j"],
            "power_w": e["power_w"], "adc_share": e["adc_share"], "samples": s["samples"]}


def _eng(v: float, unit: str) -> str:
    for f, p in ((1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n")):
        if abs(v) >= f:
            return f"{v / f:.4g} {p}{unit}"
    return f"{v:.3g} {unit}"


def table(rows: list[dict]) -> str:
    out = ["| network | ADC | bits | accuracy | A/D ops / conversion | energy / inference | power | ADC share |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        acc = f"{r['accuracy']:.1%}" + (" (agreement)" if r["metric"] == "agreement" else "")
        out.append(f"| {r['network']} | {r['adc']} | {r['bits']} | {acc} | {r['ops']:.3f} | "
                   f"{_eng(r['energy_j'], 'J')} | {_eng(r['power_w'], 'W')} | {r['adc_share']:.1%} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/fig7", help="folder for the runs, registers and report")
    ap.add_argument("--max-drop", type=float, default=0.01,
                    help="allowed drop of the metric for TRQ and the narrowest uniform ADC (default 0.01)")
    ap.add_argument("--only", help="comma-separated networks (default: all four: " + ", ".join(NETWORKS) + ")")
    args = ap.parse_args(argv)
    names = list(NETWORKS) if not args.only else args.only.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    rows: list[dict] = []
    for name in names:
        rows += run_network(name, out, args.max_drop, log)
        (out / "fig7.json").write_text(json.dumps(rows, indent=1) + "\n")
    from isaacsim.cli import main as cli

    cli(["report", str(out)])
    print(table(rows))
    rep = out / "report"
    print(f"\nfigure: {rep / 'power_breakdown.png'} (.svg); numbers: {rep / 'power_breakdown.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
