"""The system clock as one exact type, and exact numbers from config values.

The YAML gives `clock_mhz` as a number; everything downstream (stage latencies in cycles, rates
per cycle, seconds of a run, the trace's time scale) uses `Clock`, whose frequency and period are
exact Fractions, so a cycle count never depends on float rounding. JSON outputs carry floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


def exact(x: float | int | Fraction) -> Fraction:
    """A config number as an exact Fraction: ints and Fractions as they are, floats by their decimal repr."""
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    return Fraction(repr(float(x)))


@dataclass(frozen=True)
class Clock:
    """A clock of `mhz` megahertz (exact)."""

    mhz: Fraction

    @classmethod
    def of_mhz(cls, mhz: float | int | Fraction) -> Clock:
        return cls(exact(mhz))

    @property
    def hz(self) -> Fraction:
        return self.mhz * 1_000_000

    @property
    def period_ns(self) -> Fraction:
        return Fraction(1000) / self.mhz

    def cycles(self, latency_ns: Fraction) -> int:
        """A latency in whole cycles, rounded up, at least one."""
        return max(1, math.ceil(latency_ns / self.period_ns))

    def occupancy(self, latency_ns: Fraction) -> Fraction:
        """Cycles one action holds its unit: whole cycles when multi-cycle, else the exact fraction."""
        if latency_ns > self.period_ns:
            return Fraction(self.cycles(latency_ns))
        return latency_ns / self.period_ns

    def seconds(self, cycles: int | Fraction) -> float:
        """`cycles` of this clock in seconds (correctly rounded)."""
        return float(Fraction(cycles) / self.hz)

    def per_second(self, per_cycle: int | Fraction) -> float:
        """A rate per cycle as a rate per second."""
        return float(Fraction(per_cycle) * self.hz)


__all__ = ["Clock", "exact"]
