"""Timeline export (isaacsim.report.perfetto): trace-event JSON that Perfetto and chrome://tracing
open. Checked against the format's rules (Chrome's "Trace Event Format": the JSON object form,
complete "X" events with pid/tid/ts/dur in microseconds, "M" metadata events naming and ordering
processes and threads), the cycle -> microsecond conversion, the hierarchy order, sampling, the
size cap and bad paths."""

from __future__ import annotations

import json
import os
from fractions import Fraction

import numpy as np
import pytest

from isaacsim.errors import ConfigError
from isaacsim.report.perfetto import (
    EVENT_BYTES,
    HEADER_BYTES,
    TRACK_BYTES,
    max_events_for,
    track_key,
    write_trace,
)
from isaacsim.timing.events import Timeline

TOP_KEYS = {"traceEvents", "displayTimeUnit", "otherData", "systemTraceEvents", "stackFrames", "samples"}
META_NAMES = {"process_name", "process_labels", "process_sort_index", "thread_name", "thread_sort_index"}


def validate(doc: dict) -> None:
    """The trace-event format's rules for what write_trace emits."""
    assert set(doc) <= TOP_KEYS and isinstance(doc["traceEvents"], list)
    assert doc["displayTimeUnit"] in ("ms", "ns")
    names: dict[tuple[str, int, int], object] = {}
    used: set[tuple[int, int]] = set()
    spans: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for e in doc["traceEvents"]:
        assert e["ph"] in ("X", "M"), e
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int) and isinstance(e["name"], str)
        if e["ph"] == "M":
            assert e["name"] in META_NAMES and isinstance(e["args"], dict)
            key = "name" if e["name"].endswith("_name") else "sort_index"
            names[(e["name"], e["pid"], e["tid"] if e["name"].startswith("thread") else 0)] = e["args"][key]
        else:
            assert isinstance(e["ts"], (int, float)) and isinstance(e["dur"], (int, float)) and e["dur"] >= 0
            assert isinstance(e.get("args", {}), dict) and isinstance(e.get("cat", ""), str)
            used.add((e["pid"], e["tid"]))
            spans.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    for pid, tid in used:  # every pid and tid used is named and ordered
        assert ("process_name", pid, 0) in names and ("process_sort_index", pid, 0) in names
        assert ("thread_name", pid, tid) in names and ("thread_sort_index", pid, tid) in names
    for sp in spans.values():  # slices on one thread nest or follow (no partial overlap)
        stack: list[float] = []
        for a, b in sorted(sp, key=lambda s: (s[0], -s[1])):
            while stack and stack[-1] <= a:
                stack.pop()
            assert not stack or b <= stack[-1] + 1e-9
            stack.append(b)


def hardware_timeline(max_events=None, windows=5, tiles=2, pes=12) -> Timeline:
    """Windows on every PE and its ADC pool (ADC inside the PE's span), eDRAM, layer and NoC spans."""
    t = Timeline(max_events=max_events)
    for n in range(windows):
        for tile in range(tiles):
            t.add(f"tile {tile} / edram", "conv1", 100 * n, 3, bytes=64)
            for pe in reversed(range(pes)):  # out of order: the writer must sort
                t.add(f"tile {tile} / pe {pe}", "conv1", 100 * n + 3, 90, window=n)
                t.add(f"tile {tile} / pe {pe} / adc", "conv1", 100 * n + 13, 77, ops=1024)
            t.add(f"tile {tile} / nfu", "conv1", 100 * n + 93, 2)
        t.add("noc", "conv1 -> conv2", 100 * n + 95, 4, hops=2)
    t.add("layer conv2", "conv2", 60, 100 * windows)
    t.add("layer conv1", "conv1", 0, 100 * windows)
    return t


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_structure_names_and_units(tmp_path):
    t = hardware_timeline()
    out = tmp_path / "t.json"
    info = write_trace(t, out, clock_hz=100_000_000, metadata={"arch": "trq", "workload": "lenet5"})
    doc = load(out)
    validate(doc)
    xs = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(xs) == len(t) == info["events"]
    assert info["bytes"] == os.path.getsize(out) and info["tracks"] == len({e.track for e in t.events})
    for e, x in zip(t.events, xs, strict=True):  # same order, cycles kept, 100 MHz: 1 cycle = 0.01 us
        assert x["name"] == e.name and x["args"]["start_cycle"] == e.start and x["args"]["dur_cycles"] == e.dur
        assert x["ts"] == e.start / 100 and x["dur"] == e.dur / 100
        assert all(x["args"][k] == v for k, v in (e.args or {}).items())
    pname = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"}
    tname = {(e["pid"], e["tid"]): e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}
    for e, x in zip(t.events, xs, strict=True):  # the track is the process and thread names
        proc, thread = pname[x["pid"]], tname[(x["pid"], x["tid"])]
        assert (f"{proc} / {thread}" if proc.startswith("tile ") else thread) == e.track
    assert sorted(pname.values()) == ["chip", "tile 0", "tile 1"]
    o = doc["otherData"]
    assert (o["events"], o["dropped"], o["stride"], o["sampled"]) == (len(t), 0, 1, False)
    assert o["clock_hz"] == 1e8 and o["metadata"] == {"arch": "trq", "workload": "lenet5"}
    assert doc["displayTimeUnit"] == "ns"
    assert b"\n" not in out.read_bytes() and b": " not in out.read_bytes()  # compact


