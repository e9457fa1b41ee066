"""Probe workloads sized to an arch: `filling_layer(arch)`, one layer that takes every crossbar of
the chip, to check the pipeline at full load (docs/timing.md, "Data movement")."""

from __future__ import annotations

import numpy as np

from isaacsim.config.models import Arch
from isaacsim.mapping.geometry import MatrixGeometry
from isaacsim.workload import build

ROWS = 8064
"""Input channels of the filling layer: 63 row partitions of 128 rows."""


def filling_layer(arch: Arch, seed: int = 0):
    """(workload, crossbars on the chip): a 1x1 conv of 8064 channels on a 2x2 map (4 input
    vectors) with the most output channels whose crossbars still fit the chip, random weights of
    the arch's weight bits. On ISAAC (16-bit weights on 2-bit cells) that is 2048 outputs with
    differential weights and 4096 with offset ones, each 16,128 crossbars."""
    chip = arch.chip.tiles * arch.tile.pes * arch.pe.crossbars
    g = MatrixGeometry.of(ROWS, 1, arch)
    col_parts = chip // (g.row_parts * g.polarities)
    m = col_parts * arch.crossbar.cols // g.n_slices
    bits = arch.datapath.weight_bits
    fmt = {"bits": arch.datapath.input_bits, "signed": False, "scale": 0.05, "zero_point": 0}
    manifest = {"format_version": 1, "name": "filling_layer", "input": {"shape": [ROWS, 2, 2], **fmt},
                "graph": [{"name": "fill", "op": "conv2d", "inputs": ["input"], "weight": "fill.w",
                           "out_channels": m, "kernel": 1, "weight_bits": bits,
                           "requant": {**fmt, "multiplier": 1, "shift": 20}}]}
    lim = 2 ** (bits - 1) - 1
    w = np.random.default_rng(seed).integers(-lim, lim + 1, (m, ROWS, 1, 1)).astype(np.int16 if bits > 8 else np.int8)
    return build(manifest, {"fill.w": w}), chip


__all__ = ["ROWS", "filling_layer"]
