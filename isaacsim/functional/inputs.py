"""What goes into the datapath: the input-format check, the samples of a run and its batch size.

`check_formats` refuses a layer whose input or weights do not fit the arch's datapath before
anything runs; `select_samples` picks the inputs (the eval set, else calib, else seeded random
codes); `auto_batch_size` sizes the batches to a memory budget. docs/running.md is the user's page.
"""

from __future__ import annotations

import warnings

import numpy as np

from isaacsim.config import Arch
from isaacsim.errors import ConfigWarning, MappingError, WorkloadError
from isaacsim.mapping import slicing
from isaacsim.mapping.geometry import input_fits, input_format
from isaacsim.mapping.layers import layers_of
from isaacsim.workload import Workload

DEFAULT_RANDOM_SAMPLES = 16
"""Inputs drawn when the workload has neither eval nor calib data."""
RANDOM_SEED = 0
"""Seed of those inputs (uniform over the input format's code range)."""
MEMORY_BUDGET = 256 * 2**20
"""Bytes a batch may use, as estimated by `auto_batch_size`."""


def check_formats(wl: Workload, arch: Arch) -> None:
    """Every conv2d/linear layer's input tensor and weights must fit the datapath; MappingError
    naming the layer otherwise (`isaacsim.mapping.geometry.layer_bits_problem` states the rule).

    The arch's `datapath.weight_bits` / `input_bits` are the widest the hardware supports; each
    layer runs at its own bits. An unsigned b-bit tensor fits unsigned inputs of >= b bits or
    signed inputs of > b bits; a signed b-bit tensor fits signed inputs of >= b bits only.
    Weights need weight_bits <= Kw.
    """
    d = arch.datapath
    for n in wl.nodes:
        if n.op not in ("conv2d", "linear"):
            continue
        f = wl.formats[n.inputs[0]]
        if not input_fits(f.bits, f.signed, arch):
            raise MappingError(
                f"layer {n.name!r}: its input {n.inputs[0]!r} is {'a signed' if f.signed else 'an unsigned'} "
                f"{f.bits}-bit tensor, which does not fit the arch's {input_format(arch)} inputs "
                f"(datapath.input_bits, the widest the hardware supports; datapath.input_signed)"
            )
        if n.weight_bits > d.weight_bits:
            raise MappingError(
                f"layer {n.name!r}: {n.weight_bits}-bit weights do not fit the arch's "
                f"datapath.weight_bits={d.weight_bits} (the widest weights the hardware supports)"
            )


def select_samples(wl: Workload, samples: int | None):
    """(x, y or None, source, available or None): the eval set, else calib, else seeded random.

    `samples`: None (all of the set) or a whole number >= 1 (`isaacsim.pipeline.RunOptions` checks
    it). A ConfigWarning (attributed to `simulate`'s caller) says when the set holds fewer than asked."""
    ds, source = (wl.eval, "eval") if wl.eval is not None else (wl.calib, "calib")
    if ds is None:
        n = DEFAULT_RANDOM_SAMPLES if samples is None else int(samples)
        inp = wl.manifest.input
        rng = np.random.default_rng(RANDOM_SEED)
        return rng.integers(inp.lo, inp.hi + 1, size=(n, *inp.shape), dtype=np.int64), None, "random", None
    available = int(ds.x.shape[0])
    if available == 0:
        raise WorkloadError(f"workload {wl.name!r}: its {source} set holds no samples")
    n = available if samples is None else min(int(samples), available)
    if samples is not None and samples > available:
        warnings.warn(f"workload {wl.name!r} has {available} {source} samples; running all {available} "
                      f"(asked for {samples})", ConfigWarning, stacklevel=3)
    return ds.x[:n], None if ds.y is None else ds.y[:n], source, available


def auto_batch_size(wl: Workload, arch: Arch, n: int, budget: int = MEMORY_BUDGET) -> int:
    """Samples per batch so that the estimated peak memory stays within `budget` bytes.

    Per sample: every node's activation twice (both executors keep all of them, int64), plus
    the largest layer's im2col rows (int64, about five copies live at once in im2col, the
    group slice and the operand checks), its packed bit-serial inputs and its outputs.
    """
    act = 8 * sum(int(np.prod(s)) for s in wl.shapes.values())
    peak = 0
    for ly in layers_of(wl):
        geo = ly.geometry(arch)
        rows = ly.groups * ly.n_vectors
        packed = rows * geo.input_cycles * geo.row_parts * geo.dac_bits * slicing.n_words(geo) * 8
        peak = max(peak, 5 * 8 * rows * ly.k + packed + 3 * 8 * rows * ly.m)
    per_sample = 2 * act + peak
    return int(max(1, min(n, budget // max(per_sample, 1))))


__all__ = ["DEFAULT_RANDOM_SAMPLES", "MEMORY_BUDGET", "RANDOM_SEED", "auto_batch_size", "check_formats",
           "select_samples"]
