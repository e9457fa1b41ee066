"""Per-layer analytic lower bound (docs/timing.md): hand-computed cases, early termination, monotonicity."""

import warnings
from fractions import Fraction
from pathlib import Path

import pytest

from isaacsim import load_arch
from isaacsim.mapping import LayerShape, place_network
from isaacsim.timing import build_stages, estimate_counts, layer_bound, network_bound

ROOT = Path(__file__).resolve().parents[1]
FC = LayerShape.linear("fc", 128, 8)
"""On trq_baseline: 7 slices x 8 outputs = 56 columns per polarity, 2 crossbars on one PE,
112 mapped columns, 8 input cycles, 1 vector: 896 conversions (Eq. 3), 7168 ops at 8 each."""
CONV = LayerShape.conv2d("c", 16, 8, 3, 6, padding=1)
"""K = 144 (2 row parts), 56 columns per polarity: 4 crossbars per copy, 36 vectors."""


def arch(name, **overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_arch(ROOT / "arch_configs" / f"{name}.yaml", overrides)


def bound_of(a, layer, ad_ops, conversions):
    lp = place_network([layer], a).layers[0]
    return layer_bound(lp, build_stages(a), ad_ops, conversions)


def test_fc_geometry_as_documented():
    lp = place_network([FC], arch("trq_baseline")).layers[0]
    assert (lp.crossbars, lp.n_pes, lp.geometry.mapped_cols, lp.geometry.input_cycles) == (2, 1, 112, 8)
    assert estimate_counts(lp, 8) == (7168, 896)


def test_adc_bound_single_pe():
    # one ADC at 640 MS/s x 8 bits / 100 MHz = 51.2 ops per cycle
    lb = bound_of(arch("trq_baseline", **{"pe.adcs": 1, "adc.sample_rate_msps": 640}), FC, 7168, 896)
    assert lb["adc"].cycles == Fraction(7168 * 5, 256) == 140
    assert lb["crossbar_read"].cycles == 8 * 10  # 8 input cycles x 10-cycle reads
    assert lb["shift_add"].cycles == Fraction(896, 4) / Fraction(128, 5)  # 8.75
    # a 2-byte write per S+A result and a read per 8 writes (8 input cycles), at the S+A's 102.4 a cycle
    assert lb["output_register"].cycles == Fraction(896 * 2 * 9, 8) / (Fraction(512, 5) * 2 * Fraction(9, 8))
    assert lb["edram"].cycles == Fraction(128, 32 * 12)  # 128 one-byte inputs at 32 B per 1.2 GHz tile cycle
    # the bus carries the window's 128 input bytes and the 8 one-byte outputs into the tile register
    assert lb["tile_bus"].cycles == Fraction(128 + 8, 48 * 12)
    # input register: the DACs read 2 crossbars x 128 rows x 1 bit in each of 8 input cycles (256 B)
    # and the window's 128 rows are written once (128 B); its port moves 8 x 128 / 8 x 2 B per 10 cycles
    assert lb["input_register"].cycles == Fraction(256 + 128) / Fraction(8 * 128 * 2, 8 * 10)
    assert (lb.bound, lb.bound_cycles, lb.bottleneck) == (140, 140, "adc")
    assert lb.as_dict()["bottleneck"] == "adc"


def test_crossbar_bound_with_fast_adc():
    lb = bound_of(arch("trq_baseline", **{"adc.ops_per_cycle": 1000}), FC, 7168, 896)
    assert lb["adc"].cycles == Fraction(7168, 8000)
    assert (lb.bound_cycles, lb.bottleneck) == (80, "crossbar_read")


def test_early_termination_true_and_false():
    """TRQ ideal registers: a small sample converts in 1 + n_r1 = 5 ops < R = 8."""
    over = {"pe.adcs": 1, "adc.sample_rate_msps": 640}
    on = bound_of(arch("trq", **over), FC, 896 * 5, 896)
    assert on.ad_ops == 4480 and on["adc"].cycles == Fraction(175, 2)  # 4480 / 51.2 = 87.5
    assert (on.bound_cycles, on.bottleneck) == (88, "adc")
    off = bound_of(arch("trq", **over, **{"adc.early_termination": False}), FC, 896 * 5, 896)
    assert off.ad_ops == 896 * 8 and off["adc"].cycles == 140  # every conversion keeps its 8-op slot
    assert off.bound_cycles == 140


def test_isaac_full_pe_is_balanced():
    """ISAAC: 512 x 32 weights, 16-bit offset (ISAAC's encoding, one polarity; 8 slices of 2-bit
    cells) fill one PE's 8 crossbars (4 row parts x 2 column parts); 16 input cycles of 10-cycle
    reads = 160 cycles = 16384 conversions x 8 ops on 8 ADCs at 102.4 ops per cycle."""
    a = arch("isaac")
    lp = place_network([LayerShape.linear("fc", 512, 32)], a).layers[0]
    assert (lp.crossbars, lp.n_pes) == (8, 1)
    ops, conv = estimate_counts(lp, 8)
    assert conv == 4 * 256 * 16
    lb = layer_bound(lp, build_stages(a), ops, conv)
    assert lb["adc"].cycles == lb["crossbar_read"].cycles == 160
    assert lb["shift_add"].cycles == 160
    assert lb.bottleneck == "crossbar_read"  # first in table order on a tie


def test_more_adcs_never_raise_the_bound():
    bounds = [bound_of(arch("trq_baseline", **{"pe.adcs": n, "adc.sample_rate_msps": 160}), FC, 7168, 896).bound
              for n in range(1, 17)]
    assert all(b <= a for a, b in zip(bounds, bounds[1:], strict=False))
    assert bounds[0] == 560 and bounds[-1] == 80  # 7168 ops / 12.8 per cycle, then the crossbar reads


def test_copies_split_vectors():
    layers = [CONV, FC]
    single = place_network(layers, arch("trq_baseline")).layers[0]
    a = arch("trq_baseline", **{"mapping.replication": "balance", "mapping.max_replication": 4})
    lp = place_network(layers, a).layers[0]
    assert (lp.copies, lp.vectors_per_copy, lp.n_pes) == (4, 9, 2)
    st = build_stages(a)
    lb = layer_bound(lp, st, *estimate_counts(lp, 8))
    assert lb["crossbar_read"].cycles == 9 * 8 * 10
    assert lb["adc"].cycles == Fraction(36 * 2 * 112 * 8 * 8) / (2 * 8 * Fraction(512, 5))  # 315
    assert layer_bound(single, st, *estimate_counts(single, 8))["crossbar_read"].cycles == 36 * 8 * 10


def test_network_bound():
    a = arch("trq_baseline")
    m = place_network([CONV, FC], a)
    nb = network_bound(m, build_stages(a), {lp.name: estimate_counts(lp, 8) for lp in m.layers})
    assert [lb.bound for lb in nb.layers] == [2880, 80]
    assert (nb.sequential_cycles, nb.pipelined_cycles, nb.bottleneck_layer) == (2960, 2880, "c")
    assert nb.throughput_per_s == pytest.approx(1e8 / 2880)
    assert nb.as_dict()["layers"][1]["layer"] == "fc"
    with pytest.raises(KeyError, match="fc"):
        network_bound(m, build_stages(a), {"c": (0, 0)})


def test_estimate_counts_groups_and_fractional_ops():
    dw = LayerShape.conv2d("dw", 8, 8, 3, 6, padding=1, groups=8)
    lp = place_network([dw], arch("trq")).layers[0]
    ops, conv = estimate_counts(lp, 5.5)
    assert conv == 8 * lp.geometry.conversions(36) and ops == conv * Fraction(11, 2)


def test_bad_counts():
    a = arch("trq_baseline")
    with pytest.raises(ValueError, match="ad_ops"):
        bound_of(a, FC, -1, 896)
    with pytest.raises(ValueError, match="conversions"):
        bound_of(a, FC, 10, Fraction(1, 2))
    with pytest.raises(ValueError, match="ad_ops"):
        bound_of(a, FC, 1.5, 896)
