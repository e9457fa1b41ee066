"""Data a placed layer moves per window, per copy: the one account the timing model reserves
and the energy model prices (docs/timing.md, "Data movement"; docs/energy.md). Amounts are in
bits, so they stay whole for any bit width (bytes are bits / 8).

Per window of copy k (windows are dealt round-robin: window n runs on copy n mod copies):

- *Input fetch.* Every tile holding crossbars of the copy reads the window's input rows from
  its own eDRAM once per distinct (group, row partition) and broadcasts them on its tile bus;
  each PE writes the rows of its own crossbars' (group, row partition) pairs into its input
  register. PEs of one tile that need the same rows share one read and one bus transfer. A
  window reads its whole receptive field: the input register does not keep the rows an
  overlapping window had (ISAAC's 2 KB register holds one window), so the same pixel is read
  again by every window that covers it, each read a distinct eDRAM access.
- *Copy output.* A copy on one PE sends its outputs (out channels x input bits) over its tile
  bus into the tile output register. A copy spread over several PEs sends partial sums
  (`psum_bits` each): every PE one per output it holds columns of, over its tile's bus into that
  tile's output register, where the tile shift-and-add merges those of one output; each other
  tile then sends its merged partials over the routers to the copy's last tile, whose output
  register takes them and whose shift-and-add merges them into the copy's outputs.
- *NFU.* The activation, pooling and residual-add work of the non-crossbar nodes a layer's
  output path runs (`graph_homes`: the latest crossbar layer feeding the node), per layer
  (`nfu_work`), spread evenly over its windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def _outputs_of_col_part(lp: LayerPlacement, cp: np.ndarray) -> np.ndarray:
    """Outputs (of one group) whose weight slices have columns in column partition cp."""
    g = lp.geometry
    start = cp * g.xbar_cols
    end = np.minimum(start + g.xbar_cols, g.cols_per_polarity)
    ns = g.n_slices
    return -(-end // ns) - start // ns


def copy_traffic(lp: LayerPlacement, input_bits: int, psum_bits: int) -> tuple[CopyTraffic, ...]:
    """Per copy of `lp`, what one of its windows moves, in bits (module docstring)."""
    g = lp.geometry
    byte, psum = input_bits, psum_bits
    per_copy = lp.crossbars_per_copy
    i = np.arange(lp.crossbars, dtype=np.int64)
    copy, rem = np.divmod(i, per_copy)
    group, t = np.divmod(rem, g.crossbars)
    rp = (t // g.polarities) % g.row_parts
    cp = t // (g.polarities * g.row_parts)
    pe = i // lp.crossbars_per_pe
    tile = (lp.first_pe + pe) // lp.pes_per_tile
    rows = np.minimum(g.xbar_rows, g.k - rp * g.xbar_rows)
    outs = _outputs_of_col_part(lp, cp)
    out_bits = lp.layer.out_channels * byte
    result = []
    for k in range(lp.copies):
        sl = slice(k * per_copy, (k + 1) * per_copy)
        result.append(_one_copy(tile[sl], pe[sl], group[sl], rp[sl], cp[sl], rows[sl], outs[sl], byte, psum,
                                out_bits))
    return tuple(result)


def _distinct(*cols: np.ndarray) -> np.ndarray:
    return np.unique(np.stack(cols, axis=1), axis=0)


def _one_copy(tile, pe, group, rp, cp, rows, outs, byte: int, psum: int, out_bits: int) -> CopyTraffic:
    # input fetch: (tile, group, rp) once per tile; (pe, group, rp) once per PE
    row_of = dict(zip(zip(group.tolist(), rp.tolist(), strict=True), rows.tolist(), strict=True))
    fetch = []
    pe_keys = _distinct(tile, pe, group, rp)
    for tl in np.unique(tile).tolist():
        mine = pe_keys[pe_keys[:, 0] == tl]
        tile_rows = sum(row_of[(g_, r_)] for g_, r_ in {(int(a), int(b)) for a, b in mine[:, 2:4]})
        pes = np.unique(mine[:, 1])
        ir = tuple(byte * sum(row_of[(int(a), int(b))] for a, b in mine[mine[:, 1] == p][:, 2:4]) for p in pes)
        fetch.append(TileFetch(tl, byte * tile_rows, pes, ir))
    last = int(tile.max())
    out_of = dict(zip(zip(group.tolist(), cp.tolist(), strict=True), outs.tolist(), strict=True))
    if len(np.unique(pe)) == 1:
        return CopyTraffic(last, tuple(fetch), (TilePartials(last, out_bits, 0, 0),), 0, 0, out_bits)
    # partial sums: one per (PE, group, col part) output; merged per tile, then at the last tile
    pe_parts = _distinct(tile, pe, group, cp)
    partials, final_pieces, final_bits = [], 0, 0
    for tl in np.unique(tile).tolist():
        mine = pe_parts[pe_parts[:, 0] == tl]
        pieces = sum(out_of[(int(a), int(b))] for a, b in mine[:, 2:4])
        distinct = sum(out_of[key] for key in {(int(a), int(b)) for a, b in mine[:, 2:4]})
        noc = 0 if tl == last else psum * distinct
        partials.append(TilePartials(tl, psum * pieces, pieces - distinct, noc))
        final_pieces += distinct
        final_bits += noc
    whole = sum(out_of[key] for key in {(int(a), int(b)) for a, b in _distinct(group, cp)})
    return CopyTraffic(last, tuple(fetch), tuple(partials), final_pieces - whole, final_bits, out_bits)


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
