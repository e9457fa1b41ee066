"""Shared pieces of the timing tests: a small crossbar geometry and synthetic A/D-operation traces."""

import numpy as np

from isaacsim.timing.layer import lane_columns

SMALL = {"crossbar.rows": 16, "crossbar.cols": 16, "pe.crossbars": 4, "crossbar.read_latency_ns": 30}
"""A small crossbar geometry (16 x 16 cells, 4 crossbars per PE, 30 ns reads) as arch overrides."""


def synthetic_trace(lp, adcs, kind, rng, resolution=8):
    """(groups, N, cycles, T, lanes): each conversion costs `resolution` ops (uniform) or 1 .. R + 2
    (TRQ-like: detection plus a short or long search), summed per crossbar lane."""
    cols = lane_columns(lp, adcs)
    g = lp.geometry
    shape = (lp.layer.groups, lp.layer.n_vectors, g.input_cycles, *cols.shape)
    if kind == "uniform":
        return np.broadcast_to(resolution * cols, shape).astype(np.int32)
    counts = np.broadcast_to(cols, shape)
    hi = np.where(rng.random(shape) < 0.3, resolution + 2, 5)  # mostly short (R1) conversions
    return (counts * rng.integers(2, 4, shape) + (hi - 3) * (counts > 0)).astype(np.int32)


def quiet_arch(name="trq", **over):
    """A preset with dotted overrides, its ConfigWarnings (e.g. a coarse ADC) silenced."""
    import warnings

    import isaacsim

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return isaacsim.load_arch(name, overrides=over)


def small_net(n_eval: int = 2):
    """`tests.support.workloads.net_parts`' network as a Workload with `n_eval` eval samples."""
    from isaacsim.workload import build
    from tests.support.workloads import net_parts

    m, a, ev = net_parts(n_eval=n_eval)
    return build(m, a, eval=ev)
