"""Whether numba's on-disk cache already holds the compiled kernels a run needs.

The kernels are compiled with `cache=True`: the first run after installing (or after numba or a
kernel's source changes) compiles them, which takes a few seconds, and later runs load them
from the cache (`__pycache__` beside the sources, or `NUMBA_CACHE_DIR`). `cold_kernels` tells,
before anything is compiled, which of them would be, so the command line can say why the first
run is slow. It reads the index numba itself consults: an entry counts only when it was written
by this numba version, for the kernel's current source and for this CPU.
"""

from __future__ import annotations

import importlib
import sys

DATAPATH_KERNELS = ("isaacsim.kernels.fused:_fused_chunk", "isaacsim.kernels.packing:_pack_inputs_chunk",
                    "isaacsim.kernels.packing:_pack_weights_chunk", "isaacsim.kernels.sar:sar_convert_array")
"""The kernels of a functional run (the bit-exact datapath)."""
TIMING_KERNELS = ("isaacsim.kernels.pipeline:run_pipeline",)
"""The kernel of the timing model's numba engine."""
NOISY_KERNELS = ("isaacsim.kernels.noisy:_noisy_chunk",)
"""The non-ideal datapath's kernel (a run with any `device.*` or ADC noise setting on)."""
SIMPY_TIMING_KERNELS = ("isaacsim.kernels.pe_schedule:pe_rounds",)
"""The kernel of its simpy engine (small networks on a cold cache, fine granularity, timelines)."""
COMPILE_SECONDS = 5
"""About how long compiling the kernels of a run takes: 3.3 s of CPU measured on a 2-core machine
for the main job (benchmarks/bench_cold_start.py; the datapath kernels 2.5 s of it), more wall
time on a busy one; about 4 s more when a large network compiles the timing model's numba engine."""


def is_cached(dispatcher) -> bool:
    """True when numba's cache holds a compiled version of `dispatcher` (an `njit(cache=True)`
    function) that this process can load; False when it would compile."""
    cache = dispatcher._cache
    codegen = dispatcher.targetctx.codegen()
    index = cache._cache_file._load_index()  # {} when missing, from another numba or a stale source
    return any(cache._index_key(key[0], codegen) == key for key in index)


def cold_kernels(names: tuple[str, ...] = DATAPATH_KERNELS + TIMING_KERNELS) -> list[str]:
    """The kernels among `names` ("module:function") that a run would compile first."""
    cold = []
    for name in names:
        module, func = name.split(":")
        if not is_cached(getattr(importlib.import_module(module), func)):
            cold.append(name)
    return cold


def compile_notice(timing_only: bool = False, timing: bool = True, numba_timing: bool = True,
                   noisy: bool = False) -> str | None:
    """The line that says a run is about to compile its kernels (a cold cache: the first run after
    installing), else None; None too when numba's cache cannot be read (say nothing rather than
    fail the run). A timing-only run uses the timing kernel alone; a run without timing
    (`timing=False`) the datapath's alone; `numba_timing`: the timing model runs its numba engine
    (`isaacsim.timing.network.uses_numba`), else its simpy one; `noisy`: the datapath runs the
    non-ideal kernel too."""
    timing_kernels = TIMING_KERNELS if numba_timing else SIMPY_TIMING_KERNELS
    names = timing_kernels if timing_only else DATAPATH_KERNELS + (timing_kernels if timing else ())
    if noisy and not timing_only:
        names += NOISY_KERNELS
    try:
        cold = cold_kernels(names)
    except Exception:  # numba's cache internals changed
        return None
    return f"isaacsim: compiling kernels (first run only, about {COMPILE_SECONDS} s)..." if cold else None


def announce_compile(timing_only: bool = False, timing: bool = True, numba_timing: bool = True,
                     noisy: bool = False) -> None:
    """Print `compile_notice` on stderr when there is one. Callers do this after every input has
    been checked and just before the first kernel runs, so bad input still gets its one line."""
    line = compile_notice(timing_only, timing, numba_timing, noisy)
    if line:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


__all__ = ["COMPILE_SECONDS", "DATAPATH_KERNELS", "NOISY_KERNELS", "SIMPY_TIMING_KERNELS", "TIMING_KERNELS",
           "announce_compile", "cold_kernels", "compile_notice", "is_cached"]
