"""Timeline export (`--trace FILE.json`): Chrome's trace-event JSON, opened by ui.perfetto.dev.

`write_trace(timeline, path, clock_hz=...)` writes an `isaacsim.timing.events.Timeline` in the
JSON object form of the Trace Event Format (Chrome's "Trace Event Format" document; Perfetto's
JSON importer reads the same):

    {"traceEvents": [...], "displayTimeUnit": "ns", "otherData": {...}}

- Every `TimelineEvent` is one complete event, `"ph": "X"`, with `ts` and `dur` in
  microseconds (the format's unit): cycles x 1e6 / clock_hz, correctly rounded floats. The
  cycles themselves stay in `args` (`start_cycle`, `dur_cycles`) next to the event's own args,
  and `cat` is the track's kind (`pe`, `adc`, `edram`, `nfu`, `layer`, `noc`, ...).
- Processes and threads follow the hardware: one process per tile (`tile T`, from tracks named
  `tile T / ...`), whose threads are its tracks without the tile prefix (`pe 7`,
  `pe 7 / adc`, `edram`, `nfu`); one process `chip` for the layer-level tracks (`layer NAME`,
  in order of first appearance), `noc`, and any track outside a tile. Metadata events
  (`"ph": "M"`) name every process and thread (`process_name`, `thread_name`) and order them
  (`process_sort_index`: chip, then tiles by number; `thread_sort_index`: PEs by number, each
  followed by its own sub-tracks such as its ADC pool, then the tile-level units).
- `otherData` carries the clock, the sampling (`events`, `dropped`, `stride`: the timeline
  kept every stride-th event of each track) and the caller's `metadata`.

Size. The file is written compactly (no indentation, `,` and `:` separators) and atomically (a
temporary file in the target folder, renamed over `path`). An X event takes about 130 bytes
with short names and two or three integer args; `EVENT_BYTES` is a measured upper bound (the
worst case measures 355 bytes, comma included) for ASCII event names up to 48 characters,
track segments up to 16, up to four integer args (keys up to 16 characters, magnitudes below
10^12) and cycles below 10^12; `TRACK_BYTES` bounds one track's metadata (its thread, and its
tile's process if it is the first track there) for track names up to 48 characters.
The writer does not sample: the caller caps the events with
`Timeline(max_events=max_events_for(...))`, which leaves room for the header and one pair of
metadata events per track.

Precision. Perfetto stores nanoseconds: at 100 MHz a cycle is 0.01 us = 10 ns exactly; at a
clock whose period is not a whole number of ns, displayed times are rounded to the ns (the
cycle numbers in `args` stay exact).
"""

from __future__ import annotations

import json
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

from isaacsim.errors import ConfigError
from isaacsim.files import atomic_write
from isaacsim.timing.events import Timeline, TimelineEvent

EVENT_BYTES = 400
"""Upper bound on one X event's bytes (module docstring: for which names and args it holds);
`tests/test_perfetto.py` measures the worst case against it."""
TRACK_BYTES = 512
"""Upper bound on one track's metadata events (module docstring)."""
HEADER_BYTES = 64 * 1024
"""Room for the document's head and tail and `otherData` (with metadata under 60 kB)."""
DEFAULT_LIMIT = 50 * 2**20
"""The file size `--trace` keeps under (50 MB)."""

_SEP = (",", ":")
_TILE = re.compile(r"tile (\d+)(?: / (.+))?$")
_SEGMENT = re.compile(r"(.*?)\s*(\d+)?$")
_RANK = {"pe": 0, "adc": 1, "sa": 2, "shift_add": 2, "input_register": 3, "edram": 4, "bus": 5, "tile_bus": 5,
         "tile_output_register": 6, "tile_shift_add": 7, "nfu": 8, "sigmoid": 8, "maxpool": 9}
"""Order of sub-tracks at one level: a tile's PEs (each with its ADC pool, S+A and input
register under it), then its eDRAM, bus, output register, shift-and-add and NFU; unknown kinds
after these, by name."""
CHIP_PID = 1


def max_events_for(bytes_limit: int = DEFAULT_LIMIT, *, tracks: int = 0,
                   event_bytes: int = EVENT_BYTES) -> int:
    """A `Timeline(max_events=...)` cap that keeps the written file under `bytes_limit` bytes,
    for `tracks` tracks (their metadata) and events within `EVENT_BYTES` (module docstring)."""
    room = bytes_limit - HEADER_BYTES - tracks * TRACK_BYTES
    if room < event_bytes:
        raise ConfigError(f"trace size limit {bytes_limit} bytes leaves no room for events "
                          f"({tracks} tracks)")
    return room // event_bytes


def _segment_key(seg: str) -> tuple:
    word, num = _SEGMENT.match(seg).groups()
    return (_RANK.get(word, len(_RANK)), word, int(num) if num is not None else -1)


def track_key(track: str) -> tuple:
    """Sort key of a track within its process: by path segment, a parent before its children,
    numbered kinds numerically (`pe 2` < `pe 10`), known kinds in `_RANK` order."""
    return tuple(_segment_key(s) for s in track.split(" / "))


