"""The tables of docs/sweeps.md from a finished run of a shipped sweep.

    isaacsim sweep arch_configs/sweeps/adc_design_space.yaml
    python docs/scripts/sweep_tables.py [runs/sweeps/adc_design_space]
    isaacsim sweep arch_configs/sweeps/precision.yaml
    python docs/scripts/sweep_tables.py runs/sweeps/precision --precision

Prints two Markdown tables: every ADC design at 128x128 and 64x64 crossbars with 8 ADCs per
PE, and the ADC count per PE against latency, power and area at 128x128. With --precision, one
table of the precision sweep: every workload (its layers at their own bits) and ADC width.
"""

from __future__ import annotations

import sys

import pandas as pd

from isaacsim.sweep.store import read_table


def adc_label(r: pd.Series) -> str:
    if r["adc.mode"] == "trq":
        return f"TRQ, n_r1 = {int(r['adc.n_r1'])}"
    return f"uniform {int(r['adc.bits'])} b"


def main(root: str) -> None:
    d = read_table(root)
    d = d[d["status"] == "ok"].copy()
    d["adc"] = d.apply(adc_label, axis=1)
    print("| workload | crossbar | ADC | accuracy | A/D ops per conversion | ADC energy (nJ) | ADC share "
          "| energy (uJ) |")
    print("|---|---|---|---|---|---|---|---|")
    for xb in (128, 64):
        for _, r in d[(d["crossbar.rows"] == xb) & (d["pe.adcs"] == 8)].iterrows():
            print(f"| {r['workload']} | {xb}x{xb} | {r['adc']} | {r['accuracy']:.2%} | {r['ops_per_conversion']:.3f} | "
                  f"{r['adc_energy_j'] * 1e9:.1f} | {r['adc_share']:.1%} | {r['energy_j'] * 1e6:.3f} |")
    print()
    print("| workload | ADC | ADCs per PE | latency (cycles) | power (mW) | chip area (mm2) "
          "| area of the used tiles (mm2) |")
    print("|---|---|---|---|---|---|---|")
    sel = d[(d["crossbar.rows"] == 128) & d["adc"].isin(["uniform 8 b", "TRQ, n_r1 = 4"])]
    for _, r in sel.sort_values(["workload", "adc", "pe.adcs"], ascending=[True, False, True]).iterrows():
        print(f"| {r['workload']} | {r['adc']} | {int(r['pe.adcs'])} | {int(r['latency_cycles']):,} | "
              f"{r['power_w'] * 1e3:.2f} | {r['area_mm2']:.1f} | {r['area_used_mm2']:.2f} |")


def precision(root: str) -> None:
    d = read_table(root)
    d = d[d["status"] == "ok"]
    print("| workload | ADC | accuracy | conversions / inference | A/D ops / inference | ADC energy (nJ) "
          "| energy (uJ) | latency (cycles) |")
    print("|---|---|---|---|---|---|---|---|")
    for _, r in d.iterrows():
        n = int(r["samples"])
        print(f"| {r['workload']} | uniform {int(r['adc.bits'])} b | {r['accuracy']:.1%} | "
              f"{int(r['conversions']) // n:,} | {int(r['ad_ops']) // n:,} | {r['adc_energy_j'] * 1e9:.1f} | "
              f"{r['energy_j'] * 1e6:.3f} | {int(r['latency_cycles']):,} |")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--precision"]
    if "--precision" in sys.argv[1:]:
        precision(args[0] if args else "runs/sweeps/precision")
    else:
        main(args[0] if args else "runs/sweeps/adc_design_space")
