"""One integer matrix product through the modelled crossbar datapath (`isaacsim.mvm`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from isaacsim.adc.config import ADCConfig
from isaacsim.adc.registers import ADCRegisters
from isaacsim.config.models import Arch
from isaacsim.functional.nonideal import CopyMaps, MapCache, Noise
from isaacsim.kernels.fused import fused_layer, fused_layer_traced
from isaacsim.kernels.noisy import noisy_layer
from isaacsim.mapping import slicing
from isaacsim.mapping.geometry import MatrixGeometry


@dataclass(frozen=True, eq=False)
class PackedWeights:
    """A weight matrix sliced into cell bit-planes for one arch: the crossbars programmed once.

    Pass it to `mvm` in place of w to reuse the slicing and packing across calls (the
    simulated executor does this across batches); `PackedWeights.of(w, arch)`. With `maps` (a
    `MapCache`, shared by a run's matrices) the noisy path keeps each copy's programmed map there
    and reuses it on later calls instead of drawing it again; the results are the same.
    """

    geometry: MatrixGeometry
    planes: np.ndarray
    flipped: np.ndarray | None = None
    """bool (row_parts, mapped_cols): columns stored complemented (ISAAC's column flip), or None."""
    maps: MapCache | None = None
    """Where the programmed maps of this matrix's copies are kept across calls, or None (drawn per call)."""

    @classmethod
    def of(cls, w, arch: Arch, *, weight_bits: int | None = None, input_bits: int | None = None,
           input_signed: bool | None = None, maps: MapCache | None = None) -> PackedWeights:
        """Slice and pack w for a layer of these weight / input bits (None: the arch's widest);
        maps: the run's `MapCache` (None: maps drawn on every noisy call)."""
        _, w = slicing.check_operands(np.zeros((0, np.shape(w)[0]), np.int64), w)
        geo = MatrixGeometry.of(w.shape[0], w.shape[1], arch, weight_bits=weight_bits, input_bits=input_bits,
                                input_signed=input_signed)
        return cls(geo, *_pack(w, geo), maps)


def _pack(w: np.ndarray, geo: MatrixGeometry) -> tuple[np.ndarray, np.ndarray | None]:
    """(planes, flipped columns or None) of a weight matrix under geo."""
    planes = slicing.pack_weights(w, geo)
    return slicing.flip_columns(planes, geo) if geo.column_flip else (planes, None)


def _vector_copies(vector_copy, n: int) -> tuple[np.ndarray, int]:
    """(int64 (n,) copy of each input vector, copies) from mvm's `vector_copy` argument."""
    if vector_copy is None:
        return np.zeros(n, np.int64), 1
    vc = np.asarray(vector_copy)
    if vc.shape != (n,) or (vc.size and vc.dtype.kind not in "iu"):
        raise ValueError(f"vector_copy must be an integer array of shape ({n},), got {vc.dtype} {vc.shape}")
    vc = np.ascontiguousarray(vc, dtype=np.int64)
    if n and vc.min() < 0:
        raise ValueError(f"vector_copy must be >= 0, got {int(vc.min())}")
    return vc, (int(vc.max()) + 1 if n else 1)


def _per_crossbar(counts: np.ndarray, geo: MatrixGeometry) -> np.ndarray:
    """Kernel counts (copies, row_parts, mapped_cols) summed per crossbar: (copies, crossbars),
    crossbar t = `MatrixGeometry.crossbar_index` (kernel column q * cols_per_polarity + c is in
    column partition c // xbar_cols of polarity q, as `MatrixGeometry.column_lanes` says)."""
    a = counts.reshape(counts.shape[0], geo.row_parts, geo.polarities, geo.cols_per_polarity)
    pad = geo.col_parts * geo.xbar_cols - geo.cols_per_polarity
    a = np.pad(a, ((0, 0), (0, 0), (0, 0), (0, pad)))
    a = a.reshape(*a.shape[:3], geo.col_parts, geo.xbar_cols).sum(axis=-1)  # (copies, rp, pol, cp)
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2)).reshape(counts.shape[0], geo.crossbars)


def _trace_slots(geo: MatrixGeometry, lanes: int, adcs: int, segments) -> tuple[np.ndarray, int, int]:
    """(slot of each (row partition, column), slots / lanes, crossbars in the widest slot): the
    trace's (crossbar, lane) slots, or (segment, lane) with `segments` (`mvm`'s trace_segments)."""
    slots = geo.column_lanes(adcs)
    if segments is None:
        return slots, geo.crossbars, 1
    starts = np.asarray(segments, np.int64)
    if starts.ndim != 1 or not len(starts) or starts[0] != 0 or (np.diff(starts) <= 0).any() \
            or starts[-1] >= geo.crossbars:
        raise ValueError(f"trace_segments must increase from 0 below {geo.crossbars} crossbars, got {starts}")
    seg = np.searchsorted(starts, np.arange(geo.crossbars), side="right") - 1
    t, lane = np.divmod(slots, lanes)
    widest = int(np.diff(np.append(starts, geo.crossbars)).max())
    return np.ascontiguousarray(seg[t] * lanes + lane), len(starts), widest


