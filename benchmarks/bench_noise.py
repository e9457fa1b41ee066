"""The non-ideal datapath's cost: one ResNet-18-shaped layer through `isaacsim.mvm`, exact and noisy.

Layer: 3x3x128 -> 128 on a 28x28 map (N=784 vectors, K=1152, M=128), random unsigned 8-bit
inputs and signed 8-bit weights, the TRQ ADC of arch_configs/trq.yaml. The exact path runs with
no noise; the noisy one with every source on (program_sigma 0.05, read_sigma 0.05, 0.1 % cells
stuck at each end, on/off ratio 100, comparator offset 0.1 LSB and noise 0.3 LSB, seed 0). The
weights are sliced once (`PackedWeights`, not timed); the noisy time includes drawing the
programmed conductances of the matrix. Times are the best of --repeat runs, in the same process.
Prints bit-line samples/s of both and their ratio; then the noisy layer replicated on 4 copies
(vector n on copy n % 4) with the maps drawn on every call, as a run without a `MapCache` does,
and kept across calls in a `MapCache` (as a run keeps them across batches; drawn once, untimed),
and the ratio of their times (kept / drawn).

--smoke: the same layer shape on 16 vectors, one repeat.

Run: python benchmarks/bench_noise.py [--repeat 3] [--smoke]
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

import isaacsim
from isaacsim.functional.mvm import PackedWeights, mvm
from isaacsim.functional.nonideal import MapCache, Noise

NOISE = {"program_sigma": 0.05, "read_sigma": 0.05, "stuck_at_gmin": 0.001, "stuck_at_gmax": 0.001,
         "on_off_ratio": 100.0, "offset_lsb": 0.1, "noise_lsb": 0.3}


def best(fn, repeat: int) -> tuple[float, tuple]:
    """(best seconds, last result) of `repeat` calls."""
    t, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        t = min(t, time.perf_counter() - t0)
    return t, out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="16 vectors, one repeat")
    args = ap.parse_args(argv)
    n, repeat = (16, 1) if args.smoke else (784, args.repeat)
    arch = isaacsim.load_arch("trq")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 1152))
    w = rng.integers(-127, 128, (1152, 128))
    pw = PackedWeights.of(w, arch, weight_bits=8, input_bits=8)
    noise = Noise(**NOISE, seed=0)
    mvm(x[:2], pw, arch, noise=noise)  # compile (or load) both kernels before timing
    mvm(x[:2], pw, arch)
    t_exact, (y0, s0) = best(lambda: mvm(x, pw, arch), repeat)
    t_noisy, (y1, s1) = best(lambda: mvm(x, pw, arch, noise=noise), repeat)
    samples = s0["conversions"]
    assert samples == s1["conversions"], "both paths convert every sample"
    rel = float(np.abs(y1 - y0).mean() / max(np.abs(y0).mean(), 1))
    print(f"layer: N={n} K=1152 M=128, 8-bit, trq; {samples:,} bit-line samples; {numba.get_num_threads()} threads")
    print(f"exact : {t_exact:.3f} s, {samples / t_exact:.3e} BL samples/s")
    print(f"noisy : {t_noisy:.3f} s, {samples / t_noisy:.3e} BL samples/s (all sources on)")
    print(f"noisy / exact samples/s: {t_exact / t_noisy:.3f}")
    print(f"mean |y_noisy - y_exact| / mean |y_exact|: {rel:.4f}")
    copy = np.arange(n) % 4
    kept = PackedWeights(pw.geometry, pw.planes, pw.flipped, MapCache())
    mvm(x, kept, arch, noise=noise, vector_copy=copy)  # draws and keeps the 4 maps
    t_drawn, (y2, _) = best(lambda: mvm(x, pw, arch, noise=noise, vector_copy=copy), repeat)
    t_kept, (y3, _) = best(lambda: mvm(x, kept, arch, noise=noise, vector_copy=copy), repeat)
    assert np.array_equal(y2, y3), "kept maps give the same results"
    print(f"noisy, 4 copies: maps drawn per call {t_drawn:.3f} s, kept {t_kept:.3f} s; "
          f"kept / drawn time: {t_kept / t_drawn:.3f}")


if __name__ == "__main__":
    main()
