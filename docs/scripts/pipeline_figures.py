"""Reproduce the pipeline figures of docs/timing.md: cycles, power against the peak, every
resource's utilisation and the clock verdict of the bandwidth-true pipeline.

    python docs/scripts/pipeline_figures.py            # all runs, about 45 s
    python docs/scripts/pipeline_figures.py --only fill  # the filling layer only (also: resnet18, lenet5)

Runs (`isaacsim.simulate`):

- fill: the filling layer (`isaacsim.mapping.probe.filling_layer`, a 1x1 conv that takes every
  crossbar of the chip), timing-only, on `isaac` with its preset's offset weights and column flip
  and, for comparison, differential weights, and on `trq_baseline` with its preset's differential
  weights and, for comparison, offset weights (`datapath.weight_encoding`, `datapath.column_flip`);
- resnet18: ResNet-18 (`isaacsim.workload.zoo.make("resnet18")`), timing-only, on `isaac` and
  `trq_baseline` with the same two encodings each;
- lenet5: LeNet-5 (`workloads/lenet5_mnist5k`), a functional run on 2 samples, on `isaac`,
  `trq_baseline` and `trq`, each with its preset's encoding.

Every row names the weight encoding it ran with; "(preset)" marks the arch's own.

Per run it prints the crossbars used, the latency in cycles, the chip's power over the latency
against its peak (`isaacsim.energy.peak.peak_summary(arch).chip_power_w`), each resource's
utilisation (`Result.timing.utilisation`, the mean over the used instances, and
`.utilisation_max`, the busiest instance) and the clock verdict (`timing.clock_check["line"]`).
Timing-only runs price the worst-case A/D operations (docs/timing.md, "Timing-only runs").
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import isaacsim
from isaacsim.energy.peak import peak_summary
from isaacsim.errors import ConfigWarning
from isaacsim.mapping.probe import filling_layer
from isaacsim.workload import zoo

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "workloads" / "lenet5_mnist5k"
ARCHS = ("isaac", "trq_baseline")
# Weight encodings per arch, the preset's first: (label, overrides).
OFFSET_FLIP = {"datapath.weight_encoding": "offset", "datapath.column_flip": True}
DIFFERENTIAL = {"datapath.weight_encoding": "differential", "datapath.column_flip": False}
OFFSET = {"datapath.weight_encoding": "offset", "datapath.column_flip": False}
ENCODINGS = {
    "isaac": (("offset + column flip", OFFSET_FLIP), ("differential", DIFFERENTIAL)),
    "trq_baseline": (("differential", DIFFERENTIAL), ("offset", OFFSET)),
}


def log(msg: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def crossbars_used(res) -> int:
    return res.summary()["mapping"]["crossbars_used"]


def encoding(arch) -> str:
    d = arch.datapath
    return d.weight_encoding + (" + column flip" if d.column_flip else "")


def arch_encodings():
    """(name, encoding label, arch) for each arch and encoding, the preset's first (checked)."""
    for name in ARCHS:
        preset = encoding(isaacsim.load_arch(name))
        for i, (enc, over) in enumerate(ENCODINGS[name]):
            arch = isaacsim.load_arch(name, over)
            assert encoding(arch) == enc and (i > 0) == (enc != preset), (name, enc, preset)
            yield name, enc + (" (preset)" if i == 0 else ""), arch


def one_run(label: str, arch, wl, **kw) -> dict:
    log(f"{label} ...")
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = isaacsim.simulate(arch, wl, **kw)
    tm = res.timing
    peak = peak_summary(res.arch).chip_power_w
    power = res.energy.power_w
    return {"label": label, "crossbars": crossbars_used(res), "cycles": tm.latency_cycles,
            "clock_mhz": float(tm.clock.mhz), "power_w": power, "peak_w": peak,
            "util": dict(tm.utilisation), "util_max": dict(tm.utilisation_max),
            "verdict": tm.clock_check.get("line", ""), "wall_s": time.perf_counter() - t}


def runs(only: str | None) -> list[dict]:
    out = []
    if only in (None, "fill"):
        for name, enc, arch in arch_encodings():
            wl, _ = filling_layer(arch)
            out.append(one_run(f"filling layer, {name}, {enc}", arch, wl, timing_only=True))
    if only in (None, "resnet18"):
        wl = zoo.make("resnet18")
        for name, enc, arch in arch_encodings():
            out.append(one_run(f"ResNet-18, {name}, {enc}", arch, wl, timing_only=True))
    if only in (None, "lenet5"):
        for name in (*ARCHS, "trq"):
            arch = isaacsim.load_arch(name)
            out.append(one_run(f"LeNet-5, {name}, {encoding(arch)} (preset)", arch, str(LENET), samples=2))
    return out


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def watts(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g} W" if x >= 1 else f"{1e3 * x:.3g} mW"


def print_tables(rows: list[dict]) -> None:
    print("| run | crossbars | latency (cycles) | power | peak | power / peak |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        share = pct(r["power_w"] / r["peak_w"]) if r["power_w"] is not None and r["peak_w"] else "-"
        print(f"| {r['label']} | {r['crossbars']:,} | {r['cycles']:,} | {watts(r['power_w'])} | "
              f"{watts(r['peak_w'])} | {share} |")
    print()
    names = list(dict.fromkeys(k for r in rows for k in r["util"]))
    print("Utilisation, mean over the used instances / busiest instance:")
    print()
    print("| resource | " + " | ".join(r["label"] for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for k in names:
        cells = [f"{pct(r['util'][k])} / {pct(r['util_max'].get(k, 0.0))}" if k in r["util"] else "-" for r in rows]
        print(f"| {k} | " + " | ".join(cells) + " |")
    print()
    print("Clock verdict:")
    print()
    for r in rows:
        print(f"- {r['label']}: {r['verdict']}")
    print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("fill", "resnet18", "lenet5"), help="one group of runs")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", ConfigWarning)  # isaac's 8-bit ADC below lossless: as configured
    rows = runs(args.only)
    groups = {}
    for r in rows:
        groups.setdefault(r["label"].split(",")[0], []).append(r)
    for title, rs in groups.items():
        print(f"### {title}")
        print()
        print_tables(rs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
