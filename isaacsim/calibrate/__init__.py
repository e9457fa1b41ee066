"""TRQ calibration ("Twin Range Quantization" sec. IV, Algorithm 1).

`search` is the per-layer core: Eq. 9 / Eq. 10 metrics of register sets against a histogram
of bit-line samples (`LayerStats.sample_hist`), vectorised over candidates, the distribution
classifier, and the per-layer register search. Pure numpy; no simulator runs.
`loop` is the end-to-end loop (`calibrate`, a `Calibration` run phase by phase): capture,
baseline, lower n_r2 while the accuracy drop stays within budget, per-layer refinement, result
and register file; `inputs` checks its options and cuts its data sets, `state` keeps what a run
has done so that it resumes.
"""

from isaacsim.calibrate.loop import CalibrationResult, calibrate, write_registers
from isaacsim.calibrate.search import (
    CASES,
    LayerSearch,
    classify,
    d2_grid,
    expected_ops,
    ideal_metrics,
    metrics,
    quant_mse,
    search_layer,
    shortest_window,
    trq_metrics,
    uniform_metrics,
)

__all__ = [
    "CASES",
    "CalibrationResult",
    "LayerSearch",
    "calibrate",
    "classify",
    "d2_grid",
    "expected_ops",
    "ideal_metrics",
    "metrics",
    "quant_mse",
    "search_layer",
    "shortest_window",
    "trq_metrics",
    "uniform_metrics",
    "write_registers",
]
