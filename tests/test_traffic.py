"""`isaacsim.mapping.traffic.copy_traffic` against a slow reference that walks every crossbar
and every column of a copy: the input rows each tile and each PE fetch, the partial sums each
PE sends, what each tile merges and forwards, and what the last tile merges."""

from __future__ import annotations

import dataclasses
import warnings

from hypothesis import given, settings
from hypothesis import strategies as st

import isaacsim
from isaacsim.mapping.layers import LayerShape
from isaacsim.mapping.placement import place_network
from isaacsim.mapping.traffic import copy_traffic


def reference(lp, bits: int, psum: int) -> list[dict]:
    """Per copy: {fetch: {tile: (bits, {pe: bits})}, partials: {tile: (bus, adds, noc)}, final: (adds, bits)}."""
    g = lp.geometry
    out = []
    for k in range(lp.copies):
        xbars = []
        for i in range(k * lp.crossbars_per_copy, (k + 1) * lp.crossbars_per_copy):
            t = i % lp.crossbars_per_copy % g.crossbars
            group = i % lp.crossbars_per_copy // g.crossbars
            rp, cp = t // g.polarities % g.row_parts, t // (g.polarities * g.row_parts)
            pe = i // lp.crossbars_per_pe
            tile = (lp.first_pe + pe) // lp.pes_per_tile
            rows = min(g.xbar_rows, g.k - rp * g.xbar_rows)
            cols = range(cp * g.xbar_cols, min((cp + 1) * g.xbar_cols, g.cols_per_polarity))
            outputs = {(group, c // g.n_slices) for c in cols}
            xbars.append((tile, pe, (group, rp), rows, outputs))
        rows_of = {key: rows for _, _, key, rows, _ in xbars}
        fetch = {}
        for tile in sorted({x[0] for x in xbars}):
            tile_keys = {x[2] for x in xbars if x[0] == tile}
            pes = {}
            for pe in sorted({x[1] for x in xbars if x[0] == tile}):
                pes[pe] = bits * sum(rows_of[key] for key in {x[2] for x in xbars if x[1] == pe})
            fetch[tile] = (bits * sum(rows_of[key] for key in tile_keys), pes)
        last = max(x[0] for x in xbars)
        if len({x[1] for x in xbars}) == 1:
            partials = {last: (lp.layer.out_channels * bits, 0, 0)}
            final = (0, 0)
        else:
            partials, merged = {}, 0
            for tile in sorted({x[0] for x in xbars}):
                per_pe = [set().union(*(x[4] for x in xbars if x[1] == pe)) for pe in sorted({x[1] for x in xbars
                                                                                            if x[0] == tile})]
                union = set().union(*per_pe)
                pieces = sum(len(s) for s in per_pe)
                partials[tile] = (psum * pieces, pieces - len(union), 0 if tile == last else psum * len(union))
                merged += len(union)
            whole = set().union(*(x[4] for x in xbars))
            final = (merged - len(whole), sum(p[2] for p in partials.values()))
        out.append({"fetch": fetch, "partials": partials, "final": final, "last": last})
    return out


def of(tr) -> dict:
    return {"fetch": {f.tile: (f.bits, dict(zip(f.pes.tolist(), f.ir_bits, strict=True))) for f in tr.fetch},
            "partials": {p.tile: (p.bus_bits, p.adds, p.noc_bits) for p in tr.partials},
            "final": (tr.final_adds, tr.final_bits), "last": tr.last_tile}


def arch(**over):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return isaacsim.load_arch("trq_baseline", overrides=over)


SMALL = {"crossbar.rows": 16, "crossbar.cols": 16, "pe.crossbars": 4, "tile.pes": 3}


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 80), m=st.integers(1, 24), copies=st.integers(1, 3), first_pe=st.integers(0, 5),
       weight_bits=st.sampled_from([4, 8]), cell_bits=st.sampled_from([1, 2, 3]),
       encoding=st.sampled_from(["differential", "offset"]), input_bits=st.sampled_from([4, 8]),
       psum_bits=st.sampled_from([12, 16]))
def test_copy_traffic_equals_the_reference(k, m, copies, first_pe, weight_bits, cell_bits, encoding, input_bits,
                                           psum_bits):
    a = arch(**SMALL, **{"datapath.weight_bits": weight_bits, "crossbar.cell_bits": cell_bits,
                         "datapath.weight_encoding": encoding, "datapath.input_bits": input_bits})
    lp = place_network([LayerShape.linear("fc", k, m)], a).layers[0]
    lp = dataclasses.replace(lp, copies=copies, first_pe=first_pe,
                             n_pes=-(-copies * lp.crossbars_per_copy // lp.crossbars_per_pe))
    got = [of(tr) for tr in copy_traffic(lp, input_bits, psum_bits)]
    assert got == reference(lp, input_bits, psum_bits)


def test_an_output_split_over_two_column_partitions_is_merged():
    """3 slices per output on 16-column crossbars: output 5 has columns 15, 16 and 17, one in the
    first column partition and two in the second; on two PEs its two partials are merged once."""
    a3 = arch(**{**SMALL, "pe.crossbars": 1, "datapath.weight_bits": 3, "crossbar.cell_bits": 1,
                 "datapath.weight_encoding": "offset"})
    lp = place_network([LayerShape.linear("fc", 8, 8)], a3).layers[0]
    assert (lp.geometry.n_slices, lp.geometry.col_parts, lp.n_pes) == (3, 2, 2)
    (tr,) = copy_traffic(lp, 8, 16)
    # PE 0 holds outputs 0..5 (columns 0..15), PE 1 outputs 5..7 (columns 16..23): 6 + 3 partials
    assert sum(p.bus_bits for p in tr.partials) == 16 * 9
    assert sum(p.adds for p in tr.partials) + tr.final_adds == 9 - 8