def sort_order(doc):
    psort = {e["pid"]: e["args"]["sort_index"] for e in doc["traceEvents"] if e["name"] == "process_sort_index"}
    pname = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"}
    tsort = {(e["pid"], e["tid"]): e["args"]["sort_index"]
             for e in doc["traceEvents"] if e["name"] == "thread_sort_index"}
    tname = {(e["pid"], e["tid"]): e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}
    procs = [pname[p] for p in sorted(psort, key=psort.get)]
    threads = {pname[p]: [tname[k] for k in sorted((k for k in tsort if k[0] == p), key=tsort.get)] for p in pname}
    return procs, threads


def test_hierarchy_order(tmp_path):
    t = hardware_timeline(tiles=11, pes=12, windows=1)
    write_trace(t, tmp_path / "t.json", clock_hz=100e6)
    procs, threads = sort_order(load(tmp_path / "t.json"))
    assert procs == ["chip"] + [f"tile {i}" for i in range(11)]  # numeric: tile 10 after tile 9
    want = [x for pe in range(12) for x in (f"pe {pe}", f"pe {pe} / adc")] + ["edram", "nfu"]
    assert threads["tile 10"] == want  # pe 2 before pe 10, each PE's ADC pool right under it
    assert threads["chip"] == ["layer conv2", "layer conv1", "noc"]  # layers as they first appear
    assert track_key("pe 2") < track_key("pe 2 / adc") < track_key("pe 10") < track_key("edram")
    assert track_key("pe 9 / adc") < track_key("pe 9 / sa") < track_key("pe 10")


@pytest.mark.parametrize("clock_hz", [100_000_000, 1.28e9, Fraction(1_000_000_000, 3), 7_000_001])
def test_ts_is_cycles_over_the_clock(tmp_path, clock_hz):
    t = Timeline()
    for start, dur in ((0, 1), (3, 10), (123_456_789, 7), (10**11 + 1, 999)):
        t.add("tile 0 / pe 0", "x", start, dur)
    write_trace(t, tmp_path / "t.json", clock_hz=clock_hz)
    xs = [e for e in load(tmp_path / "t.json")["traceEvents"] if e["ph"] == "X"]
    us = Fraction(10**6) / (Fraction(repr(clock_hz)) if isinstance(clock_hz, float) else Fraction(clock_hz))
    for e, x in zip(t.events, xs, strict=True):
        assert x["ts"] == float(e.start * us) and x["dur"] == float(e.dur * us)  # correctly rounded
        assert x["ts"] == pytest.approx(e.start / float(clock_hz) * 1e6, rel=1e-15)


def test_sampling_info(tmp_path):
    t = hardware_timeline(max_events=100, windows=50)
    assert t.dropped > 0 and t.stride > 1
    info = write_trace(t, tmp_path / "t.json", clock_hz=1e8)
    doc = load(tmp_path / "t.json")
    validate(doc)
    o = doc["otherData"]
    assert (o["events"], o["dropped"], o["stride"], o["sampled"], o["max_events"]) == (
        len(t), t.dropped, t.stride, True, 100)
    assert (info["events"], info["dropped"], info["stride"]) == (len(t), t.dropped, t.stride)


