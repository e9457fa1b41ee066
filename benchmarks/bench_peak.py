"""Peak efficiency: GOPs/s/mm2 and GOPs/W of a layer that fills every crossbar of the chip
(`isaacsim.report.efficiency.peak_efficiency`), next to ISAAC's published figures.

For each arch: the filling layer (`isaacsim.mapping.probe.filling_layer`) is timed without a
functional run; throughput is its operations (a multiply-accumulate = 2 operations, as ISAAC
counts) at the pipelined rate (clock / the layer's occupancy); area and peak power are
`describe`'s. Printed: each figure, its ratio to ISAAC-CE's (Shafiee et al., "ISAAC: A
Convolutional Neural Network Accelerator with In-Situ Analog Arithmetic in Crossbars", ISCA
2016, Table IV, corrected version: 478.95 GOPs/s/mm2, 627.5 GOPs/W), and the wall time.

Run: python benchmarks/bench_peak.py [ARCH ...]   (default: isaac, isaac with twin-crossbar
weights, trq_baseline)
     python benchmarks/bench_peak.py --smoke   (isaac with twin-crossbar weights only: a quick check)
"""

from __future__ import annotations

import sys
import time
import warnings

import isaacsim
from isaacsim.report.efficiency import ISAAC_PUBLISHED, peak_efficiency

DEFAULT = [("isaac", {}), ("isaac", {"datapath.weight_encoding": "differential", "datapath.column_flip": False}),
           ("trq_baseline", {})]


def main(argv: list[str]) -> int:
    smoke = "--smoke" in argv
    argv = [a for a in argv if a != "--smoke"]
    cases = [(a, {}) for a in argv] or (DEFAULT[1:2] if smoke else DEFAULT)
    pub_a, pub_w = ISAAC_PUBLISHED["gops_per_mm2"], ISAAC_PUBLISHED["gops_per_w"]
    print("| arch | weights | crossbars | TOPs/s | area mm2 | peak W | GOPs/s/mm2 | / ISAAC | GOPs/W | / ISAAC "
          "| GOPs/W at run power | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, over in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arch = isaacsim.load_arch(name, over or None)
        t0 = time.perf_counter()
        d = peak_efficiency(arch)
        wall = time.perf_counter() - t0
        enc = d["weight_encoding"] + (" + column flip" if d["column_flip"] else "")
        print(f"| {name} | {enc} | {d['crossbars_used']:,} | {d['gops'] / 1e3:.2f} | {d['area_mm2']:.1f} "
              f"| {d['peak_power_w']:.1f} | {d['gops_per_mm2']:.1f} | {d['gops_per_mm2'] / pub_a:.3f} "
              f"| {d['gops_per_w']:.1f} | {d['gops_per_w'] / pub_w:.3f} | {d['gops_per_w_run']:.1f} | {wall:.1f} |")
    print(f"ISAAC-CE published: {pub_a} GOPs/s/mm2, {pub_w} GOPs/W (ISCA 2016, Table IV, corrected version)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
