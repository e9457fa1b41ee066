"""Data a placed layer moves per window, per copy: the one account the timing model reserves
and the energy model prices (docs/timing.md, "Data movement"; docs/energy.md). Amounts are in
bits, so they stay whole for any bit width (bytes are bits / 8). Activations move at their
tensors' own widths: a window's inputs at the layer's input bits, its outputs at its output
bits (a 4-bit layer moves half the bytes of an 8-bit one).

Per window of copy k (windows are dealt round-robin: window n runs on copy n mod copies):

- *Input fetch.* Every tile holding crossbars of the copy reads the window's input rows from
  its own eDRAM once per distinct (group, row partition) and broadcasts them on its tile bus;
  each PE writes the rows of its own crossbars' (group, row partition) pairs into its input
  register. PEs of one tile that need the same rows share one read and one bus transfer. A
  window reads its whole receptive field: the input register does not keep the rows an
  overlapping window had (ISAAC's 2 KB register holds one window), so the same pixel is read
  again by every window that covers it, each read a distinct eDRAM access.
- *Copy output.* A copy on one PE sends its outputs (out channels x output bits) over its tile
  bus into the tile output register. A copy spread over several PEs sends partial sums
  (`psum_bits` each): every PE one per output it holds columns of (its S+A has already added up
  its own crossbars' share), over its tile's bus into that tile's output register, where the
  tile shift-and-add merges those of one output; each other tile then sends its merged partials
  over the routers to the copy's last tile, whose output register takes them and whose
  shift-and-add merges them into the copy's outputs.
- *NFU.* The activation, pooling and residual-add work of the non-crossbar nodes a layer's
  output path runs (`graph_homes`: the latest crossbar layer feeding the node), per layer
  (`nfu_work`), spread evenly over its windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from isaacsim.mapping.placement import LayerPlacement, NetworkMapping


@dataclass(frozen=True)
class TileFetch:
    """One tile's part of a window's input fetch."""

    tile: int
    bits: int
    """Read from the tile's eDRAM and broadcast once on its bus."""
    pes: np.ndarray
    """Layer-local PE indices on the tile that hold crossbars of the copy."""
    ir_bits: tuple[int, ...]
    """Bits written into each of those PEs' input registers."""


@dataclass(frozen=True)
class TilePartials:
    """One tile's part of a copy's output per window."""

    tile: int
    bus_bits: int
    """Over the tile bus into the tile output register: the PEs' partial sums (or, for a copy
    on one PE, its finished outputs)."""
    adds: int
    """Tile shift-and-add merges of the partials of one output held by several PEs of the tile."""
    noc_bits: int
    """Merged partial sums sent to the copy's last tile (0 on the last tile)."""


@dataclass(frozen=True)
class CopyTraffic:
    """What one window of one copy moves (module docstring)."""

    last_tile: int
    fetch: tuple[TileFetch, ...]
    partials: tuple[TilePartials, ...]
    final_adds: int
    """Merges at the last tile of the partial sums the other tiles sent."""
    final_bits: int
    """Partial sums the last tile's output register takes from the other tiles."""
    out_bits: int
    """The copy's finished outputs of one window: out channels x input bits."""

    @property
    def spread(self) -> bool:
        """True when the copy's partial sums are merged by the tile shift-and-add."""
        return bool(self.final_adds or any(p.adds for p in self.partials) or len(self.partials) > 1)


