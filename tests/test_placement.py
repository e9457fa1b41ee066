"""Placement of layer shapes onto crossbars, PEs and tiles; replication; capacity errors."""

import math
from pathlib import Path

import pytest

import isaacsim
from isaacsim import MappingError, load_arch
from isaacsim.mapping import LayerShape, MatrixGeometry, place_network, replication_targets

ROOT = Path(__file__).resolve().parents[1]
TRQ = ROOT / "arch_configs" / "trq.yaml"


def arch(**overrides):
    return load_arch(TRQ, overrides)


def lenet5():
    return [
        LayerShape.conv2d("conv1", 1, 6, 5, 32),
        LayerShape.conv2d("conv2", 6, 16, 5, 14),
        LayerShape.linear("fc1", 400, 120),
        LayerShape.linear("fc2", 120, 84),
        LayerShape.linear("fc3", 84, 10),
    ]


def resnet_ish():
    """A small ResNet-20-like list (CIFAR, 32x32), with a 1x1 downsample and a depthwise conv."""
    return [
        LayerShape.conv2d("stem", 3, 16, 3, 32, padding=1),
        LayerShape.conv2d("s1", 16, 16, 3, 32, padding=1),
        LayerShape.conv2d("s2_down", 16, 32, 1, 32, stride=2),
        LayerShape.conv2d("s2", 16, 32, 3, 32, stride=2, padding=1),
        LayerShape.conv2d("s2_dw", 32, 32, 3, 16, padding=1, groups=32),
        LayerShape.conv2d("s3", 32, 64, 3, 16, stride=2, padding=1),
        LayerShape.linear("fc", 64, 10),
    ]


def resnet18():
    """ResNet-18 (ImageNet, 224x224) conv and fc shapes; pooling layers hold no weights."""
    layers = [LayerShape.conv2d("conv1", 3, 64, 7, 224, stride=2, padding=3)]
    hw, cin = 56, 64
    for stage, cout in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            s = 2 if (stage > 1 and block == 0) else 1
            p = f"layer{stage}.{block}"
            layers.append(LayerShape.conv2d(f"{p}.conv1", cin, cout, 3, hw, stride=s, padding=1))
            out = layers[-1].output_hw[0]
            layers.append(LayerShape.conv2d(f"{p}.conv2", cout, cout, 3, out, padding=1))
            if s == 2:
                layers.append(LayerShape.conv2d(f"{p}.downsample", cin, cout, 1, hw, stride=2))
            cin, hw = cout, out
    layers.append(LayerShape.linear("fc", 512, 1000))
    return layers


def tiles_needed(layers, a, copies=None):
    """Independent count: per layer ceil(crossbars / per-PE), then ceil(PEs / per-tile)."""
    copies = copies or [1] * len(layers)
    pes = 0
    for layer, c in zip(layers, copies, strict=True):
        g = MatrixGeometry.of(layer.k, layer.m, a)
        pes += math.ceil(c * layer.groups * g.crossbars / a.pe.crossbars)
    return math.ceil(pes / a.tile.pes)


def check_invariants(mapping, layers, a):
    seen = set()
    prev_last_pe = -1
    for lp, layer in zip(mapping.layers, layers, strict=True):
        g = MatrixGeometry.of(layer.k, layer.m, a)
        assert lp.crossbars == lp.copies * layer.groups * g.crossbars
        addrs = [tuple(r) for r in lp.addresses().tolist()]
        assert len(addrs) == lp.crossbars
        assert addrs[0][2] == 0, "each layer starts on slot 0 of a fresh PE"
        first_pe = addrs[0][0] * a.tile.pes + addrs[0][1]
        assert first_pe == prev_last_pe + 1, "layers fill PEs in order"
        prev_last_pe = addrs[-1][0] * a.tile.pes + addrs[-1][1]
        assert {(t, p) for t, p, _ in addrs} == set(lp.pes)
        for t, p, s in addrs:
            assert 0 <= p < a.tile.pes and 0 <= s < a.pe.crossbars
            assert t < mapping.tiles
        seen_before = len(seen)
        seen.update(addrs)
        assert len(seen) == seen_before + len(addrs), "no crossbar slot is used twice"
    assert mapping.crossbars_used == len(seen)
    assert mapping.tiles_used <= mapping.tiles


@pytest.mark.parametrize("make", [lenet5, resnet_ish, resnet18])
def test_crossbar_totals_and_unique_slots(make):
    a = arch()
    layers = make()
    m = place_network(layers, a)
    assert m.crossbars_used == sum(layer.groups * layer.geometry(a).crossbars for layer in layers)
    assert m.tiles_used == tiles_needed(layers, a)
    check_invariants(m, layers, a)