def _kind(track: str) -> str:
    """The event category: the first word of the track's last segment (`pe`, `adc`, `layer`)."""
    return track.split(" / ")[-1].split(" ", 1)[0]


def _layout(tracks: list[str]) -> tuple[dict[str, tuple[int, int]], list[dict]]:
    """{track: (pid, tid)} and the metadata events naming and ordering processes and threads."""
    chip: list[str] = []
    tiles: dict[int, list[tuple[str, str]]] = {}
    for t in tracks:  # first-appearance order
        m = _TILE.match(t)
        if m:
            tiles.setdefault(int(m.group(1)), []).append((t, m.group(2) or "tile"))
        else:
            chip.append(t)
    layers = [t for t in chip if t.startswith("layer ")]
    chip_threads = [(t, t) for t in layers] + [(t, t) for t in sorted(set(chip) - set(layers), key=track_key)]
    procs = [(CHIP_PID, "chip", chip_threads)] if chip_threads else []
    procs += [(CHIP_PID + 1 + tile, f"tile {tile}", sorted(tiles[tile], key=lambda x: track_key(x[1])))
              for tile in sorted(tiles)]
    where: dict[str, tuple[int, int]] = {}
    meta: list[dict] = []
    for p_index, (pid, pname, threads) in enumerate(procs):
        meta.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": pname}})
        meta.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                     "args": {"sort_index": p_index}})
        for tid, (track, tname) in enumerate(threads, start=1):
            where[track] = (pid, tid)
            meta.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": tname}})
            meta.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                         "args": {"sort_index": tid}})
    return where, meta


def _plain(x: Any) -> Any:
    """JSON fallback: numpy scalars and arrays as Python values, anything else as its str."""
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, Fraction):
        return float(x)
    return str(x)


def _us_scale(clock_hz: Any) -> tuple[int, int]:
    if isinstance(clock_hz, bool) or not isinstance(clock_hz, (int, float, Fraction)) or clock_hz <= 0:
        raise ConfigError(f"clock_hz must be a positive number, got {clock_hz!r}")
    hz = Fraction(clock_hz) if not isinstance(clock_hz, float) else Fraction(repr(clock_hz))
    scale = Fraction(1_000_000) / hz  # microseconds per cycle
    return scale.numerator, scale.denominator


def _event(e: TimelineEvent, pid: int, tid: int, kind: str, p: int, q: int) -> dict:
    args = {"start_cycle": e.start, "dur_cycles": e.dur}
    if e.args:
        args.update(e.args)
    return {"ph": "X", "name": e.name, "cat": kind, "pid": pid, "tid": tid,
            "ts": e.start * p / q, "dur": e.dur * p / q, "args": args}


def write_trace(timeline: Timeline, path: str | os.PathLike, *, clock_hz: Any,
                metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write `timeline` to `path` as trace-event JSON (module docstring); return
    {"path", "events", "tracks", "bytes", "dropped", "stride"}.

    A path that cannot be written (missing folder, a file in the way, no permission) raises
    ConfigError naming the file; nothing is left behind.
    """
    p, q = _us_scale(clock_hz)
    tracks = list(dict.fromkeys(e.track for e in timeline.events))
    where, meta = _layout(tracks)
    kinds = {t: _kind(t) for t in tracks}
    other = {"generator": "isaacsim", "clock_hz": float(Fraction(10**6 * q, p)),
             "cycle_us": p / q, "events": len(timeline.events), "dropped": timeline.dropped,
             "stride": timeline.stride, "sampled": timeline.stride > 1 or timeline.dropped > 0,
             "max_events": timeline.max_events, "metadata": dict(metadata or {})}
    path = Path(path)
    folder = path.parent
    dump = json.JSONEncoder(separators=_SEP, default=_plain, ensure_ascii=False, allow_nan=False).encode

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write('{"traceEvents":[')
            first = True
            for m in meta:
                f.write(("" if first else ",") + dump(m))
                first = False
            for e in timeline.events:
                pid, tid = where[e.track]
                f.write(("" if first else ",") + dump(_event(e, pid, tid, kinds[e.track], p, q)))
                first = False
            f.write('],"displayTimeUnit":"ns","otherData":' + dump(other) + "}")

    try:
        if not folder.is_dir():
            raise FileNotFoundError(f"no folder {str(folder)!r}")
        if path.is_dir():
            raise IsADirectoryError("it is a folder")
        atomic_write(path, write)
        size = os.stat(path).st_size
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise ConfigError(f"cannot write trace file {str(path)!r}: {why}") from exc
    except ValueError as exc:  # NaN or infinity in args or metadata: not JSON
        raise ConfigError(f"cannot write trace file {str(path)!r}: {exc}") from exc
    return {"path": str(path), "events": len(timeline.events), "tracks": len(tracks), "bytes": size,
            "dropped": timeline.dropped, "stride": timeline.stride}
