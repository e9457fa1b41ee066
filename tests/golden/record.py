"""Record the end-to-end goldens: one summary per preset x shipped workload.

    python tests/golden/record.py            # rewrite every tests/golden/*.json
    python tests/golden/record.py --check    # compare without writing (what tests/test_golden.py does)

The numbers are regression goldens: they hold the simulator to the behaviour it had when they
were recorded (the commit is stored in each file), so that a refactoring that should not change
results is seen not to. Change them only with a model change that is meant to move them, and
say which in the commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PRESETS = ("isaac", "trq_baseline", "trq")
WORKLOADS = ("lenet5_mnist5k", "lenet5_mnist5k_ab_w4a4", "lenet5_mnist5k_ab_w3a3", "lenet5_mnist5k_ab_w2a2",
             "lenet5_digits", "lenet5_digits_ab_w4a4", "resnet20_digits")
SAMPLES = 32
TIMING_ONLY = ("lenet5_mnist5k", "resnet20_digits")
"""Workloads also recorded as timing-only runs (no sample; the registers' worst-case A/D operations) on every preset."""


def golden_of(summary: dict) -> dict:
    """The recorded part of a `Result.summary()`: accuracy, counts, cycles, energy, power."""
    adc = summary["adc"]
    by_component: dict[str, float] = {}
    for row in summary["breakdown"]:
        by_component[row["component"]] = by_component.get(row["component"], 0.0) + row["energy_j"]
    return {
        "samples": summary["samples"],
        "accuracy": summary["accuracy"],
        "reference_accuracy": summary["reference_accuracy"],
        "agreement": summary["agreement"],
        "conversions": adc["conversions"],
        "ad_ops": adc["ad_ops"],
        "r1_conversions": adc["r1_conversions"],
        "overflows": adc["overflows"],
        "latency_cycles": summary["latency_cycles"],
        "energy_j": summary["energy_j"],
        "power_w": summary["power_w"],
        "adc_energy_j": adc["energy_j"],
        "energy_by_component_j": dict(sorted(by_component.items())),
        "layers": {ly["name"]: {"conversions": ly["conversions"], "ad_ops": ly["ad_ops"]}
                   for ly in summary["layers"]},
    }


def run(preset: str, workload: str, timing_only: bool = False) -> dict:
    import isaacsim

    arch = isaacsim.load_arch(ROOT / "arch_configs" / f"{preset}.yaml")
    if timing_only:
        res = isaacsim.simulate(arch, ROOT / "workloads" / workload, timing_only=True)
    else:
        res = isaacsim.simulate(arch, ROOT / "workloads" / workload, samples=SAMPLES)
    return golden_of(res.summary())


def path_of(preset: str, workload: str, timing_only: bool = False) -> Path:
    return HERE / f"{preset}__{workload}{'__timing_only' if timing_only else ''}.json"


def cases() -> list[tuple[str, str, bool]]:
    """(preset, workload, timing_only) of every golden file."""
    return [(p, w, False) for p in PRESETS for w in WORKLOADS] + \
        [(p, w, True) for p in PRESETS for w in TIMING_ONLY]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    for preset, wl, tonly in cases():
        got = run(preset, wl, tonly)
        label = f"{preset} x {wl}{' (timing only)' if tonly else ''}"
        if check:
            want = json.loads(path_of(preset, wl, tonly).read_text())["summary"]
            print(f"{label}: {'same' if got == want else 'DIFFERENT'}")
            continue
        doc = {"preset": preset, "workload": wl, "samples": 0 if tonly else SAMPLES, "timing_only": tonly,
               "recorded_at_commit": commit, "summary": got}
        path_of(preset, wl, tonly).write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{label}: cycles {got['latency_cycles']}, energy {got['energy_j']:.4g} J")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