def test_layers_start_on_fresh_pes_and_never_share_a_pe():
    a = arch(**{"pe.crossbars": 8})
    layers = lenet5()
    m = place_network(layers, a)
    owners = {}
    for lp in m.layers:
        for tp in lp.pes:
            assert tp not in owners, f"PE {tp} shared by {owners.get(tp)} and {lp.name}"
            owners[tp] = lp.name
    assert m.pe_layers() == owners
    # lenet fc3: 84x10 -> 1 row part, 70 cols -> 1 col part, 2 polarities -> 2 crossbars on 1 PE
    assert m.layer("fc3").n_pes == 1 and m.layer("fc3").crossbars == 2


def test_crossbar_address_order_keeps_twins_adjacent():
    a = arch()
    layer = LayerShape.conv2d("c", 128, 128, 3, 8, padding=1)
    lp = place_network([layer], a).layers[0]
    g = lp.geometry
    assert (g.row_parts, g.col_parts, g.polarities) == (9, 7, 2)
    assert lp.crossbar_index(polarity=1) == 1
    assert lp.crossbar_index(row_part=1) == 2
    assert lp.crossbar_index(col_part=1) == 18
    assert lp.crossbar_address(col_part=6, row_part=8, polarity=1) == lp.address(125)
    assert lp.address(125) == (1, 3, 5)  # crossbar 125 -> PE 15 -> tile 1, PE 3, slot 5
    with pytest.raises(IndexError):
        lp.crossbar_index(row_part=9)


def test_too_big_network_raises_with_needed_tiles():
    layers = resnet18()
    a = arch(**{"chip.tiles": 4})
    need = tiles_needed(layers, a)
    assert need > 4
    with pytest.raises(MappingError) as err:
        place_network(layers, a)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"needs {need} tiles" in msg and f"chip.tiles: {need}" in msg and "chip.auto_tiles: true" in msg
    assert "chip.tiles=4" in msg


def test_auto_tiles_grows_chip():
    layers = resnet18()
    a = arch(**{"chip.tiles": 4, "chip.auto_tiles": True})
    m = place_network(layers, a)
    need = tiles_needed(layers, a)
    assert m.tiles == need and m.tiles_used == need and m.grown and m.tiles_configured == 4
    assert m.summary()["grown"] is True
    # a chip that is already big enough does not shrink
    m2 = place_network(lenet5(), a)
    assert m2.tiles == 4 and not m2.grown


def test_replication_none_gives_one_copy():
    m = place_network(lenet5(), arch())
    assert [lp.copies for lp in m.layers] == [1] * 5


@pytest.mark.parametrize("make, cap", [(lenet5, 4096), (resnet_ish, 128)])
def test_balance_replicates_early_layers(make, cap):
    layers = make()
    a = arch(**{"mapping.replication": "balance", "mapping.max_replication": cap})
    n = [layer.n_vectors for layer in layers]
    wanted = [min(cap, math.ceil(v / min(n))) for v in n]
    assert tiles_needed(layers, a, wanted) <= 168
    m = place_network(layers, a)
    copies = [lp.copies for lp in m.layers]
    assert copies == wanted
    assert copies[0] > copies[-1] == 1
    assert copies == sorted(copies, reverse=True)  # these lists shrink spatially layer by layer
    if max(wanted) < cap:
        assert max(lp.vectors_per_copy for lp in m.layers) <= min(n)
    check_invariants(m, layers, a)


def test_balance_respects_max_replication():
    layers = lenet5()
    a = arch(**{"mapping.replication": "balance", "mapping.max_replication": 8})
    m = place_network(layers, a)
    assert [lp.copies for lp in m.layers] == [8, 8, 1, 1, 1]
    assert replication_targets(layers, 8) == [8, 8, 1, 1, 1]
    assert replication_targets(layers, 1000) == [784, 100, 1, 1, 1]


def test_balance_shrinks_to_capacity_but_never_below_one():
    layers = resnet_ish()
    base = arch(**{"mapping.replication": "balance", "mapping.max_replication": 4096})
    wanted = replication_targets(layers, 4096)
    need_full = tiles_needed(layers, base, wanted)
    need_one = tiles_needed(layers, base)
    assert need_one < need_full
    tiles = (need_one + need_full) // 2
    a = arch(**{"mapping.replication": "balance", "mapping.max_replication": 4096, "chip.tiles": tiles})
    m = place_network(layers, a)
    copies = [lp.copies for lp in m.layers]
    assert m.tiles == tiles and m.tiles_used <= tiles
    assert all(1 <= c <= w for c, w in zip(copies, wanted, strict=True))
    assert copies[0] > 1 and copies[0] >= copies[-1]
    # proportional: copies = max(1, floor(f * wanted)) for one common f
    f = max(c / w for c, w in zip(copies, wanted, strict=True) if c > 1)
    assert copies == [max(1, math.floor(f * w + 1e-9)) for w in wanted]
    check_invariants(m, layers, a)
    # with only room for one copy each, balance degrades to one copy
    a1 = arch(**{"mapping.replication": "balance", "chip.tiles": need_one})
    assert all(lp.copies >= 1 for lp in place_network(layers, a1).layers)
    assert place_network(layers, a1).tiles_used <= need_one


