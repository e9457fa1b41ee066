"""Numba kernels: pure functions on integer arrays (no config objects, no simpy), compiled with caching.

`sar` traces one SAR conversion (range detection, then bit-by-bit binary search) and tabulates it
over every possible bit-line sample; `fused` runs a whole layer (bit-serial samples, conversion,
shift-and-add with finite partial-sum registers) without materialising the samples, and counts
each column's A/D operations and range-2 conversions per layer copy; `fused_layer_traced` also
sums each window's A/D operations per crossbar and ADC lane; `packing` packs inputs and weights
into bit-plane words; `noisy` runs a layer with real-valued samples when any analog
non-ideality is on (docs/nonideal.md). The heavy kernels are `nogil` functions over a range of items, which
`threads` deals out to a thread pool as a work queue of chunks.
"""

from isaacsim.kernels.fused import fused_layer, fused_layer_traced
from isaacsim.kernels.packing import pack_input_planes
from isaacsim.kernels.popcount import popcount64
from isaacsim.kernels.sar import IDEAL, TRQ, UNIFORM, sar_convert, sar_convert_array, sar_table

__all__ = [
    "IDEAL",
    "TRQ",
    "UNIFORM",
    "fused_layer",
    "fused_layer_traced",
    "pack_input_planes",
    "popcount64",
    "sar_convert",
    "sar_convert_array",
    "sar_table",
]
