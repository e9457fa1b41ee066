"""The sweep result store (isaacsim.sweep.store): journal, Parquet/CSV tables, resume state and
atomic writes. No simulation."""

from __future__ import annotations

import json
import os

import pandas as pd
import pyarrow.parquet as pq
import pytest

from isaacsim.cli import main
from isaacsim.errors import ConfigError
from isaacsim.files import atomic_write_bytes
from isaacsim.sweep import store as st
from isaacsim.sweep.store import ResultStore, read_journal, read_table


def _row(point: int, h: str, status: str = "ok", **kw):
    row = {"point": point, "hash": h, "workload": "wl", "status": status,
           "error": None if status == "ok" else "boom", "pe.adcs": point + 1,
           "energy_j": 1e-6 * (point + 1), "accuracy": 0.5, "host": "h", "sim_s": 0.25}
    row.update(kw)
    return row


def _store(tmp_path, **kw):
    return ResultStore(tmp_path / "out", ["pe.adcs"], min_interval_s=3600, **kw)


def test_rows_reach_journal_and_tables(tmp_path):
    s = _store(tmp_path)
    for p, h in [(2, "c"), (0, "a"), (1, "b")]:
        s.add(_row(p, h), summary={"hash": h, "tiles": [1, 2]})
    s.flush()
    root = tmp_path / "out"
    lines = (root / st.JOURNAL).read_text().splitlines()
    assert [json.loads(x)["hash"] for x in lines] == ["c", "a", "b"]
    want_cols = st.META + ["pe.adcs"] + st.POINT_INFO + st.METRICS + st.RUN_INFO
    for df in (read_table(root), pd.read_csv(root / st.CSV)):
        assert list(df.columns) == want_cols
        assert list(df["point"]) == [0, 1, 2] and list(df["hash"]) == ["a", "b", "c"]
        assert list(df["pe.adcs"]) == [1, 2, 3]
        assert list(df["energy_j"]) == pytest.approx([1e-6, 2e-6, 3e-6])
    assert json.loads((root / st.POINTS / "a.json").read_text()) == {"hash": "a", "tiles": [1, 2]}
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]


def test_new_swept_key_is_added_after_the_known_ones(tmp_path):
    s = _store(tmp_path)
    s.add(_row(0, "a", **{"adc.bits": 4}))
    assert s.keys == ["pe.adcs", "adc.bits"]
    assert list(s.frame().columns[:7]) == st.META + ["pe.adcs", "adc.bits"]