def _geometry(x, w, arch: Arch, bits: dict):
    """(x, geometry, packed planes, flipped) of mvm's operands at the layer's bits."""
    given = {k: v for k, v in bits.items() if v is not None}
    if isinstance(w, PackedWeights):
        geo = w.geometry
        if geo != MatrixGeometry.of(geo.k, geo.m, arch, **geo.bits):
            raise ValueError("PackedWeights were built for a different crossbar or datapath configuration")
        clash = {k: v for k, v in given.items() if geo.bits[k] != v}
        if clash:
            raise ValueError(f"PackedWeights were built for {geo.bits}, not {clash}")
        x, _ = slicing.check_operands(x, np.zeros((geo.k, 0), np.int64))
        return x, geo, w.planes, w.flipped
    x, w = slicing.check_operands(x, w)
    geo = MatrixGeometry.of(w.shape[0], w.shape[1], arch, **given)
    return (x, geo, *_pack(w, geo))


def _run_noisy(xw, ww, geo, arch, regs, noise, vec_copy, copies, shift, sign, col_sign, trace, segments, maps):
    """The non-ideal kernel's (out, hist, overflows, ad_ops, r2, ops_hist, trace or None) for `mvm`;
    maps: the `MapCache` of w's `PackedWeights`, or None."""
    g = CopyMaps(ww, geo.cell_bits, noise, maps)  # each copy's map, for the copies that run vectors
    args = noise.kernel_args(geo.cell_bits)
    slots, n_seg, lanes = None, 0, 0
    if trace:
        lanes = geo.lanes(arch.pe.adcs)
        slots, n_seg, _ = _trace_slots(geo, lanes, arch.pe.adcs, segments)
    out = noisy_layer(xw, g, regs.kernel_args(), args, vec_copy, copies, shift, sign, geo.cell_bits, geo.n_slices,
                      geo.polarities, arch.datapath.psum_bits, geo.max_sample, numba.get_num_threads(), col_sign,
                      slots, n_seg * lanes)
    tr = out[6].reshape(xw.shape[0], geo.input_cycles, n_seg, lanes) if trace else None
    return (*out[:6], tr)


