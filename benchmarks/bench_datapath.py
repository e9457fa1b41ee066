"""Datapath throughput: one ResNet-18-shaped layer through the fused numba kernel vs plain numpy.

Layer: 3x3x128 -> 128 on a 28x28 map (N=784 vectors, K=1152, M=128), random unsigned 8-bit
inputs and signed 8-bit weights, TRQ ADC of arch_configs/trq.yaml. The baseline computes the
same bit-serial samples with numpy (one float32 matmul of input chunks and cell levels per row
partition and cycle, exact below 2^24), converts them with the same SAR table, runs the same
S+A with wrapping registers, and counts the range-2 conversions of every (row partition,
column), as the kernel does for the per-crossbar energy counts, in chunks of vectors. Both
must give identical outputs and statistics.
Weight slicing is done once per layer (crossbar programming) and not timed; input
slicing is timed with each. Times are the best of --repeat runs. Prints BL samples/s for both,
the ratio and peak RSS.

--smoke: the same layer shape on 16 vectors, one repeat (a few seconds; outputs still compared).

Run: python benchmarks/bench_datapath.py [--repeat 3] [--smoke]
"""

from __future__ import annotations

import argparse
import resource
import time

import numba
import numpy as np

import isaacsim
from isaacsim.adc.registers import ADCRegisters
from isaacsim.kernels.fused import fused_layer
from isaacsim.kernels.sar import sar_table
from isaacsim.mapping import slicing
from isaacsim.mapping.geometry import MatrixGeometry


def numpy_layer(x, cells, geo, units_lut, msb_lut, psum_bits, chunk=256):
    """Reference datapath in plain numpy; returns (out in base-step units, sample hist, overflows,
    R2 conversions per (row partition, column)).

    cells: float32 (K, mapped_cols) cell levels, programmed once per layer (not timed).
    """
    cyc = slicing.input_cycles(geo)
    u = x & (2**geo.input_bits - 1)
    rows, ns = geo.xbar_rows, geo.n_slices
    pmax = 2 ** (psum_bits - 1) - 1
    out = np.zeros((x.shape[0], geo.m), np.int64)
    hist = np.zeros(geo.max_sample + 1, np.int64)
    r2 = np.zeros((geo.row_parts, geo.mapped_cols), np.int64)
    ovf = 0
    slice_shift = (np.arange(ns) * geo.cell_bits)[None, None, :]
    for n0 in range(0, x.shape[0], chunk):
        un = u[n0 : n0 + chunk]
        for p in range(geo.row_parts):
            r0, r1 = p * rows, min((p + 1) * rows, geo.k)
            wp = cells[r0:r1]
            psum = np.zeros((un.shape[0], geo.mapped_cols), np.int64)
            for first, count, sign in cyc:
                chunk_vals = ((un[:, r0:r1] >> first) & (2**count - 1)).astype(np.float32)
                samp = (chunk_vals @ wp).astype(np.int64)
                hist += np.bincount(samp.ravel(), minlength=hist.size)
                r2[p] += msb_lut[samp].sum(axis=0)
                psum += sign * (units_lut[samp] << first)
                bad = (psum > pmax) | (psum < -pmax - 1)
                if bad.any():
                    ovf += int(bad.sum())
                    psum = ((psum + pmax + 1) & (2 * pmax + 1)) - pmax - 1
            merged = (psum.reshape(-1, geo.polarities, geo.m, ns) << slice_shift).sum(axis=-1)
            out[n0 : n0 + chunk] += merged[:, 0] - (merged[:, 1] if geo.polarities == 2 else 0)
    return out, hist, ovf, r2


def fused(x, ww, geo, table, psum_bits):
    """Input slicing + the fused kernel; ww: packed cell bit-planes, programmed once (not timed)."""
    _, msb, units, ops = table
    xw, shift, sign = slicing.pack_inputs(x, geo)
    one_copy = np.zeros(x.shape[0], np.int64)
    return fused_layer(xw, ww, units, ops, msb, one_copy, 1, shift, sign, geo.cell_bits, geo.n_slices,
                       geo.polarities, psum_bits, numba.get_num_threads())


def best_time(fn, repeat):
    times, res = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t)
    return min(times), res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="16 vectors, one repeat: a quick check that it runs")
    args = ap.parse_args()
    if args.smoke:
        args.repeat = 1
    arch = isaacsim.load_arch("trq")
    n, k, m = (16 if args.smoke else 28 * 28), 3 * 3 * 128, 128
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, k))
    w = rng.integers(-127, 128, (k, m))
    geo = MatrixGeometry.of(k, m, arch)
    regs = ADCRegisters.of(arch.adc)
    table = sar_table(geo.max_sample, *regs.kernel_args())
    _, msb_lut, units_lut, _ = table
    pb = arch.datapath.psum_bits
    samples = geo.conversions(n)

    ww = slicing.pack_weights(w, geo)
    cells = slicing.cell_values(w, geo).astype(np.float32)
    fused(x[:2], ww, geo, table, pb)  # compile (or load the cache) before timing
    t_fused, (out_f, hist_f, ovf_f, _, r2_f) = best_time(lambda: fused(x, ww, geo, table, pb), args.repeat)
    t_np, (out_n, hist_n, ovf_n, r2_n) = best_time(
        lambda: numpy_layer(x, cells, geo, units_lut, msb_lut, pb), args.repeat)
    same = (np.array_equal(out_f, out_n) and np.array_equal(hist_f, hist_n) and ovf_f == ovf_n
            and np.array_equal(r2_f[0], r2_n))
    y, stats = isaacsim.mvm(x, w, arch)
    assert stats["conversions"] == samples == hist_f.sum()
    assert stats["crossbar_ad_ops"].sum() == stats["ad_ops"] and stats["crossbar_r2"].sum() == r2_n.sum()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"layer N={n} K={k} M={m} on {arch.name}: {geo.crossbars} crossbars, {samples:,} BL samples, "
          f"{numba.get_num_threads()} threads")
    print(f"outputs and per-column R2 counts identical: {same}; ops/conversion {stats['ops_per_conversion']:.3f}; "
          f"max |y - x@w| {np.abs(y - x @ w).max()}")
    print(f"fused numba : {t_fused * 1e3:8.1f} ms  {samples / t_fused:.3e} BL samples/s")
    print(f"numpy       : {t_np * 1e3:8.1f} ms  {samples / t_np:.3e} BL samples/s")
    print(f"speed-up    : {t_np / t_fused:.1f}x")
    print(f"peak RSS    : {rss_mb:.0f} MB")
    if not same:
        raise SystemExit("fused and numpy outputs differ")


if __name__ == "__main__":
    main()
