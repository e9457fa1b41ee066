"""TRQ calibration (paper 000 sec. IV, Algorithm 1; DESIGN 6).

`search` is the per-layer core: Eq. 9 / Eq. 10 metrics of register sets against a histogram
of bit-line samples (`LayerStats.sample_hist`), vectorised over candidates, the distribution
classifier, and the per-layer register search. Pure numpy; no simulator runs.
"""

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
    "LayerSearch",
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
]
