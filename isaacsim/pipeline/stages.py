"""The stages of a functional run, each filling its part of the Result: the datapath batches,
the timing model on sample 0's A/D-operation traces, and the energy model.

The datapath stage runs `isaacsim.functional.batches`; an error or interrupt in a batch is its
`Failure` (the completed batches stand). The timing stage runs `isaacsim.timing.network` and the
energy stage `isaacsim.energy.runs`; a failure of either is recorded as a `Failure` and warned
of (TimingWarning, EnergyWarning), never raised, so the functional results stand.
"""

from __future__ import annotations

import warnings

import numpy as np

from isaacsim.errors import EnergyWarning, IsaacsimError, TimingWarning
from isaacsim.functional.batches import BatchRun, run_batches
from isaacsim.functional.nonideal import Noise
from isaacsim.pipeline.options import RunOptions
from isaacsim.pipeline.prepare import Plan
from isaacsim.pipeline.result import Failure, Result
from isaacsim.workload import Workload


def datapath(res: Result, plan: Plan, opts: RunOptions, x: np.ndarray) -> None:
    """Run the samples `x` in batches through the datapath and the reference executor. A trace
    kept for the timing model alone is summed per PE segment as it is made (`timing_trace`)."""
    if opts.timing and not opts.traces and opts.timing_granularity == "default":
        from isaacsim.mapping.segments import pe_segments

        for lp in plan.mapping.layers:
            res.layers[lp.name].trace_segments = pe_segments(lp)
    run = BatchRun(res.layers)
    try:
        run_batches(run, plan.workload, plan.arch, plan.mapping, x, res.batch_size,
                    traced=opts.traced_samples, progress=opts.progress,
                    noise=Noise.of(plan.arch, opts.seed))
    finally:
        if run.outputs:
            res.outputs = np.concatenate(run.outputs)
            res.reference_outputs = np.concatenate(run.reference_outputs)
        res.batches, res.wall_s, res.reference_wall_s = run.batches, run.wall_s, run.reference_wall_s
        if run.exception is not None:
            res.failures.append(Failure("datapath", run.error, run.exception))


def timing(res: Result, plan: Plan, opts: RunOptions) -> None:
    """Time sample 0's traces into `Result.timing`; the traces are dropped after unless `opts.traces`."""
    from isaacsim.timing import build_stages
    from isaacsim.timing.network import simulate_network

    try:
        traces = res.traces() or {n: s.timing_trace for n, s in res.layers.items() if s.timing_trace is not None}
        res.timing = simulate_network(plan.workload, plan.mapping, traces, build_stages(plan.arch),
                                      arch=plan.arch, granularity=opts.timing_granularity,
                                      timeline=opts.timeline)
    except Exception as e:  # the functional results stand; say why timing is missing
        res.failures.append(Failure("timing", f"{type(e).__name__}: {e}", e))
        warnings.warn(f"timing model failed: {type(e).__name__}: {e}", TimingWarning, stacklevel=3)
    finally:
        for s in res.layers.values():
            s.timing_trace = None
            if not opts.traces:
                s.ad_ops_trace = None


def energy(res: Result, wl: Workload, samples: int | None = None) -> None:
    """Count and price one inference's events, the statistics covering `samples` inferences
    (default: the samples run), over the timing model's latency when it ran (docs/energy.md)."""
    from isaacsim.energy.runs import run_energy

    n = res.samples if samples is None else samples
    time_s = None if res.timing is None else res.timing.latency_s
    try:
        res.events, res.energy = run_energy(wl, res.mapping, res.arch, res.layers, n, time_s=time_s)
    except IsaacsimError as e:  # e.g. a component table that cannot price a counted action
        res.failures.append(Failure("energy", str(e), e))
        warnings.warn(f"energy not priced: {e}", EnergyWarning, stacklevel=3)
    except Exception as e:
        res.failures.append(Failure("energy", f"{type(e).__name__}: {e}", e))
        warnings.warn(f"energy model failed: {type(e).__name__}: {e}", EnergyWarning, stacklevel=3)


__all__ = ["datapath", "energy", "timing"]
