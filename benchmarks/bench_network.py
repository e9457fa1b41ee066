"""Whole-network throughput: one ResNet-18 (224x224) zoo inference through `isaacsim.simulate`.

Runs the full functional path without the timing model (im2col, bit-serial crossbar datapath, TRQ SAR ADC of
arch_configs/trq.yaml, S+A, requantisation, pooling, residual adds) on one synthetic input and
reports the wall time of the simulated executor, BL samples/s (ADC conversions / s), and peak
RSS. Numba compilation is excluded by a warm-up run on LeNet-5 (the kernel cache makes later
processes start warm as well); the cold first-call time is printed for the record.

Ceiling: a bare AND+popcount kernel (numba; per input vector, cycle, row partition and column, the
popcount of the packed input and cell words summed over words and bit-planes: no ADC, no S+A, no
statistics) run over every layer's packed operands in the same process on the same threads. The
network-level rate of `simulate` over the bare kernel's rate is printed as a ratio: how much of
the machine's AND+popcount rate the whole run keeps after im2col, packing, conversion, S+A,
statistics and Python between layers.

Baseline: the plain numpy bit-plane datapath of benchmarks/bench_datapath.py, run in the same
process on a subset of ResNet-18's layers with the exact operands the network feeds them
(captured through the reference executor's pluggable matmul). Both must give identical outputs;
the ratio is printed per layer and over the subset.

Targets: one inference in <= 10 s on the 2-core CI machine, peak RSS <= 2 GB.

--smoke runs the same steps on the LeNet-5 zoo network instead (two baseline layers; a few seconds).

Run: python benchmarks/bench_network.py [--arch trq] [--layers 3] [--repeat 3] [--smoke]
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
from isaacsim.kernels import threads
from isaacsim.kernels.fused import fused_layer
from isaacsim.kernels.popcount import popcount64
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


@numba.njit(nogil=True)
def bare_chunk(xw, ww, lo, hi):
    """Sum over vectors lo .. hi - 1, cycles, row partitions and columns of popcount(x & w) over
    words, DAC bits and cell bits (the samples' raw bit counts, unshifted): AND+popcount only, in
    the fused kernel's loop order (its two-word path where it has one)."""
    n_cyc, n_parts, n_dac, n_words = xw.shape[1:]
    cell_bits, n_cols = ww.shape[1], ww.shape[3]
    total = 0
    for n in range(lo, hi):
        for p in range(n_parts):
            for c in range(n_cyc):
                if n_dac == 1 and cell_bits == 1 and n_words == 2:
                    x0 = xw[n, c, p, 0, 0]
                    x1 = xw[n, c, p, 0, 1]
                    w0 = ww[p, 0, 0]
                    w1 = ww[p, 0, 1]
                    for col in range(n_cols):
                        total += popcount64(x0 & w0[col]) + popcount64(x1 & w1[col])
                    continue
                for a in range(n_dac):
                    for b in range(cell_bits):
                        for wd in range(n_words):
                            xv = xw[n, c, p, a, wd]
                            wrow = ww[p, b, wd]
                            for col in range(n_cols):
                                total += popcount64(xv & wrow[col])
    return total


def ceilings(wl, arch):
    """(bare kernel, fused layer kernel alone, their samples): two callables that run every layer's
    packed operands on the kernels' threads. The operands are captured through the reference
    executor (the network's shapes; neither kernel's cost depends on the values) and packed here,
    not in the timed calls."""
    layers = layers_of(wl)
    ops = capture_operands(wl, wl.eval.x[:1], {ly.name for ly in layers})
    regs = ADCRegisters.of(arch.adc)
    packed, samples = [], 0
    for x2d, w2d in ops.values():
        geo = MatrixGeometry.of(w2d.shape[0], w2d.shape[1], arch)
        _, msb, units, aops = sar_table(geo.max_sample, *regs.kernel_args())
        xw, shift, sign = slicing.pack_inputs(x2d, geo)
        packed.append((xw, slicing.pack_weights(w2d, geo), (units, aops, msb, np.zeros(x2d.shape[0], np.int64), 1),
                       (shift, sign, geo.cell_bits, geo.n_slices, geo.polarities, arch.datapath.psum_bits)))
        samples += geo.conversions(x2d.shape[0])
    n_t = numba.get_num_threads()

    def bare():
        total = np.zeros(n_t, np.int64)
        for xw, ww, _, _ in packed:
            def chunk(t, lo, hi, xw=xw, ww=ww):
                total[t] += bare_chunk(xw, ww, lo, hi)
            threads.run_chunks(chunk, threads.split(xw.shape[0], n_t, xw.shape[1] * xw.shape[2] * ww.shape[3]), n_t)
        return int(total.sum())

    def kernel():
        return [fused_layer(xw, ww, *lut, *geo_args, n_t)[1].sum() for xw, ww, lut, geo_args in packed]

    bare()  # compile
    return bare, kernel, samples


def interleaved(arch, wl, bare, kernel, repeat: int):
    """(best simulate Result by datapath wall time, best bare s, best kernel-alone s): the three
    alternate, so a busy machine slows each alike; the best of `repeat` rounds is kept."""
    best, t_bare, t_kern = None, float("inf"), float("inf")
    for _ in range(repeat):
        res = isaacsim.simulate(arch, wl, samples=1, timing=False)
        if best is None or res.wall_s < best.wall_s:
            best = res
        t = time.perf_counter()
        bare()
        t_bare = min(t_bare, time.perf_counter() - t)
        t = time.perf_counter()
        kernel()
        t_kern = min(t_kern, time.perf_counter() - t)
    return best, t_bare, t_kern


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="trq", help="arch preset or YAML (default: trq)")
    ap.add_argument("--layers", type=int, default=3, help="layers in the baseline subset (default 3)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of simulate, bare kernel and kernel alone, interleaved; the best of each is kept")
    ap.add_argument("--smoke", action="store_true",
                    help="LeNet-5 instead of ResNet-18, two baseline layers: a quick check that it runs")
    args = ap.parse_args()
    net, label = ("lenet5", "LeNet-5") if args.smoke else ("resnet18", "ResNet-18")
    if args.smoke:
        args.layers, args.repeat = 2, 1

    arch = isaacsim.load_arch(args.arch)
    t = time.perf_counter()
    warm = isaacsim.simulate(arch, make("lenet5", samples=1), samples=1, timing=False)
    t_cold = time.perf_counter() - t

    t = time.perf_counter()
    wl = make(net, samples=1)
    t_make = time.perf_counter() - t
    rss_before = rss_mb()

    bare, kernel, n_s = ceilings(wl, arch)
    best, t_bare, t_kern = interleaved(arch, wl, bare, kernel, max(1, args.repeat))
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

    assert n_s == conv
    print(f"bare AND+popcount      : {t_bare:8.2f} s  {n_s / t_bare:.3e} samples/s  (every layer's packed operands, "
          f"same threads)")
    print(f"fused kernel alone     : {t_kern:8.2f} s  {n_s / t_kern:.3e} samples/s  (same operands, packed beforehand)")
    print(f"network / bare         : {t_bare / best.wall_s:8.2f}  (simulate's BL samples/s over the bare kernel's)")
    print(f"network / kernel alone : {t_kern / best.wall_s:8.2f}  (the share of the run spent in the layer kernel)")

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