def test_torn_journal_line_is_ignored_and_next_add_survives(tmp_path):
    s = _store(tmp_path)
    s.add(_row(0, "a"))
    s.add(_row(1, "b"))
    journal = tmp_path / "out" / st.JOURNAL
    full = json.dumps(_row(2, "c"))
    with open(journal, "a") as f:
        f.write(full[: len(full) // 2])  # killed mid-write
    s2 = _store(tmp_path)
    assert set(s2.rows) == {"a", "b"}
    assert s2.rows == s.rows  # reloaded identically
    s2.add(_row(3, "d"))  # appended after the torn line: must not be glued to it
    s3 = _store(tmp_path)
    assert set(s3.rows) == {"a", "b", "d"}
    assert s3.rows["d"] == _row(3, "d")


def test_same_hash_twice_keeps_the_last(tmp_path):
    s = _store(tmp_path)
    s.add(_row(0, "a", status="failed"))
    s.add(_row(1, "b"))
    s.add(_row(0, "a", energy_j=9.0))
    s.flush()
    df = read_table(tmp_path / "out")
    assert list(df["hash"]) == ["a", "b"]
    assert df.loc[0, "status"] == "ok" and df.loc[0, "energy_j"] == 9.0
    assert len(read_journal(tmp_path / "out" / st.JOURNAL)) == 3
    s2 = _store(tmp_path)
    assert len(s2.rows) == 2 and s2.rows["a"]["energy_j"] == 9.0


def test_done_semantics(tmp_path):
    s = _store(tmp_path)
    s.add(_row(0, "ok1"))
    s.add(_row(1, "bad", status="failed"))
    assert s.done() == {"ok1", "bad"}
    assert s.done(retry_failed=False) == {"ok1", "bad"}
    assert s.done(retry_failed=True) == {"ok1"}
    assert _store(tmp_path).done(retry_failed=True) == {"ok1"}


def test_reload_from_parquet_without_journal(tmp_path):
    s = _store(tmp_path)
    s.add(_row(0, "a", latency_s=None))
    s.add(_row(1, "b", status="failed"))
    s.flush()
    (tmp_path / "out" / st.JOURNAL).unlink()
    s2 = ResultStore(tmp_path / "out", min_interval_s=3600)
    assert s2.keys == ["pe.adcs"]
    assert set(s2.rows) == {"a", "b"}
    assert s2.done(retry_failed=True) == {"a"}
    for h in "ab":
        got = {k: v for k, v in s2.rows[h].items() if v is not None}
        assert got == {k: v for k, v in s.rows[h].items() if v is not None}
        assert s2.rows[h]["latency_s"] is None
        assert type(s2.rows[h]["point"]) is int
    assert s2.rows["a"]["error"] is None  # a null text cell comes back as None, not NaN


def test_mixed_types_and_non_finite_metrics(tmp_path):
    s = _store(tmp_path)
    s.add(_row(0, "a", **{"pe.adcs": 4, "energy_j": float("nan"), "latency_s": float("inf")}))
    s.add(_row(1, "b", **{"pe.adcs": "many", "energy_j": float("-inf"), "latency_s": 2.0}))
    s.add(_row(2, "c", **{"pe.adcs": 1.5}))
    s.flush()
    root = tmp_path / "out"
    for line in (root / st.JOURNAL).read_text().splitlines():
        assert "NaN" not in line and "Infinity" not in line
        json.loads(line)
    table = pq.read_table(root / st.PARQUET)
    assert table.column("pe.adcs").to_pylist() == ["4", "many", "1.5"]
    assert table.column("energy_j").null_count == 2
    assert table.column("latency_s").to_pylist()[:2] == [None, 2.0]
    csv = pd.read_csv(root / st.CSV)
    assert csv["energy_j"].isna().tolist() == [True, True, False]


def test_numeric_swept_column_stays_numeric(tmp_path):
    s = _store(tmp_path)
    s.add(_row(0, "a", **{"pe.adcs": 4}))
    s.add(_row(1, "b", **{"pe.adcs": 0.5}))
    s.flush()
    assert read_table(tmp_path / "out")["pe.adcs"].tolist() == [4.0, 0.5]


def test_atomic_write_leaves_no_temp(tmp_path):
    f = tmp_path / "x.bin"
    atomic_write_bytes(f, b"one")
    atomic_write_bytes(f, b"two")
    assert f.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]


def test_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    f = tmp_path / "x.bin"
    atomic_write_bytes(f, b"old contents")

    def boom(src, dst):
        assert os.path.exists(src) and open(src, "rb").read() == b"new contents"
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write_bytes(f, b"new contents")
    assert f.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]  # the temp file is cleaned up


def test_failed_table_rewrite_keeps_the_old_table(tmp_path, monkeypatch):
    s = _store(tmp_path)
    s.add(_row(0, "a"))
    s.flush()
    root = tmp_path / "out"
    before = (root / st.PARQUET).read_bytes()
    real = os.replace

    def boom(src, dst):
        if str(dst).endswith(st.PARQUET):
            raise OSError("disk gone")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", boom)
    s.add(_row(1, "b"))  # the journal line is committed before the tables
    with pytest.raises(OSError):
        s.flush()
    assert (root / st.PARQUET).read_bytes() == before
    assert list(read_table(root)["hash"]) == ["a"]
    monkeypatch.setattr(os, "replace", real)
    assert set(_store(tmp_path).rows) == {"a", "b"}  # nothing lost
    s.flush()  # still dirty: the retry writes it
    assert list(read_table(root)["hash"]) == ["a", "b"]


def test_read_table_without_parquet_names_the_folder(tmp_path):
    d = tmp_path / "not_a_sweep"
    d.mkdir()
    with pytest.raises(ConfigError) as e:
        read_table(d)
    assert str(d) in str(e.value) and st.PARQUET in str(e.value) and "\n" not in str(e.value)
    assert not st.is_sweep_dir(d)


def test_damaged_parquet_is_a_config_error(tmp_path):
    (tmp_path / st.PARQUET).write_bytes(b"PAR1 not really")
    with pytest.raises(ConfigError, match="cannot read"):
        read_table(tmp_path)


def test_out_is_a_file(tmp_path):
    f = tmp_path / "taken"
    f.write_text("x")
    with pytest.raises(ConfigError) as e:
        ResultStore(f)
    assert str(f) in str(e.value) and "not a directory" in str(e.value)
    assert f.read_text() == "x"


def test_cli_out_is_a_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweep.yaml").write_text(
        "name: t\nbase: {arch: trq_baseline}\nworkloads: [{path: 'zoo:lenet5', samples: 1}]\n")
    (tmp_path / "taken").write_text("x")
    assert main(["sweep", "sweep.yaml", "--out", "taken", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("isaacsim: error: --out taken") and "not a directory" in err
    assert (tmp_path / "taken").read_text() == "x"
