"""`isaacsim.timing.resources.Server` against a slow, exact reference: requests served in order,
each from max(its cycle, the previous one's exact end) for work / rate cycles, ending on the
first whole cycle at or after that; the work recorded is the sum; it never runs faster than its rate."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from isaacsim.timing.resources import Server


def reference(rate: Fraction, requests: list[tuple[int, int]]) -> list[int]:
    free, ends = Fraction(0), []
    for t, work in requests:
        if not work:
            ends.append(t)
            continue
        start = max(Fraction(t), free)
        free = start + Fraction(work) / rate
        ends.append(math.ceil(free))
    return ends


rates = st.fractions(min_value=Fraction(1, 50), max_value=400).filter(lambda r: r > 0)
requests = st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 5000)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(rate=rates, reqs=requests)
def test_server_equals_the_reference(rate, reqs):
    s = Server(rate)
    assert [s.reserve(t, w) for t, w in reqs] == reference(rate, reqs)
    assert s.work == sum(w for _, w in reqs)


@settings(max_examples=200, deadline=None)
@given(rate=rates, reqs=requests)
def test_work_never_beats_the_rate(rate, reqs):
    """Between the first request's cycle and the last end, the work fits in rate x cycles."""
    s = Server(rate)
    ends = [s.reserve(t, w) for t, w in sorted(reqs)]
    busy = [(t, e) for (t, w), e in zip(sorted(reqs), ends, strict=True) if w]
    if busy:
        span = max(e for _, e in busy) - min(t for t, _ in busy)
        assert s.work <= rate * span


def test_edges():
    s = Server(Fraction(3, 2))  # 1.5 items per cycle
    assert s.reserve(0, 3) == 2 and s.reserve(0, 1) == 3  # 2 cycles, then 2/3 of a cycle: ends in cycle 3
    assert s.reserve(10, 0) == 10 and s.reserve(10, 3) == 12
    assert s.work == 7