def _output_span(lp: LayerPlacement, cp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[lo, hi): the outputs (of one group) whose weight slices have columns in column partition cp."""
    g = lp.geometry
    start = cp * g.xbar_cols
    end = np.minimum(start + g.xbar_cols, g.cols_per_polarity)
    return start // g.n_slices, -(-end // g.n_slices)


@lru_cache(maxsize=1024)
def copy_traffic(lp: LayerPlacement, input_bits: int, psum_bits: int) -> tuple[CopyTraffic, ...]:
    """Per copy of `lp`, what one of its windows moves, in bits (module docstring): its inputs at
    the layer's input bits, its outputs at its output bits (`input_bits` for a layer that gives
    none). Cached: the timing, bound and energy models all ask."""
    g = lp.geometry
    per_copy = lp.crossbars_per_copy
    i = np.arange(lp.crossbars, dtype=np.int64)
    group, t = np.divmod(i % per_copy, g.crossbars)
    rp = (t // g.polarities) % g.row_parts
    cp = t // (g.polarities * g.row_parts)
    pe = i // lp.crossbars_per_pe
    tile = (lp.first_pe + pe) // lp.pes_per_tile
    rows = np.minimum(g.xbar_rows, g.k - rp * g.xbar_rows)
    lo, hi = _output_span(lp, cp)
    in_bits = lp.layer.input_bits or input_bits
    out_bits = lp.layer.out_channels * (lp.layer.output_bits or input_bits)
    result = []
    for k in range(lp.copies):
        sl = slice(k * per_copy, (k + 1) * per_copy)
        fetch = _fetch(tile[sl], pe[sl], group[sl], rp[sl], rows[sl], in_bits)
        last = int(tile[sl].max())
        if pe[sl].min() == pe[sl].max():  # one PE: its S+A finishes the outputs
            result.append(CopyTraffic(last, fetch, (TilePartials(last, out_bits, 0, 0),), 0, 0, out_bits))
        else:
            result.append(_partials(tile[sl], pe[sl], group[sl], lo[sl], hi[sl], last, psum_bits, fetch, out_bits,
                                    g.m))
    return tuple(result)


def _fetch(tile, pe, group, rp, rows, bits: int) -> tuple[TileFetch, ...]:
    """Per tile: its distinct (group, row partition) rows read once; per PE: its own such rows."""
    row_of = dict(zip(zip(group.tolist(), rp.tolist(), strict=True), rows.tolist(), strict=True))
    n_g, n_r = int(group.max()) + 1, int(rp.max()) + 1
    code = np.unique((pe * n_g + group) * n_r + rp)  # (pe, group, rp) sorted; a PE's tile is fixed
    p_, gr = np.divmod(code, n_g * n_r)
    g_u, r_u = np.divmod(gr, n_r)
    pe_tile = np.zeros(int(pe.max()) + 1, np.int64)
    pe_tile[pe] = tile
    keys = zip(pe_tile[p_].tolist(), p_.tolist(), g_u.tolist(), r_u.tolist(), strict=True)
    by_tile: dict[int, dict[int, int]] = {}
    tile_rows: dict[int, set] = {}
    for tl, p, g_, r_ in keys:
        by_tile.setdefault(tl, {}).setdefault(p, 0)
        by_tile[tl][p] += row_of[(g_, r_)]
        tile_rows.setdefault(tl, set()).add((g_, r_))
    return tuple(TileFetch(tl, bits * sum(row_of[k] for k in tile_rows[tl]), np.array(list(pes), np.int64),
                           tuple(bits * n for n in pes.values())) for tl, pes in sorted(by_tile.items()))


def _partials(tile, pe, group, lo, hi, last: int, psum: int, fetch, out_bits: int, m: int) -> CopyTraffic:
    """A copy spread over several PEs: each PE sends one partial sum per (group, output) it holds
    columns of; each tile merges its PEs' partials of one output and sends the merged ones to
    the last tile, which merges those into the copy's outputs."""
    n = hi - lo
    x = np.repeat(np.arange(len(lo)), n)
    out = lo[x] + np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    key = group[x] * m + out  # (group, output)
    n_key = int(key.max()) + 1
    pe_tile = np.zeros(int(pe.max()) + 1, np.int64)
    pe_tile[pe] = tile
    pe_parts = np.unique(pe[x] * n_key + key)  # (PE, key) pairs; a PE's tile is fixed
    part_tile, part_key = pe_tile[pe_parts // n_key], pe_parts % n_key
    tile_parts = np.unique(part_tile * n_key + part_key) // n_key  # the tile of each distinct (tile, key)
    tiles = np.unique(tile)
    pieces = np.bincount(np.searchsorted(tiles, part_tile), minlength=len(tiles))
    distinct = np.bincount(np.searchsorted(tiles, tile_parts), minlength=len(tiles))
    partials = tuple(TilePartials(int(tl), psum * int(p), int(p - d), 0 if tl == last else psum * int(d))
                     for tl, p, d in zip(tiles, pieces, distinct, strict=True))
    whole = len(np.unique(key))
    return CopyTraffic(last, fetch, partials, int(distinct.sum()) - whole, sum(p.noc_bits for p in partials), out_bits)


# ---- the non-crossbar nodes' work on the NFU and tile adders
NFU_UNITS = ("sigmoid", "maxpool", "tile_shift_add")
"""Units the non-crossbar nodes run on: activation, pooling, residual add."""


def graph_homes(wl, mapping: NetworkMapping) -> dict[str, str | None]:
    """For every node, the crossbar layer whose output path runs it (the latest producer)."""
    order = {lp.name: i for i, lp in enumerate(mapping.layers)}
    home: dict[str, str | None] = {"input": None}
    for n in wl.nodes:
        if n.op in ("conv2d", "linear"):
            home[n.name] = n.name
        else:
            cands = [c for c in (home.get(i) for i in n.inputs) if c is not None]
            home[n.name] = max(cands, key=order.__getitem__) if cands else None
    return home


def node_work(wl, n) -> dict[str, int]:
    """{unit: work} of one node on the NFU / tile adders (docs/energy.md)."""
    work: dict[str, int] = {}
    elems = math.prod(wl.shapes[n.name])
    if n.op == "relu" or getattr(n, "activation", None):
        work["sigmoid"] = elems
    if n.op in ("maxpool", "avgpool"):
        kh, kw = (n.kernel, n.kernel) if isinstance(n.kernel, int) else tuple(n.kernel)
        work["maxpool"] = elems * kh * kw
    elif n.op == "global_avgpool":
        work["maxpool"] = math.prod(wl.shapes[n.inputs[0]])
    elif n.op == "add":
        work["tile_shift_add"] = elems * (len(n.inputs) - 1)
    return work


def nfu_work(wl, mapping: NetworkMapping) -> dict[str, dict[str, int]]:
    """{layer: {unit: work per inference}}: each crossbar layer's fused activation and the
    non-crossbar nodes its output path runs."""
    home = graph_homes(wl, mapping)
    out: dict[str, dict[str, int]] = {lp.name: dict.fromkeys(NFU_UNITS, 0) for lp in mapping.layers}
    for n in wl.nodes:
        layer = home.get(n.name)
        if layer is None:
            continue
        for unit, w in node_work(wl, n).items():
            out[layer][unit] += w
    return out


__all__ = ["NFU_UNITS", "CopyTraffic", "TileFetch", "TilePartials", "copy_traffic", "graph_homes", "nfu_work",
           "node_work"]
