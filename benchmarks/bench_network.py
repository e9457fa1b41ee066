"""Whole-network throughput: one ResNet-18 (224x224) zoo inference through `isaacsim.simulate`.

Runs the full functional path (im2col, bit-serial crossbar datapath, TRQ SAR ADC of
arch_configs/trq.yaml, S+A, requantisation, pooling, residual adds) on one synthetic input and
reports the wall time of the simulated executor, BL samples/s (ADC conversions / s), and peak
RSS. Numba compilation is excluded by a warm-up run on LeNet-5 (the kernel cache makes later
processes start warm as well); the cold first-call time is printed for the record.

Baseline: the plain numpy bit-plane datapath of benchmarks/bench_datapath.py, run in the same
process on a subset of ResNet-18's layers with the exact operands the network feeds them
(captured through the reference executor's pluggable matmul). Both must give identical outputs;
the ratio is printed per layer and over the subset.

Targets: one inference in <= 10 s on the 2-core CI machine, peak RSS <= 2 GB.

--smoke runs the same steps on the LeNet-5 zoo network instead (two baseline layers; a few seconds).

Run: python benchmarks/bench_network.py [--arch trq] [--layers 3] [--repeat 1] [--smoke]
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import time
from pathlib import Path

import numba
import numpy as np

import isaacsim
from isaacsim.adc.registers import ADCRegisters
from isaacsim.kernels.sar import sar_table
from isaacsim.mapping import slicing
from isaacsim.mapping.geometry import MatrixGeometry
from isaacsim.mapping.layers import layers_of
from isaacsim.workload import execute
from isaacsim.workload.zoo import make


def _bench_datapath():
    """The sibling benchmark module (benchmarks/ is not a package)."""
    path = Path(__file__).with_name("bench_datapath.py")
    spec = importlib.util.spec_from_file_location("bench_datapath", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def capture_operands(wl, x, names):
    """{layer name: (x2d, w2d)} of the first group's product of each named layer."""
    seen = {}

    def mm(name, x2d, w2d):
        if name in names and name not in seen:
            seen[name] = (x2d.copy(), w2d.copy())
        return x2d.astype(np.int64) @ w2d.astype(np.int64)

    execute(wl, x, matmul=mm)
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="trq", help="arch preset or YAML (default: trq)")
    ap.add_argument("--layers", type=int, default=3, help="layers in the baseline subset (default 3)")
    ap.add_argument("--repeat", type=int, default=1, help="timed simulate runs; the best is kept")
    ap.add_argument("--smoke", action="store_true",
                    help="LeNet-5 instead of ResNet-18, two baseline layers: a quick check that it runs")
    args = ap.parse_args()
    net, label = ("lenet5", "LeNet-5") if args.smoke else ("resnet18", "ResNet-18")
    if args.smoke:
        args.layers, args.repeat = 2, 1

    arch = isaacsim.load_arch(args.arch)
    t = time.perf_counter()
    warm = isaacsim.simulate(arch, make("lenet5", samples=1), samples=1)
    t_cold = time.perf_counter() - t

    t = time.perf_counter()
    wl = make(net, samples=1)
    t_make = time.perf_counter() - t
    rss_before = rss_mb()

    best = None
    for _ in range(max(1, args.repeat)):
        res = isaacsim.simulate(arch, wl, samples=1)
        if best is None or res.wall_s < best.wall_s:
            best = res
    s = best.summary()
    conv = s["adc"]["conversions"]
    macs = sum(ly.macs for ly in layers_of(wl))
    rss_sim = rss_mb()

    shape = "x".join(str(d) for d in wl.eval.x.shape[1:])
    print(f"{label} zoo workload, 1 x {shape}, {len(layers_of(wl))} conv/linear layers, "
          f"{macs / 1e9:.3f} GMAC, on {arch.name} ({arch.adc.mode} ADC), {numba.get_num_threads()} threads")
    print(f"zoo make               : {t_make:8.2f} s")
    print(f"warm-up (LeNet-5, cold): {t_cold:8.2f} s  (includes numba compile or cache load; "
          f"{warm.summary()['adc']['conversions']:,} samples)")
    print(f"simulated executor     : {best.wall_s:8.2f} s  {conv:,} BL samples  {conv / best.wall_s:.3e} BL samples/s")
    print(f"reference executor     : {best.reference_wall_s:8.2f} s  (exact products, for agreement)")
    print(f"ops/conversion         : {s['adc']['ops_per_conversion']:.3f}  overflows {s['adc']['overflows']}  "
          f"agreement with ideal ADC {s['agreement']}")
    print(f"peak RSS               : {rss_sim:8.0f} MB  (after zoo make: {rss_before:.0f} MB)")
    print(f"target <= 10 s         : {'met' if best.wall_s <= 10 else 'MISSED'};  "
          f"RSS <= 2048 MB: {'met' if rss_sim <= 2048 else 'MISSED'}")

    # Baseline on a subset of layers, same operands.
    bd = _bench_datapath()
    layers = layers_of(wl)
    idx = np.unique(np.linspace(0, len(layers) - 2, args.layers).round().astype(int))  # skip the fc
    names = [layers[i].name for i in idx]
    ops = capture_operands(wl, wl.eval.x[:1], set(names))
    regs = ADCRegisters.of(arch.adc)
    pb = arch.datapath.psum_bits
    tot_f = tot_n = 0.0
    tot_samples = 0
    print(f"\nbaseline subset ({len(names)} layers): fused numba kernel vs numpy bit-plane datapath")
    for name in names:
        x2d, w2d = ops[name]
        geo = MatrixGeometry.of(w2d.shape[0], w2d.shape[1], arch)
        table = sar_table(geo.max_sample, *regs.kernel_args())
        _, msb_lut, units_lut, _ = table
        ww = slicing.pack_weights(w2d, geo)
        cells = slicing.cell_values(w2d, geo).astype(np.float32)
        bd.fused(x2d[:2], ww, geo, table, pb)  # compile (or load the cache) for this shape before timing
        t_f, (of, hf, vf, _, r2f) = bd.best_time(
            lambda x2d=x2d, ww=ww, geo=geo, table=table: bd.fused(x2d, ww, geo, table, pb), 3)
        t_n, (on, hn, vn, r2n) = bd.best_time(
            lambda x2d=x2d, cells=cells, geo=geo, u=units_lut, b=msb_lut: bd.numpy_layer(x2d, cells, geo, u, b, pb), 1)
        same = (np.array_equal(of, on) and np.array_equal(hf, hn) and vf == vn
                and np.array_equal(r2f[0], r2n))
        n_s = geo.conversions(x2d.shape[0])
        tot_f, tot_n, tot_samples = tot_f + t_f, tot_n + t_n, tot_samples + n_s
        print(f"  {name:28s} N={x2d.shape[0]:6d} K={geo.k:5d} M={geo.m:4d}  fused {t_f * 1e3:8.1f} ms  "
              f"numpy {t_n * 1e3:9.1f} ms  {t_n / t_f:5.1f}x  identical={same}")
        if not same:
            raise SystemExit(f"fused and numpy outputs differ on {name}")
    print(f"  subset: {tot_samples:,} BL samples  fused {tot_samples / tot_f:.3e}/s  numpy "
          f"{tot_samples / tot_n:.3e}/s  speed-up {tot_n / tot_f:.1f}x")
    print(f"peak RSS (end)         : {rss_mb():8.0f} MB")


if __name__ == "__main__":
    main()