def test_numpy_args_and_metadata(tmp_path):
    t = Timeline()
    t.add("tile 0 / pe 0", "x", np.int64(5), np.int32(2), ops=np.int64(7), frac=Fraction(1, 4), v=np.arange(2))
    write_trace(t, tmp_path / "t.json", clock_hz=1e8, metadata={"n": np.int64(3)})
    doc = load(tmp_path / "t.json")
    x = [e for e in doc["traceEvents"] if e["ph"] == "X"][0]
    assert x["args"] == {"start_cycle": 5, "dur_cycles": 2, "ops": 7, "frac": 0.25, "v": [0, 1]}
    assert doc["otherData"]["metadata"] == {"n": 3}


def test_event_bytes_bound_holds_for_the_worst_case(tmp_path):
    """The module's bound: names <= 48 characters, segments <= 16, four integer args with keys of
    16 characters and magnitudes < 10^12, cycles < 10^12, at any clock."""
    t = Timeline()
    track = "tile 99999 / pe 99999 / " + "k" * 16
    for clock in (1e8, 1.28e9, 7_000_001, 1):
        t = Timeline()
        for sign in (1, -1):
            t.add(track, "w" * 48, 10**12 - 3, 10**12 - 7, **{f"a{i:015d}": sign * (10**12 - 1) for i in range(4)})
        write_trace(t, tmp_path / "t.json", clock_hz=clock)
        doc = load(tmp_path / "t.json")
        for e in doc["traceEvents"]:
            n = len(json.dumps(e, separators=(",", ":"))) + 1  # and its comma
            assert n <= (EVENT_BYTES if e["ph"] == "X" else TRACK_BYTES // 2)
    assert max_events_for(50 * 2**20) == (50 * 2**20 - HEADER_BYTES) // EVENT_BYTES
    assert max_events_for(2**20, tracks=100) == (2**20 - HEADER_BYTES - 100 * TRACK_BYTES) // EVENT_BYTES
    with pytest.raises(ConfigError, match="no room"):
        max_events_for(1000)


def test_large_timeline_under_the_limit(tmp_path):
    """200 tracks with long names, 300k events, capped for 8 MiB: sampled, and under the limit."""
    limit = 8 * 2**20
    tracks = [f"tile {i // 20} / pe {i % 20} / adc" for i in range(200)]
    t = Timeline(max_events=max_events_for(limit, tracks=len(tracks)))
    name = "layer4.1.conv2 window, a rather long label ....."
    for n in range(1500):
        for tr in tracks:
            t.add(tr, name, 10**9 + 97 * n, 96, window=n, ops=123456789, stall=n % 7)
    info = write_trace(t, tmp_path / "t.json", clock_hz=1e8)
    assert t.dropped > 0 and info["bytes"] <= limit
    assert info["bytes"] == os.path.getsize(tmp_path / "t.json")
    assert len(t) > max_events_for(limit, tracks=len(tracks)) // 2  # the cap is used, not wasted
    validate(load(tmp_path / "t.json"))


def test_bad_path_raises_config_error_naming_the_file(tmp_path):
    t = hardware_timeline(windows=1)
    missing = tmp_path / "no" / "such" / "t.json"
    with pytest.raises(ConfigError, match=r"cannot write trace file .*t\.json") as e:
        write_trace(t, missing, clock_hz=1e8)
    assert "\n" not in str(e.value) and str(missing) in str(e.value)
    a_file = tmp_path / "f"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="cannot write trace file"):
        write_trace(t, a_file / "t.json", clock_hz=1e8)
    (tmp_path / "d.json").mkdir()
    with pytest.raises(ConfigError, match="cannot write trace file"):
        write_trace(t, tmp_path / "d.json", clock_hz=1e8)
    with pytest.raises(ConfigError, match="clock_hz"):
        write_trace(t, tmp_path / "ok.json", clock_hz=0)
    with pytest.raises(ConfigError, match="cannot write trace file"):
        write_trace(t, tmp_path / "nan.json", clock_hz=1e8, metadata={"x": float("nan")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "f"]  # no temporary left behind


def test_atomic_replace_keeps_the_old_file_on_failure(tmp_path):
    out = tmp_path / "t.json"
    write_trace(hardware_timeline(windows=1), out, clock_hz=1e8)
    before = out.read_bytes()
    with pytest.raises(ConfigError):
        write_trace(hardware_timeline(windows=2), out, clock_hz=1e8, metadata={"x": float("inf")})
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]
