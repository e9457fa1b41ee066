"""One integer matrix product through the modelled crossbar datapath (`isaacsim.mvm`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from isaacsim.adc.registers import ADCRegisters
from isaacsim.config.models import ADCConfig, Arch
from isaacsim.kernels.fused import fused_layer
from isaacsim.kernels.sar import sar_table
from isaacsim.mapping import slicing
from isaacsim.mapping.geometry import MatrixGeometry


@dataclass(frozen=True, eq=False)
class PackedWeights:
    """A weight matrix sliced into cell bit-planes for one arch: the crossbars programmed once.

    Pass it to `mvm` in place of w to reuse the slicing and packing across calls (the
    simulated executor does this across batches); `PackedWeights.of(w, arch)`.
    """

    geometry: MatrixGeometry
    planes: np.ndarray

    @classmethod
    def of(cls, w, arch: Arch) -> PackedWeights:
        _, w = slicing.check_operands(np.zeros((0, np.shape(w)[0]), np.int64), w)
        geo = MatrixGeometry.of(w.shape[0], w.shape[1], arch)
        return cls(geo, slicing.pack_weights(w, geo))


def mvm(x, w, arch: Arch, adc: ADCRegisters | ADCConfig | Mapping[str, Any] | None = None):
    """y = x @ w as the datapath computes it, and the ADC / S+A statistics.

    x: (N, K) integers in the arch's input format (unsigned, or signed two's complement);
    w: (K, M) signed symmetric integers of `datapath.weight_bits`, or `PackedWeights` built
    for this arch; `adc` (dict, ADCConfig or ADCRegisters) overrides `arch.adc`. Out-of-range
    operands raise ValueError.

    y is (N, M) int64 when the ADC's base step (1, D or D1) is a whole number, else float64
    (the S+A sums integer step counts, multiplied by the step at the end). With a lossless ADC,
    y == x @ w exactly.

    stats: conversions (paper 000 Eq. 3), ad_ops (detection comparisons included),
    ops_per_conversion, r1_conversions / r2_conversions (TRQ, else 0), sample_hist (length
    max_sample + 1, raw bit-line samples before clipping), ops_hist (length R + 3, conversions
    by A/D operations), overflows (partial-sum register adds that wrapped), and the geometry.
    """
    if isinstance(w, PackedWeights):
        geo, ww = w.geometry, w.planes
        if geo != MatrixGeometry.of(geo.k, geo.m, arch):
            raise ValueError("PackedWeights were built for a different crossbar or datapath configuration")
        x, _ = slicing.check_operands(x, np.zeros((geo.k, 0), np.int64))
    else:
        x, w = slicing.check_operands(x, w)
        geo = MatrixGeometry.of(w.shape[0], w.shape[1], arch)
        ww = None
    regs = ADCRegisters.of(arch.adc if adc is None else adc)
    xw, shift, sign = slicing.pack_inputs(x, geo)
    if ww is None:
        ww = slicing.pack_weights(w, geo)
    _, msb, units, ops = sar_table(geo.max_sample, *regs.kernel_args())
    acc, hist, overflows = fused_layer(
        xw, ww, units, shift, sign, geo.cell_bits, geo.n_slices, geo.polarities,
        arch.datapath.psum_bits, numba.get_num_threads(),
    )
    y = acc * int(regs.step) if regs.integral_step else acc * regs.step
    if geo.encoding == "offset":
        y = y - slicing.offset_correction(x, geo)
    conversions = int(hist.sum())
    ad_ops = int(hist @ ops)
    r2 = int(hist @ msb) if regs.mode == "trq" else 0
    stats = {
        "conversions": conversions,
        "ad_ops": ad_ops,
        "ops_per_conversion": ad_ops / conversions if conversions else 0.0,
        "r1_conversions": conversions - r2 if regs.mode == "trq" else 0,
        "r2_conversions": r2,
        "sample_hist": hist,
        "ops_hist": np.bincount(ops, weights=hist, minlength=regs.resolution + 3).astype(np.int64),
        "overflows": int(overflows),
        "adc": regs.to_dict(),
        "n_vectors": x.shape[0],
        "k": geo.k,
        "m": geo.m,
        "n_slices": geo.n_slices,
        "polarities": geo.polarities,
        "row_parts": geo.row_parts,
        "col_parts": geo.col_parts,
        "crossbars": geo.crossbars,
        "mapped_cols": geo.mapped_cols,
        "input_cycles": geo.input_cycles,
        "max_sample": geo.max_sample,
    }
    return y, stats
