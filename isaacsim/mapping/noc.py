"""The on-chip network's geometry: router hops between tiles, the one formula that the timing
model (transfer latency) and the energy model (router byte-hops) both use.

Routers form a line; each serves `tiles_per_router` consecutive tiles (ISAAC: 4). A transfer
between two tiles on one router still enters that router (1 hop); each router crossed adds one.
"""

from __future__ import annotations

from collections.abc import Iterable


def router_hops(src_tile: int, dst_tile: int, tiles_per_router: int) -> int:
    """Router hops between two tiles: 0 on the same tile, else 1 + routers apart."""
    if src_tile == dst_tile:
        return 0
    return 1 + abs(src_tile // tiles_per_router - dst_tile // tiles_per_router)


def multicast_hops(src_tile: int, dst_tiles: Iterable[int], tiles_per_router: int) -> int:
    """Router hops of one multicast from `src_tile` to the tiles `dst_tiles`: the bytes cross each
    link between the source's router and the farthest destination router on either side once,
    plus the hop into the first router (so one destination costs `router_hops`); 0 when every
    destination is the source tile."""
    others = [d // tiles_per_router for d in dst_tiles if d != src_tile]
    if not others:
        return 0
    r = src_tile // tiles_per_router
    return 1 + max(r, *others) - min(r, *others)


__all__ = ["multicast_hops", "router_hops"]
