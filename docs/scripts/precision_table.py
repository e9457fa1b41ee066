"""AB in hardware: LeNet-5 on MNIST-5k at W8A8, W4A4, W3A3 and W2A2, each with a uniform 8-bit ADC and
with calibrated TRQ registers: accuracy, conversions, A/D operations, ADC and total energy, latency.

The low-bit workloads are the shipped AB ones (workloads/README.md: `isaacsim train lenet5 --dataset
mnist5k --method ab --wbits N --abits N --epochs 30`); every layer runs at its own bits. For each
workload:

1. `isaacsim run trq_baseline WL --out WORK/<wl>_uniform8b`: the uniform 8-bit SAR ADC;
2. `isaacsim calibrate trq WL --out WORK/<wl>_registers.yaml` (defaults: max drop 0.005, 32 calib
   images, the whole eval set, refinement), then `isaacsim run trq WL --registers ... --out
   WORK/<wl>_trq`.

Every run scores the 1,000 MNIST-5k test images. Results are cached as each run's summary.json
under --work (default runs/precision), and calibrations resume from their state files, so a re-run
only prints. It prints a markdown table (the base of the ratios: W8A8 with the uniform 8-bit ADC)
and writes WORK/precision.png (matplotlib; not committed).

    python docs/scripts/precision_table.py [--work runs/precision] [--only w8a8,w4a4]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = {
    # key: (workload folder, label)
    "w8a8": ("lenet5_mnist5k", "W8A8 (PTQ)"),
    "w4a4": ("lenet5_mnist5k_ab_w4a4", "W4A4 (AB)"),
    "w3a3": ("lenet5_mnist5k_ab_w3a3", "W3A3 (AB)"),
    "w2a2": ("lenet5_mnist5k_ab_w2a2", "W2A2 (AB)"),
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _run(argv: list[str], out: Path) -> dict:
    """`isaacsim run ARGV --out OUT` (skipped when OUT/summary.json exists); the summary."""
    from isaacsim.cli import main

    if not (out / "summary.json").exists():
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the run's own text; the summary is what we keep
            rc = main(["run", *argv, "--out", str(out)])
        if rc != 0:
            raise SystemExit(f"isaacsim run {' '.join(argv)} failed ({rc})")
        log(f"  {out.name}: {time.perf_counter() - t0:.0f} s")
    return json.loads((out / "summary.json").read_text())


def _calibrated(key: str, wl: Path, work: Path) -> Path:
    """Per-layer TRQ registers of `isaacsim calibrate trq WL` with its defaults (cached)."""
    from isaacsim.calibrate import calibrate, write_registers

    regs = work / f"{key}_registers.yaml"
    if not regs.exists():
        t0 = time.perf_counter()
        cal = calibrate("trq", wl, state=work / f"{key}_registers.state.json", progress=False)
        write_registers(regs, cal)
        log(f"  {key}: calibrated in {time.perf_counter() - t0:.0f} s, n_r2 {cal.n_r2}, "
            f"ops/conversion {cal.ops_after:.3f}")
    return regs


def row(key: str, adc: str, s: dict) -> dict:
    a = s["adc"]
    regs = [ly["adc"] for ly in s["layers"]]
    if adc == "trq":
        r2 = sorted({int(r["n_r2"] if r["mode"] == "trq" else r["bits"]) for r in regs})
        n_trq = sum(r["mode"] == "trq" for r in regs)
        span = f"{r2[0]}" + (f"-{r2[-1]}" if len(r2) > 1 else "")
        adc_label = f"calibrated TRQ ({n_trq} TRQ, {len(regs) - n_trq} uniform layers; {span} bits)"
    else:
        adc_label = "uniform 8-bit"
    hidden = [ly for ly in s["timing"]["layers"] if ly["name"] != s["timing"]["layers"][0]["name"]]
    return {"key": key, "label": WORKLOADS[key][1], "adc": adc_label, "kind": adc, "accuracy": s["accuracy"],
            "conversions": a["conversions"] / s["samples"], "ad_ops": a["ad_ops"] / s["samples"],
            "adc_energy_j": a["energy_j"], "energy_j": s["energy_j"], "latency_cycles": s["latency_cycles"],
            "latency_s": s["latency_s"], "hidden_bound_cycles": sum(ly["bound_cycles"] for ly in hidden),
            "bits": " ".join(f"{ly['weight_bits']}/{ly['input_bits']}" for ly in s["layers"])}


def table(rows: list[dict]) -> str:
    base = next((r for r in rows if r["key"] == "w8a8" and r["kind"] == "uniform"), rows[0])
    out = ["| model | layer bits (W/A) | ADC | accuracy | conversions | A/D ops | ADC energy | energy | "
           "latency (cycles) | bound of layers 2-5 (cycles) | conversions vs base | energy vs base |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['label']} | {r['bits']} | {r['adc']} | {r['accuracy']:.2%} | {r['conversions']:,.0f} | "
                   f"{r['ad_ops']:,.0f} | {r['adc_energy_j'] * 1e6:.3f} uJ | {r['energy_j'] * 1e6:.3f} uJ | "
                   f"{r['latency_cycles']:,} | {r['hidden_bound_cycles']:,} | "
                   f"{r['conversions'] / base['conversions']:.3f} | {r['energy_j'] / base['energy_j']:.2f}x |")
    return "\n".join(out)


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    labels = [f"{r['label'].split()[0]}\n{'TRQ' if r['kind'] == 'trq' else 'uniform 8b'}" for r in rows]
    x = range(len(rows))
    adc = [r["adc_energy_j"] * 1e6 for r in rows]
    rest = [(r["energy_j"] - r["adc_energy_j"]) * 1e6 for r in rows]
    ax1.bar(x, adc, color="#d62728", label="ADC")
    ax1.bar(x, rest, bottom=adc, color="#7f7f7f", label="everything else")
    ax1.set_xticks(list(x), labels, fontsize=8)
    ax1.set_ylabel("energy per inference (uJ)")
    ax1.set_title("LeNet-5, MNIST-5k: energy per inference")
    ax1.legend()
    for adc_kind, marker in (("uniform", "o"), ("trq", "s")):
        sel = [r for r in rows if r["kind"] == adc_kind]
        ax2.plot([r["energy_j"] * 1e6 for r in sel], [100 * r["accuracy"] for r in sel], marker=marker,
                 label="uniform 8-bit ADC" if adc_kind == "uniform" else "calibrated TRQ")
        for r in sel:
            ax2.annotate(r["label"].split()[0], (r["energy_j"] * 1e6, 100 * r["accuracy"]), fontsize=8,
                         xytext=(4, 4), textcoords="offset points")
    ax2.set_xlabel("energy per inference (uJ)")
    ax2.set_ylabel("accuracy on 1,000 test images (%)")
    ax2.set_title("accuracy against energy")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="runs/precision", help="folder for runs, registers and the figure")
    ap.add_argument("--only", help="comma-separated workloads (default: " + ",".join(WORKLOADS) + ")")
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    rows = []
    for key in (args.only.split(",") if args.only else WORKLOADS):
        wl = ROOT / "workloads" / WORKLOADS[key][0]
        log(f"{key}: {wl.name}")
        rows.append(row(key, "uniform", _run(["trq_baseline", str(wl)], work / f"{key}_uniform8b")))
        regs = _calibrated(key, wl, work)
        rows.append(row(key, "trq", _run(["trq", str(wl), "--registers", str(regs)], work / f"{key}_trq")))
    (work / "precision.json").write_text(json.dumps(rows, indent=1) + "\n")
    figure(rows, work / "precision.png")
    print(table(rows))
    print(f"\nfigure: {work / 'precision.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