def mvm(x, w, arch: Arch, adc: ADCRegisters | ADCConfig | Mapping[str, Any] | None = None, *,
        trace: bool = False, vector_copy=None, weight_bits: int | None = None, input_bits: int | None = None,
        input_signed: bool | None = None, trace_segments=None, noise: Noise | None = None):
    """y = x @ w as the datapath computes it, and the ADC / S+A statistics.

    x: (N, K) integers in the layer's input format (unsigned, or signed two's complement);
    w: (K, M) signed symmetric integers of the layer's weight bits, or `PackedWeights` built
    for this arch (they carry their layer's bits); `adc` (dict, ADCConfig or ADCRegisters)
    overrides `arch.adc`. Out-of-range operands raise ValueError.

    weight_bits, input_bits, input_signed: the layer's own widths (docs/datapath.md, "Per-layer
    precision"); None takes the arch's `datapath.weight_bits`, `input_bits`, `input_signed`, the
    widest the hardware supports. A layer wider than the arch raises ValueError. Slices, mapped
    columns, input cycles, conversions and A/D operations follow the layer's bits.

    y is (N, M) int64 when the ADC's base step (1, D or D1) is a whole number, else float64
    (the S+A sums integer step counts, multiplied by the step at the end). With a lossless ADC,
    y == x @ w exactly.

    stats: conversions (Eq. 3 of the TRQ paper), ad_ops (detection comparisons included),
    ops_per_conversion, r1_conversions / r2_conversions (an ADC kind with twin ranges, TRQ;
    else 0), sample_hist (length max_sample + 1, raw bit-line samples before clipping), ops_hist
    (length R + 3, conversions by A/D operations), overflows (partial-sum register adds that
    wrapped), and the geometry.

    Per crossbar and copy (docs/datapath.md, "Per-crossbar counts"): `vector_copy` (int array
    (N,), default all 0) names the copy of the layer that runs each input vector; copies =
    max(vector_copy) + 1. stats["crossbar_ad_ops"] and stats["crossbar_r2"] are int64
    (copies, crossbars): the A/D operations (detection comparisons included) and the TRQ R2
    conversions (0 for other modes) of the samples each crossbar of each copy converts.
    Crossbar t is (col_part, row_part, polarity), polarity fastest (`MatrixGeometry.crossbar_index`).
    crossbar_ad_ops.sum() == ad_ops and crossbar_r2.sum() == r2_conversions.

    trace=True adds stats["ad_ops_trace"]: int32 (N, input_cycles, crossbars, lanes), the A/D
    operations each ADC lane of each crossbar of the matrix does for input vector n in cycle c
    (detection comparisons included; its total is ad_ops). Crossbar t is (col_part, row_part,
    polarity), polarity fastest (`MatrixGeometry.crossbar_index`); column j of a crossbar is
    converted by lane j % arch.pe.adcs, lanes = min(pe.adcs, crossbar.cols)
    (docs/datapath.md, "ADC operation traces"). It takes 4 x N x cycles x crossbars x lanes
    bytes. y and the other statistics are the same with or without it. `trace_segments` (int
    array, increasing, from 0): sum the trace's crossbars over segments t = trace_segments[s] ..
    trace_segments[s + 1] - 1, so ad_ops_trace is (N, input_cycles, segments, lanes); the timing
    model reads no finer (`isaacsim.mapping.segments.pe_segments`).

    noise: a `isaacsim.functional.nonideal.Noise` (`Noise.of(arch, seed)`), or None: the exact
    integer path. A Noise whose settings are all ideal takes the exact path too; any other runs
    the real-valued samples of docs/nonideal.md (`isaacsim.kernels.noisy`): y, the counts and the
    trace then follow the SAR's decisions on them, and sample_hist counts the real samples
    rounded half up and clipped to 0 .. max_sample. Each copy of the layer (`vector_copy`) is
    programmed on its own: input vector n reads copy vector_copy[n]'s conductance map
    (`isaacsim.functional.nonideal.conductances`), kept in `PackedWeights.maps` when w has one.
    """
    x, geo, ww, flipped = _geometry(x, w, arch, {"weight_bits": weight_bits, "input_bits": input_bits,
                                                 "input_signed": input_signed})
    col_sign = None if flipped is None else np.where(flipped, -1, 1).astype(np.int64)
    regs = ADCRegisters.of(arch.adc if adc is None else adc)
    vec_copy, copies = _vector_copies(vector_copy, x.shape[0])
    xw, shift, sign = slicing.pack_inputs(x, geo)
    _, msb, units, ops = regs.trace(np.arange(geo.max_sample + 1, dtype=np.int64))
    ad_trace = None
    ops_hist = None
    if noise is not None and not noise.ideal:
        acc, hist, overflows, xb_ops, xb_r2, ops_hist, ad_trace = _run_noisy(
            xw, ww, geo, arch, regs, noise, vec_copy, copies, shift, sign, col_sign, trace, trace_segments,
            w.maps if isinstance(w, PackedWeights) else None)
    elif trace:
        lanes = geo.lanes(arch.pe.adcs)
        slots, n_seg, widest = _trace_slots(geo, lanes, arch.pe.adcs, trace_segments)
        per_slot = -(-geo.xbar_cols // lanes) * int(ops.max()) * widest
        if per_slot > np.iinfo(np.int32).max:  # an entry sums one cycle of one lane: far below
            raise ValueError(f"an ADC lane's A/D operations per window ({per_slot}) overflow int32")
        acc, hist, overflows, xb_ops, xb_r2, ad_trace = fused_layer_traced(
            xw, ww, units, ops, msb, vec_copy, copies, slots, n_seg * lanes,
            shift, sign, geo.cell_bits, geo.n_slices, geo.polarities, arch.datapath.psum_bits,
            numba.get_num_threads(), col_sign,
        )
        ad_trace = ad_trace.reshape(x.shape[0], geo.input_cycles, n_seg, lanes)
    else:
        acc, hist, overflows, xb_ops, xb_r2 = fused_layer(
            xw, ww, units, ops, msb, vec_copy, copies, shift, sign, geo.cell_bits, geo.n_slices,
            geo.polarities, arch.datapath.psum_bits, numba.get_num_threads(), col_sign,
        )
    y = acc * int(regs.step) if regs.integral_step else acc * regs.step
    if flipped is not None:
        y = y + slicing.flip_correction(x, flipped, geo)
    if geo.encoding == "offset":
        y = y - slicing.offset_correction(x, geo)
    conversions = int(hist.sum())
    if ops_hist is None:
        ad_ops = int(hist @ ops)
        r2 = int(hist @ msb) if regs.has_ranges else 0
        ops_hist = np.bincount(ops, weights=hist, minlength=regs.resolution + 3).astype(np.int64)
    else:
        ad_ops, r2 = int(xb_ops.sum()), int(xb_r2.sum())
    stats = {
        "conversions": conversions,
        "ad_ops": ad_ops,
        "ops_per_conversion": ad_ops / conversions if conversions else 0.0,
        "r1_conversions": conversions - r2 if regs.has_ranges else 0,
        "r2_conversions": r2,
        "sample_hist": hist,
        "ops_hist": ops_hist,
        "overflows": int(overflows),
        "crossbar_ad_ops": _per_crossbar(xb_ops, geo),
        "crossbar_r2": _per_crossbar(xb_r2, geo),  # msb is 0 for a kind without ranges
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
        "weight_bits": geo.weight_bits,
        "input_bits": geo.input_bits,
        "input_signed": geo.input_signed,
    }
    if ad_trace is not None:
        stats["ad_ops_trace"] = ad_trace
    return y, stats
