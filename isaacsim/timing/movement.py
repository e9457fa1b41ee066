"""Data movement in the network pipeline: every transfer reserves the rate-limited units it
passes (`isaacsim.timing.resources`), in the amounts `isaacsim.mapping.traffic` gives, which are
the amounts the energy model prices (docs/timing.md, "Data movement").

- `fetch`: a window's input rows, from each tile's eDRAM over its bus (read and broadcast
  stream together) into the input registers of the copy's PEs on that tile.
- `source`: a released output's way to the NFU: partial sums over each tile's bus into its
  output register, merged by the tile shift-and-add, sent over the routers to the copy's last
  tile, merged there; then the NFU (activation, pooling, residual add).
- `deliver`: the finished output to every tile of a consumer: its tile bus when the consumer
  has the source tile, else one multicast over the routers between them; then each tile's
  eDRAM port writes it.
- `network_input` / `network_output`: the chip's off-chip links carry the input in and the
  output out.

Streams that pass two units at once (eDRAM and bus, bus and output register) end when the
slower one does; a router hop adds the router's latency.
"""

from __future__ import annotations

from isaacsim.timing.resources import Resources
from isaacsim.timing.state import LayerState


class Movement:
    """The transfers of one run on its `Resources`."""

    def __init__(self, res: Resources, tiles_per_router: int, bits: int):
        self.res, self.tpr, self.bits = res, tiles_per_router, bits
        """`bits`: of one activation element."""
        self.hop = res.latency("noc_link")
        self._fetch: dict[str, list] = {}

    def _fetch_plan(self, L: LayerState) -> list:
        """Per copy: [(tile, bits, [(layer PE, global PE, input-register bits), ...]), ...]."""
        plan = self._fetch.get(L.name)
        if plan is None:
            lp = L.lp
            plan = self._fetch[L.name] = [
                [(f.tile, f.bits, [(e, lp.first_pe + e, b) for e, b in zip(f.pes.tolist(), f.ir_bits, strict=True)])
                 for f in tr.fetch] for tr in L.traffic]
        return plan

    def fetch(self, L: LayerState, n: int, t: int) -> None:
        """Window n's inputs from cycle t; each PE's `pe_ready` takes the cycle its rows are in."""
        res, ready = self.res, L.pe_ready
        for tile, bits, pes in self._fetch_plan(L)[n % L.lp.copies]:
            end = max(res.reserve("edram", tile, t, bits), res.reserve("tile_bus", tile, t, bits))
            for e, pe, b in pes:
                r = res.reserve("input_register", pe, end, b)
                if r > ready[e]:
                    ready[e] = r

    def source(self, L: LayerState, n: int, t: int) -> int:
        """Output n, released at t, through its merges and the NFU; the cycle it is ready to send."""
        res = self.res
        tr = L.traffic[n % L.lp.copies]
        last, arrive = tr.last_tile, t
        for p in tr.partials:
            a = max(res.reserve("tile_bus", p.tile, t, p.bus_bits),
                    res.reserve("tile_output_register", p.tile, t, p.bus_bits))
            a = res.reserve("tile_shift_add", p.tile, a, p.adds)
            if p.noc_bits:
                a = self._routers(p.tile, (last,), a, p.noc_bits)
            if a > arrive:
                arrive = a
        arrive = res.reserve("tile_output_register", last, arrive, tr.final_bits)
        done = res.reserve("tile_shift_add", last, arrive, tr.final_adds)
        for unit, total in L.nfu.items():  # the layer's NFU work, split evenly over its outputs
            n_out = len(L.ready)
            done = res.reserve(unit, last, done, (n + 1) * total // n_out - n * total // n_out)
        if done > L.out_end:
            L.out_end = done
        return done

    def deliver(self, src_tile: int, dst_tiles: tuple[int, ...], t: int, bits: int) -> int:
        """`bits` from `src_tile` at t into the eDRAM of every tile in `dst_tiles`; the cycle the
        last write ends."""
        res = self.res
        on_bus = res.reserve("tile_bus", src_tile, t, bits) if src_tile in dst_tiles else t
        remote = [d for d in dst_tiles if d != src_tile]
        over_noc = self._routers(src_tile, remote, t, bits) if remote else t
        end = t
        for d in dst_tiles:
            e = res.reserve("edram", d, on_bus if d == src_tile else over_noc, bits)
            if e > end:
                end = e
        return end

    def _routers(self, src_tile: int, dst_tiles, t: int, bits: int) -> int:
        """One multicast over the line of routers from `src_tile`'s router to the farthest
        destination's on either side (`isaacsim.mapping.noc.multicast_hops`); the arrival cycle."""
        r = src_tile // self.tpr
        routers = [d // self.tpr for d in dst_tiles]
        lo, hi = min(r, *routers), max(r, *routers)
        end = t
        for k in range(lo, hi + 1):
            e = self.res.reserve("noc_link", k, t, bits)
            if e > end:
                end = e
        return end + (hi - lo + 1) * self.hop

    def network_input(self, L: LayerState, bits: int) -> int:
        """The network input over the off-chip links into layer L's first tile, then to its tiles."""
        t = self.res.reserve("hypertransport", 0, 0, bits)
        return self.deliver(L.lp.tiles[0], L.lp.tiles, t, bits)

    def network_output(self, t: int, bits: int) -> int:
        """The network output leaves over the off-chip links from cycle t."""
        return self.res.reserve("hypertransport", 0, t, bits)


__all__ = ["Movement"]