def test_balance_with_auto_tiles_holds_all_wanted_copies():
    layers = lenet5()
    a = arch(**{"mapping.replication": "balance", "mapping.max_replication": 1000,
                "chip.tiles": 1, "chip.auto_tiles": True})
    m = place_network(layers, a)
    assert [lp.copies for lp in m.layers] == [784, 100, 1, 1, 1]
    assert m.tiles == tiles_needed(layers, a, [784, 100, 1, 1, 1])


def test_resnet18_fits_trq():
    a = arch()
    layers = resnet18()
    m = place_network(layers, a)
    s = m.summary()
    assert s["tiles_used"] == tiles_needed(layers, a) <= 168
    assert s["crossbars_used"] == sum(layer.geometry(a).crossbars for layer in layers)
    assert len(s["layers"]) == 21
    assert s["layers"][0]["matrix"] == [147, 64] and s["layers"][0]["vectors"] == 112 * 112


def test_summary_keys():
    s = place_network(lenet5(), arch()).summary()
    for key in ("tiles", "tiles_used", "pes_used", "pes_available", "crossbars_used",
                "crossbars_available", "crossbar_use", "layers", "replication"):
        assert key in s
    for key in ("crossbars", "pes", "tiles", "copies", "cell_utilisation"):
        assert key in s["layers"][0]


def test_bad_inputs():
    a = arch()
    with pytest.raises(MappingError):
        place_network([], a)
    with pytest.raises(MappingError, match="more than once"):
        place_network([LayerShape.linear("x", 4, 4), LayerShape.linear("x", 4, 4)], a)
    with pytest.raises(ValueError, match="'bad'.*divisible by groups"):
        LayerShape.conv2d("bad", 6, 4, 3, 8, groups=4)
    with pytest.raises(ValueError, match="'tiny'.*does not fit"):
        LayerShape.conv2d("tiny", 1, 1, 5, 3)
    with pytest.raises(ValueError, match="'lin'"):
        LayerShape("lin", "linear", 4, 4, kernel=3)
    with pytest.raises(ValueError, match="kind"):
        LayerShape("k", "pool", 4, 4)


def test_docs_worked_example():
    """docs/mapping.md section 5: 3x3, 128 -> 128 conv on trq.yaml."""
    a = arch()
    lp = place_network([LayerShape.conv2d("c", 128, 128, 3, 28, padding=1)], a).layers[0]
    g = lp.geometry
    assert (g.k, g.m, g.n_slices, g.row_parts, g.col_parts, lp.crossbars) == (1152, 128, 7, 9, 7, 126)
    assert (lp.n_pes, lp.tiles, g.cell_utilisation, g.input_cycles) == (16, (0, 1), 1.0, 8)
    assert g.conversions(lp.layer.n_vectors) == 101_154_816


def test_docs_resnet18_numbers():
    """docs/mapping.md section 6."""
    m = place_network(resnet18(), arch())
    assert (m.crossbars_used, m.pes_used, m.tiles_used) == (10038, 1257, 105)
    with pytest.raises(MappingError, match=r"needs 105 tiles \(10038 crossbars on 1257 PEs"):
        place_network(resnet18(), arch(**{"chip.tiles": 4}))
    mb = place_network(resnet18(), arch(**{"mapping.replication": "balance"}))
    assert (mb.crossbars_used, mb.tiles_used) == (12468, 131)


def test_mapping_attaches_per_layer_adc_registers():
    """Each placed layer carries its ADC registers: named ones from `registers`, the arch's otherwise."""
    from isaacsim.adc.registers import ADCRegisters

    arch = isaacsim.load_arch("trq")
    layers = [LayerShape.linear("fc1", 64, 32), LayerShape.linear("fc2", 32, 10)]
    custom = {"mode": "uniform", "resolution": 8, "bits": 5}
    net = place_network(layers, arch, registers={"fc2": custom})
    assert net.layer("fc1").adc == ADCRegisters.of(arch.adc)
    assert net.layer("fc2").adc == ADCRegisters.of(custom)
    assert net.layer("fc2").summary()["adc"]["bits"] == 5
    with pytest.raises(isaacsim.ConfigError, match="fc3"):
        place_network(layers, arch, registers={"fc3": custom})
