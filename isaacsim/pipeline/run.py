"""`isaacsim.simulate`: one run, phase by phase, into a `Result`.

Phases: check the options (`RunOptions`), prepare (load the arch, workload, register and profile
files; check the input formats; place the network), pick the samples, then run: the datapath
batches (`isaacsim.functional.batches`), the timing model on sample 0's A/D-operation traces
(`isaacsim.timing.network`) and the energy model (`isaacsim.energy.runs`), or a timing-only run
(`isaacsim.pipeline.timing_only`). Bad input raises before anything runs; a failure of a stage
after that is a `Failure` on the Result. With `out`, the run leaves its record
(`isaacsim.pipeline.record`) however it ends. docs/running.md is the user's page.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from isaacsim.config import Arch
from isaacsim.functional.inputs import auto_batch_size, select_samples
from isaacsim.functional.nonideal import Noise
from isaacsim.kernels.cache import announce_compile
from isaacsim.pipeline import stages
from isaacsim.pipeline.options import RunOptions
from isaacsim.pipeline.prepare import new_result, prepare
from isaacsim.pipeline.record import recording
from isaacsim.pipeline.result import Result
from isaacsim.pipeline.timing_only import run_timing_only
from isaacsim.workload import Workload


def simulate(arch: Arch | str | os.PathLike | Mapping[str, Any], workload: Workload | str | os.PathLike, *,
             samples: int | None = None, timing: bool = True,
             registers: Mapping[str, Any] | str | os.PathLike | None = None,
             batch_size: int | None = None, progress: bool = False, raise_on_error: bool = True,
             traces: int = 0, timing_granularity: str = "default", timeline=None,
             timing_only: bool = False, profile: Mapping[str, Any] | str | os.PathLike | None = None,
             out: str | os.PathLike | None = None, seed: int = 0) -> Result:
    """Run `workload` on `arch` through the bit-exact datapath and return a `Result`.

    arch: an Arch, a YAML path or preset name, or a dict. workload: a Workload or a directory.
    samples: None runs the eval set (else calib, else DEFAULT_RANDOM_SAMPLES seeded random
    inputs); N runs the first N (all, with a ConfigWarning, when the set is smaller).
    registers: {layer: registers} or a register file path (`isaacsim.adc.regfile`); layers not
    named use `arch.adc`. batch_size: samples per batch (default: `auto_batch_size`).
    timing: run the cycle-level pipeline (`isaacsim.timing.simulate_network`, docs/timing.md) on
    the first sample's A/D-operation traces and fill `Result.timing` and the summary's
    `latency_cycles` / `latency_s`; False skips it (those keys stay None). A failure of the
    timing model keeps the functional results: `Result.timing` is then None,
    `Result.failure("timing")` says why and a TimingWarning too. timing_granularity: "default"
    (a kernel per window) or "fine" (an event per crossbar read and ADC job; small networks
    only). timeline: an `isaacsim.timing.events.Timeline` that collects the pipeline's spans.
    progress: a progress bar on stderr (terminals only).
    traces: keep the A/D-operation traces of the run's first `traces` samples on
    `LayerStats.ad_ops_trace` (`Result.traces()`; not in the JSON summary): int32 (samples,
    groups, vectors, input_cycles, crossbars_per_group, lanes) per layer, 4 bytes x vectors x
    cycles x crossbars x lanes per sample and layer (ResNet-18 on trq: about 0.5 GB a sample).
    timing_only: run no sample; time one inference on synthetic traces whose conversions each
    cost the layer's mean A/D operations in `profile` (a dict or a file, `isaacsim.timing.profile`),
    else the registers' worst case. Approximate (docs/timing.md, "Timing-only runs"); accuracy
    and agreement are None and `Result.timing_only` says where the A/D operations came from.
    out: a folder for the run's record (`isaacsim.pipeline.record`): config.yaml before the run,
    summary.json, layers.csv, registers.yaml and the energy and profile files after it, however
    it ends; None writes nothing.
    seed: the seed of the non-ideal datapath's draws (`device.*`, `adc.offset_lsb`,
    `adc.noise_lsb`; docs/nonideal.md), default 0: the same seed gives the same results. The
    summary's `noise` entry records it with every non-ideality setting.

    Bad inputs raise before anything runs or is written (ConfigError, WorkloadError,
    MappingError). An error or KeyboardInterrupt inside a batch ends the run with status
    'failed' / 'interrupted' and the completed batches kept; it is re-raised unless
    raise_on_error=False, in which case the partial Result is returned with `.exception` set.
    """
    opts = RunOptions(samples=samples, timing=timing, registers=registers, batch_size=batch_size,
                      progress=progress, raise_on_error=raise_on_error, traces=traces,
                      timing_granularity=timing_granularity, timeline=timeline, timing_only=timing_only,
                      profile=profile, out=out, seed=seed)
    plan = prepare(arch, workload, opts)
    if opts.timing_only:
        res, x = new_result(plan, "none", None, None, 0, 0), None
    else:
        x, y, source, available = select_samples(plan.workload, opts.samples)
        n = int(x.shape[0])
        bs = opts.batch_size or auto_batch_size(plan.workload, plan.arch, n)
        res = new_result(plan, source, available, opts.samples, n, bs, labels=y)
    res.seed = opts.seed
    if opts.progress:  # every input is checked: say so if the kernels are about to compile
        from isaacsim.timing.network import uses_numba

        numba_timing = uses_numba(plan.mapping, opts.timing_granularity, opts.timeline)
        announce_compile(opts.timing_only, opts.timing, numba_timing, not Noise.of(plan.arch).ideal)
    with recording(opts.out, res):
        if x is None:
            run_timing_only(res, plan, opts)
        else:
            stages.datapath(res, plan, opts, x)
            if opts.timing and res.samples:
                stages.timing(res, plan, opts)
            if res.samples:
                stages.energy(res, plan.workload)
    if res.exception is not None and opts.raise_on_error:
        raise res.exception
    return res


__all__ = ["simulate"]
