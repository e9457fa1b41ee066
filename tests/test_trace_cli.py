"""`isaacsim run ... --trace FILE.json` says on stderr where the timeline went, how big it is, how
many events it holds and how much it was thinned; the file is created with the umask's mode."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

import isaacsim.report.perfetto as perfetto
from isaacsim.cli import main
from isaacsim.commands.run import _size, trace_notice


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_trace_prints_path_size_and_events(net, tmp_path, capsys, umask_022):
    path = tmp_path / "t.json"
    assert main(["run", "trq", str(net.path), "--trace", str(path)]) == 0
    err = capsys.readouterr().err
    doc = json.loads(path.read_text())
    events = doc["otherData"]["events"]
    assert events > 0 and doc["otherData"]["dropped"] == 0
    line = [ln for ln in err.splitlines() if "trace written" in ln]
    assert line == [f"isaacsim: trace written to {path} ({_size(path.stat().st_size)}, {events:,} events "
                    f"on {len(_tracks(doc)):,} tracks)"]
    assert "thinned" not in err
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    # the rate-limited units' reservations are spans on their own tracks
    names = {e["args"]["name"] for e in doc["traceEvents"] if e["ph"] == "M" and "name" in e.get("args", {})}
    assert {"edram", "tile_bus", "tile_output_register"} <= names, sorted(names)
    assert any(n.endswith("/ input_register") for n in names)


def test_thinned_trace_reports_dropped_events(net, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(perfetto, "max_events_for", lambda *a, **k: 40)
    path = tmp_path / "t.json"
    assert main(["run", "trq", str(net.path), "--trace", str(path)]) == 0
    err = capsys.readouterr().err
    other = json.loads(path.read_text())["otherData"]
    assert other["dropped"] > 0 and other["stride"] > 1 and other["events"] <= 40
    m = re.search(r"kept 1 in (\d+) events of each track, ([\d,]+) of ([\d,]+) events dropped", err)
    assert m, err
    assert int(m[1]) == other["stride"]
    assert int(m[2].replace(",", "")) == other["dropped"]
    assert int(m[3].replace(",", "")) == other["dropped"] + other["events"]


def test_trace_notice_text():
    info = {"path": "r18.json", "events": 110_586, "tracks": 40, "bytes": 15_321_000, "dropped": 331_758,
            "stride": 4}
    assert trace_notice(info).splitlines() == [
        "isaacsim: trace written to r18.json (15.3 MB, 110,586 events on 40 tracks)",
        "isaacsim: trace thinned to stay under its size cap: kept 1 in 4 events of each track, "
        "331,758 of 442,344 events dropped",
    ]
    assert trace_notice(dict(info, dropped=0, stride=1)).count("\n") == 1


@pytest.mark.parametrize("n, text", [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (52_428_800, "52.4 MB"),
                                     (3 * 10**9, "3.0 GB"), (5 * 10**12, "5000.0 GB")])
def test_size(n, text):
    assert _size(n) == text


def _tracks(doc) -> set:
    return {(e["pid"], e["tid"]) for e in doc["traceEvents"] if e["ph"] == "X"}
