"""Timeline: insertion order, the cap with even sampling per track, and the dropped count."""

from isaacsim.timing.events import Timeline, TimelineEvent


def test_unlimited_keeps_everything_in_order():
    t = Timeline()
    for i in range(5):
        t.add("tile 0 / pe 0", "conv1", 10 * i, 10, window=i)
    assert len(t) == 5 and t.dropped == 0
    assert t.events[2] == TimelineEvent("tile 0 / pe 0", "conv1", 20, 10, {"window": 2})


def test_cap_samples_evenly_and_counts_what_it_drops():
    t = Timeline(max_events=100)
    n = 1000
    for i in range(n):
        t.add("a", "x", i, 1)
        t.add("b", "y", i, 1)
    assert len(t) <= 100
    assert len(t) + t.dropped == 2 * n
    for track in ("a", "b"):
        starts = [e.start for e in t.events if e.track == track]
        assert starts == sorted(starts) and starts[0] == 0
        gaps = {b - a for a, b in zip(starts, starts[1:], strict=False)}
        assert gaps == {t.stride}  # evenly spaced over the whole run
        assert starts[-1] >= n - 2 * t.stride  # sampling reaches the end of the run
