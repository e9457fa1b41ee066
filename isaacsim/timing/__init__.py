"""Timing model: stage latencies and rates at the system clock, and the analytic lower bounds.

`build_stages(arch)` lists every pipeline stage with its latency in ns and cycles and its exact
rate per cycle (`stages.py`); `layer_bound` / `network_bound` give the per-layer analytic lower
bound, the busiest resource's work over its rate (`bounds.py`, docs/timing.md); `simulate_layer` runs
one layer's cycle-exact schedule on its PEs from its A/D-operation trace (`layer.py`).
"""

from isaacsim.timing.bounds import (
    LayerBound,
    NetworkBound,
    ResourceWork,
    estimate_counts,
    layer_bound,
    network_bound,
)
from isaacsim.timing.layer import LayerTiming, layer_steps, simulate_layer
from isaacsim.timing.stages import DEFAULTS, Stage, Stages, build_stages

__all__ = [
    "DEFAULTS",
    "LayerBound",
    "LayerTiming",
    "NetworkBound",
    "ResourceWork",
    "Stage",
    "Stages",
    "build_stages",
    "estimate_counts",
    "layer_bound",
    "layer_steps",
    "network_bound",
    "simulate_layer",
]
