"""Shared, rate-limited hardware in the network pipeline (docs/timing.md, "Data movement").

A `Server` is one unit (or a tile's units of one kind together) that does `rate` items per
system cycle, an exact Fraction p/q. It serves requests in the order they are made, each from
max(the request's cycle, the end of the previous one) for work / rate cycles, and never fills
a gap an earlier request left (so a schedule is always feasible, and the unit's utilisation
cannot exceed 1). Work is a whole number of items (bits for the units that move bytes, so any
bit width stays whole); times are kept in integer ticks of 1/p cycle, so they are exact, and a
request ends on the first whole cycle at or after its last tick.

`Resources` holds the servers of one run, made on first use: per tile its eDRAM port, tile bus,
output register, shift-and-add and NFU units; per PE its input register; per router; and the
chip's off-chip links. Each records the work it did, which the report turns into utilisation.
"""

from __future__ import annotations

from fractions import Fraction

from isaacsim.timing.stages import Stages

BYTE_UNITS = frozenset({"bytes"})
"""Stage units counted in bits by the servers (rates x 8)."""


class Server:
    """One rate-limited unit (module docstring)."""

    __slots__ = ("rate", "_p", "_q", "_free", "work")

    def __init__(self, rate: Fraction):
        if rate <= 0:
            raise ValueError(f"a server needs a positive rate, got {rate}")
        self.rate = Fraction(rate)
        self._p, self._q = self.rate.numerator, self.rate.denominator
        self._free = 0
        self.work = 0

    def reserve(self, t: int, work: int) -> int:
        """Serve `work` items from cycle `t` on (after what is already reserved); the end cycle."""
        if not work:
            return t
        self.work += work
        p = self._p
        start = t * p
        if self._free > start:
            start = self._free
        self._free = free = start + work * self._q
        return -(-free // p)


class Resources:
    """The servers of one run (module docstring), keyed by (stage, instance)."""

    def __init__(self, stages: Stages, tiles_per_router: int = 1, ir_write_share: Fraction = Fraction(1),
                 pes_per_tile: int = 1):
        """`ir_write_share`: the part of the input register's port the window writes get (the DACs'
        reads, not reserved, take the rest: `write_share`)."""
        self.stages, self.tiles_per_router, self.pes_per_tile = stages, tiles_per_router, pes_per_tile
        self._rates = {}
        """Items per cycle of one instance: a PE's or a tile's units of a kind together, the
        chip's off-chip links together; a unit shared by several tiles (a router) is one
        instance per unit. Bits for the stages that move bytes."""
        for s in stages.stages:
            r = s.rate * s.count if s.count >= 1 else s.rate
            if s.name == "input_register":
                r *= ir_write_share
            if r > 0:
                self._rates[s.name] = r * 8 if s.unit in BYTE_UNITS else r
        self.servers: dict[str, dict[int, Server]] = {name: {} for name in self._rates}
        self.timeline = None
        """An `isaacsim.timing.events.Timeline`: each reservation becomes a span on its unit's track."""

    def has(self, stage: str) -> bool:
        return stage in self._rates

    def rate(self, stage: str) -> Fraction:
        """Items (bits for byte units) per cycle of one instance of `stage`."""
        return self._rates[stage]

    def reserve(self, stage: str, index: int, t: int, work: int) -> int:
        """`work` on instance `index` of `stage` from cycle t; t itself when the arch has no such unit."""
        if not work:
            return t
        servers = self.servers.get(stage)
        if servers is None:
            return t
        s = servers.get(index)
        if s is None:
            s = servers[index] = Server(self._rates[stage])
        if self.timeline is None:
            return s.reserve(t, work)
        start = max(t, s._free // s._p)
        end = s.reserve(t, work)
        self.timeline.add(self.track(stage, index), stage, start, end - start, work=int(work))
        return end

    def track(self, stage: str, index: int) -> str:
        """The trace track of one instance: `tile T / <stage>`, `tile T / pe P / input_register`,
        `router R`, `chip / hypertransport`."""
        if stage == "noc_link":
            return f"noc / router {index}"
        if stage == "hypertransport":
            return "chip / hypertransport"
        if stage == "input_register":
            tile, pe = divmod(index, self.pes_per_tile)
            return f"tile {tile} / pe {pe} / input_register"
        return f"tile {index} / {stage}"

    def latency(self, stage: str) -> int:
        return self.stages[stage].latency_cycles if stage in self.stages else 0

    def work(self, stage: str) -> dict[int, int]:
        """{instance: work done} of one stage (bits for byte units)."""
        return {i: s.work for i, s in self.servers.get(stage, {}).items()}


def write_share(dac_bits: int, input_bits: int, input_cycles: int) -> Fraction:
    """The window writes' share of the input register's port: its full rate is the DACs' reads
    (DAC bits per row and read) plus the writes (input bits per row per `input_cycles` reads)."""
    writes = Fraction(input_bits, input_cycles)
    return writes / (dac_bits + writes)


__all__ = ["BYTE_UNITS", "Resources", "Server", "write_share"]
