"""Slow checks (run with `python -m pytest -m slow`): full-size layers on the shipped presets.

The fast suite covers small random shapes; these run layers with full 128x128 crossbars,
several row and column partitions, and the presets' real number formats (and layers narrower
than them, at their own bits), through `mvm` against the slow plane-by-plane reference of
tests/support/datapath.py.
"""

import numpy as np
import pytest

import isaacsim
from isaacsim.adc import ADCRegisters
from isaacsim.mapping.geometry import MatrixGeometry
from tests.support.datapath import reference_layer

pytestmark = pytest.mark.slow

ADCS = [
    {"adc.mode": "ideal"},
    {"adc.mode": "uniform", "adc.bits": 5},
    {"adc.mode": "trq", "adc.n_r1": 4, "adc.n_r2": 4, "adc.m": 4},
    {"adc.mode": "trq", "adc.n_r1": 3, "adc.n_r2": 3, "adc.m": 3, "adc.bias": 1},
]


BITS = [None, {"weight_bits": 4, "input_bits": 4}, {"weight_bits": 3, "input_bits": 2},
        {"weight_bits": 2, "input_bits": 1}]
"""The arch's widths, then layers narrower than them (the layer's own weight and input bits)."""


@pytest.mark.parametrize("bits", BITS, ids=lambda b: "arch" if b is None else f"w{b['weight_bits']}a{b['input_bits']}")
@pytest.mark.parametrize("adc", ADCS, ids=lambda a: "-".join(str(v) for v in a.values()))
@pytest.mark.parametrize("preset", ["trq_baseline", "isaac"])
def test_full_size_layer_matches_reference(preset, adc, bits):
    arch = isaacsim.load_arch(preset, overrides={**adc, "chip.auto_tiles": True})
    d = arch.datapath
    kw, ki = (d.weight_bits, d.input_bits) if bits is None else (bits["weight_bits"], bits["input_bits"])
    rng = np.random.default_rng(7)
    n, k, m = 40, 3 * 128 + 77, 150  # 4 row partitions; columns not a multiple of 128
    x = rng.integers(0, 2**ki, (n, k))
    lim = 2 ** (kw - 1) - 1
    w = rng.integers(-lim, lim + 1, (k, m))
    y, stats = isaacsim.mvm(x, w, arch, **(bits or {}))
    y_ref, hist_ref, ovf_ref = reference_layer(x, w, arch, ADCRegisters.of(arch.adc), bits)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(stats["sample_hist"], hist_ref)
    assert stats["overflows"] == ovf_ref
    assert stats["conversions"] == MatrixGeometry.of(k, m, arch, **(bits or {})).conversions(n)
    if adc["adc.mode"] == "ideal" and arch.adc.resolution >= arch.lossless_bits and stats["overflows"] == 0:
        np.testing.assert_array_equal(y, x @ w)  # isaac's 16-bit registers wrap on 16-bit operands
