"""A timing-only run (`simulate(..., timing_only=True)`, docs/timing.md "Timing-only runs").

No sample runs. Each layer's statistics are those of one inference: its conversions from its
geometry, its A/D operations from a synthetic trace (`isaacsim.timing.profile.synthetic_traces`)
at the profile's mean ops per conversion, or at its registers' worst case where the profile has
no entry. The pipeline is timed on those traces (`simulate_network`) and the energy model prices
the same A/D operations, so both are approximate; `Result.timing_only` says where the A/D
operations came from.
"""

from __future__ import annotations

import time

import numpy as np

from isaacsim.functional.stats import LayerStats
from isaacsim.pipeline import stages
from isaacsim.pipeline.options import RunOptions
from isaacsim.pipeline.prepare import Plan
from isaacsim.pipeline.result import Failure, Result, TimingOnly


def synthetic_counts(s: LayerStats, lp, trace: np.ndarray) -> None:
    """Fill a layer's statistics with one inference's counts on `trace` (int32 (groups, N,
    input_cycles, crossbars_per_group, lanes)); windows are dealt round-robin to the copies."""
    s.conversions = lp.layer.groups * lp.geometry.conversions(lp.layer.n_vectors)
    s.ad_ops = int(trace.sum(dtype=np.int64))
    s.xbar_ad_ops = np.stack([trace[:, c::lp.copies].sum(axis=(1, 2, 4), dtype=np.int64)
                              for c in range(lp.copies)])
    s.xbar_r2 = np.zeros_like(s.xbar_ad_ops)
    s.n_vectors = lp.layer.groups * lp.layer.n_vectors


def run_timing_only(res: Result, plan: Plan, opts: RunOptions) -> None:
    """Fill `res` (a Result of no samples) with the synthetic counts, the timing on them and
    their energy; a failure of the timing model is recorded on `res` and raised."""
    from isaacsim.timing import build_stages
    from isaacsim.timing.network import simulate_network
    from isaacsim.timing.profile import mean_ops, synthetic_traces

    t0 = time.perf_counter()
    traces = synthetic_traces(plan.mapping, plan.arch, plan.profile)
    worst = [lp.name for lp in plan.mapping.layers if mean_ops(plan.profile, lp.name) is None]
    for lp in plan.mapping.layers:
        synthetic_counts(res.layers[lp.name], lp, traces[lp.name])
    try:
        res.timing = simulate_network(plan.workload, plan.mapping, traces, build_stages(plan.arch),
                                      arch=plan.arch, granularity=opts.timing_granularity,
                                      timeline=opts.timeline)
    except Exception as e:
        res.failures.append(Failure("timing", f"{type(e).__name__}: {e}", e))
        raise
    source = "worst_case" if len(worst) == len(res.layers) else ("mixed" if worst else "profile")
    res.timing_only = TimingOnly(source, tuple(worst))
    stages.energy(res, plan.workload, samples=1)  # approximate, as the traces are; TRQ decode shifts are not known
    res.wall_s = time.perf_counter() - t0


__all__ = ["run_timing_only", "synthetic_counts"]
