"""Timeline records: what the timing model hands to the trace exporter (`--trace FILE.json`).

A `TimelineEvent` is one interval on one track, in cycles of the system clock. Tracks name the
hardware a span ran on, with the hierarchy in the name so viewers can group them:
`tile 3 / pe 7` (a PE's crossbars and S+A), `tile 3 / pe 7 / adc` (its ADC pool),
`tile 3 / pe 7 / input_register`, `tile 3 / edram`, `tile 3 / tile_bus`, `tile 3 / sigmoid` (each
reservation of a rate-limited unit, `isaacsim.timing.resources`), `noc / router 2`,
`chip / hypertransport`, or `layer conv1` (a layer-level span).
`Timeline` collects events with an optional cap, keeping every k-th event per track once the cap
would be passed (sampling), and says how many it dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One span: `track` (hardware), `name` (what ran, e.g. the layer), `start` and `dur` in cycles."""

    track: str
    name: str
    start: int
    dur: int
    args: dict[str, Any] | None = None


@dataclass
class Timeline:
    """Events in insertion order; `max_events` (None: unlimited) caps memory and file size.

    Once `max_events` is reached, the timeline halves itself (keeps every other event of each
    track) and doubles its stride, so long runs stay evenly sampled over time; `dropped` counts
    what was left out and `stride` says the current sampling step.
    """

    max_events: int | None = None
    events: list[TimelineEvent] = field(default_factory=list)
    dropped: int = 0
    stride: int = 1
    _seen: dict[str, int] = field(default_factory=dict)

    def add(self, track: str, name: str, start: int, dur: int, **args: Any) -> None:
        k = self._seen.get(track, 0)
        self._seen[track] = k + 1
        if k % self.stride:
            self.dropped += 1
            return
        self.events.append(TimelineEvent(track, name, int(start), int(dur), args or None))
        if self.max_events is not None and len(self.events) > self.max_events:
            self._thin()

    def _thin(self) -> None:
        self.stride *= 2
        kept, per_track = [], {}
        for e in self.events:
            i = per_track.get(e.track, 0)
            per_track[e.track] = i + 1
            if i % 2 == 0:
                kept.append(e)
            else:
                self.dropped += 1
        self.events = kept

    def __len__(self) -> int:
        return len(self.events)
