"""Every table the CLI prints is readable in a 100-column terminal: no line over 100 characters,
no cell cut to "…", every layer name and every full number present (a table too wide is split in
parts that repeat the layer column); into a pipe, tables stay whole. The run table's counts are
per inference, and say so."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import tempfile
import termios
from pathlib import Path

import pytest
import yaml
from rich.console import Console

import isaacsim
from isaacsim.report.run import per_inference, print_text
from isaacsim.report.tables import Column, Row, print_table, split_columns
from isaacsim.report.timing import print_timing

ROOT = Path(__file__).resolve().parents[1]
LENET = str(ROOT / "workloads" / "lenet5_mnist5k")
WIDTH = 100
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def terminal(width: int = WIDTH) -> Console:
    """A console that behaves as a terminal of `width` columns, writing into a buffer."""
    return Console(width=width, force_terminal=True, color_system=None, highlight=False, file=io.StringIO())


def text_of(con: Console) -> str:
    return ANSI.sub("", con.file.getvalue())


def assert_readable(text: str, width: int = WIDTH) -> None:
    for line in text.splitlines():
        assert len(line) <= width, f"{len(line)} columns: {line!r}"
        assert "…" not in line, f"cut cell: {line!r}"


def run_in_pty(argv: list[str], width: int = WIDTH, timeout: float = 300) -> str:
    """stdout of `python -m isaacsim.cli ARGV` run in a pseudo-terminal of `width` columns (stderr, its
    warnings and progress, goes to a file: only the tables are under test)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, width, 0, 0))
    env = dict(os.environ, COLUMNS=str(width), LINES="40", TERM="xterm",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "isaacsim.cli", *argv], stdin=slave, stdout=slave,
                                stderr=err, env=env, cwd=ROOT, close_fds=True)
        os.close(slave)
        chunks: list[bytes] = []
        try:
            while select.select([master], [], [], timeout)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            else:
                proc.kill()
        finally:
            os.close(master)
            proc.wait(timeout=60)
        text = b"".join(chunks).decode(errors="replace")
        err.seek(0)
        assert proc.returncode == 0, f"{argv}: exit {proc.returncode}\n{text}{err.read().decode(errors='replace')}"
    return ANSI.sub("", text.replace("\r\n", "\n"))


def cells_of(text: str, name: str) -> list[list[str]]:
    """The cells of every table row that starts with `name` (one list per part of the table), box
    lines aside."""
    rows = [line.replace("│", " ").split() for line in text.splitlines()]
    return [r[1:] for r in rows if r[:1] == [name]]


# ---------------------------------------------------------------- print_table


def _wide_rows(n: int = 4) -> tuple[list[Column], list[list[Column]], list[Row]]:
    key = [Column("layer", "left")]
    groups = [[Column(f"g{g} c{c}") for c in range(4)] for g in range(3)]
    rows = [Row([f"layer_with_a_long_name.{i}", *(f"{(g * 4 + c + 1) * 123_456_789 + i:,}" for g in range(3)
                                                  for c in range(4))]) for i in range(n)]
    return key, groups, rows


def test_print_table_splits_a_wide_table_into_parts_that_fit():
    key, groups, rows = _wide_rows()
    con = terminal()
    assert print_table(con, key, groups, rows, title="wide") > 1
    text = text_of(con)
    assert_readable(text)
    for r in rows:  # the key in every part, every number whole
        parts = cells_of(text, r.cells[0])
        assert len(parts) > 1 and sum(len(p) for p in parts) == len(r.cells) - 1
        assert [c for p in parts for c in p] == list(r.cells[1:])
    assert "wide (1 of " in text


def test_print_table_keeps_groups_together_and_a_table_that_fits_whole():
    key, groups, rows = _wide_rows()
    parts = split_columns(terminal(), key, groups, rows)
    assert all(p[0] == 0 for p in parts)
    for g in range(3):  # each 4-column group fits a part of its own, so none is split
        idx = set(range(1 + 4 * g, 5 + 4 * g))
        assert sum(bool(idx & set(p)) for p in parts) == 1
    con = terminal(400)
    assert print_table(con, key, groups, rows, title="wide") == 1
    assert "(1 of" not in text_of(con)


def test_print_table_splits_a_group_too_wide_for_one_part():
    key, groups, rows = _wide_rows()
    con = terminal(60)
    print_table(con, key, [[c for g in groups for c in g]], rows)
    text = text_of(con)
    assert_readable(text, 60)
    assert [c for p in cells_of(text, rows[0].cells[0]) for c in p] == list(rows[0].cells[1:])


def test_per_inference():
    assert per_inference(949_536_000, 1000) == "949,536"
    assert per_inference(7, 2) == "3.5"
    assert per_inference(12_345_679, 2) == "6,172,839.5"
    assert per_inference(3, 1000) == "0.003"
    assert per_inference(0, 5) == "0"
    assert per_inference(5, 0) == "-"


# ---------------------------------------------------------------- the run's tables, in process


@pytest.fixture(scope="module")
def lenet():
    return isaacsim.simulate("trq", LENET, samples=3)


def test_run_table_fits_100_columns_and_counts_per_inference(lenet):
    con = terminal()
    print_text(lenet, con)
    text = text_of(con)
    assert_readable(text)
    s = lenet.summary()
    n = s["samples"]
    header = [line for line in text.splitlines() if "conversions" in line]
    assert header and "/ inference" in text.split("conversions", 1)[1].splitlines()[1]
    assert text.count("/ inference") >= 3 and f"over the {n} samples run" in text
    for ly in [*s["layers"], {"name": "total", **s["adc"]}]:
        (cells,) = cells_of(text, ly["name"])
        assert ly["conversions"] % n == 0 and int(cells[0].replace(",", "")) == ly["conversions"] // n
        assert float(cells[1].replace(",", "")) == pytest.approx(ly["ad_ops"] / n, rel=1e-6, abs=0.05)
        assert float(cells[-1].replace(",", "")) == pytest.approx(ly["overflows"] / n, rel=1e-3, abs=5e-4)
        assert int(cells[0].replace(",", "")) != ly["conversions"]  # not the total over the samples


def test_run_table_with_per_layer_adc_fits(tmp_path):
    regs = tmp_path / "r.yaml"
    regs.write_text(yaml.safe_dump({"layers": {"fc3": {"mode": "uniform", "resolution": 8, "bits": 8}}}))
    res = isaacsim.simulate("trq", LENET, samples=2, registers=str(regs), timing=False)
    con = terminal()
    print_text(res, con)
    text = text_of(con)
    assert_readable(text)
    assert cells_of(text, "fc3")[0][0] == "uniform" and cells_of(text, "conv1")[0][0] == "trq"


def test_timing_report_fits_100_columns(lenet):
    con = terminal()
    print_timing(lenet, con)
    text = text_of(con)
    assert_readable(text)
    t = lenet.timing
    for ly in t.layers:
        cells = [c for part in cells_of(text, ly["name"]) for c in part]
        for k in ("start", "end", "cycles", "bound_cycles", "occupancy_cycles", "stall_buffer_full"):
            assert f"{ly[k]:,}" in cells, (ly["name"], k)
        for k in ("input", "adc", "shift_add", "read"):  # cycles per PE, as a share of the layer's cycles
            assert f"{ly['stall_' + k + '_share']:.1%}" in cells, (ly["name"], k)
        assert ly["bound_resource"] in cells and f"{ly['adc_utilisation']:.1%}" in cells
    for s in t.stages:
        assert s["name"] in text
    wide = terminal(200)
    print_timing(lenet, wide)
    assert "(1 of" not in text_of(wide)  # a wide terminal keeps the layers table whole


def test_timing_only_table_fits_100_columns():
    res = isaacsim.simulate("trq", LENET, timing_only=True)
    con = terminal()
    print_text(res, con)
    text = text_of(con)
    assert_readable(text)
    assert "conversions" in text and "/ inference" in text
    for ly in res.timing.layers:
        (cells,) = cells_of(text, ly["name"])
        assert cells == [f"{ly['cycles']:,}", f"{ly['bound_cycles']:,}", f"{ly['conversions']:,}", f"{ly['ad_ops']:,}"]


def test_calibrate_table_fits_100_columns():
    from isaacsim.calibrate.loop import CalibrationResult
    from isaacsim.report.calibrate import print_result

    names = [f"layer{i}.{j}.downsample_projection" for i in range(1, 5) for j in range(2)]
    trq = {"mode": "trq", "resolution": 8, "n_r1": 4, "n_r2": 5, "m": 3, "delta_r1": 0.123456, "bias": -12}
    layers = [{"name": n, "mode": "trq", "registers": trq, "n_r2": 5, "expected_ops": 5.4321 + i,
               "mse": 0.0123456 * (i + 1), "case": "normal"} for i, n in enumerate(names)]
    layers.append({"name": "fc", "mode": "uniform", "registers": {"mode": "uniform", "resolution": 8, "bits": 7,
                                                                   "delta": 2.0}, "n_r2": 7, "expected_ops": 7.0,
                   "mse": 1.25, "case": "-"})
    res = CalibrationResult(arch="trq", workload="w", registers={}, layers=layers, n_r2=5, metric="accuracy",
                            max_drop=0.005, baseline_accuracy=0.9, accuracy=0.899, ops_before=8.0, ops_after=5.5,
                            energy_before=2e-6, energy_after=1.5e-6, calib_samples=32, calib_source="calib",
                            eval_samples=100)
    con = terminal()
    print_result(res, "r.yaml", con)
    text = text_of(con)
    assert_readable(text)
    for ly in layers:
        cells = [c for part in cells_of(text, ly["name"]) for c in part]
        assert f"{ly['expected_ops']:.3f}" in cells and f"{ly['mse']:.4g}" in cells and ly["case"] in cells
    assert cells_of(text, names[0])[0][:6] == ["trq", "4", "5", "3", "0.1235", "-12"]
    assert cells_of(text, "fc")[0][:6] == ["uniform", "-", "7", "-", "2", "-"]


# ---------------------------------------------------------------- the CLI under a 100-column pseudo-terminal


def test_cli_run_timing_report_in_a_100_column_terminal():
    text = run_in_pty(["run", "trq", LENET, "--samples", "2", "--timing-report"])
    assert_readable(text)
    assert "layers, cycles of one inference (1 of 2)" in text
    s = isaacsim.simulate("trq", LENET, samples=2).summary()
    for ly in s["layers"]:
        parts = cells_of(text, ly["name"])
        assert len(parts) == 3  # the run table and the two parts of the timing table
        assert parts[0][0] == f"{ly['conversions'] // 2:,}"
        t = next(x for x in s["timing"]["layers"] if x["name"] == ly["name"])
        assert parts[1][:4] == [f"{t['start']:,}", f"{t['end']:,}", f"{t['cycles']:,}", f"{t['bound_cycles']:,}"]
        assert parts[2][-1] == f"{t['stall_buffer_full']:,}"
        assert parts[2][-2] == f"{t['stall_read_share']:.1%}"


def test_cli_run_into_a_pipe_keeps_tables_whole():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("COLUMNS", None)
    p = subprocess.run([sys.executable, "-m", "isaacsim.cli", "run", "trq", LENET, "--samples", "2",
                        "--timing-report"], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert "…" not in p.stdout and "(1 of" not in p.stdout
    assert len(cells_of(p.stdout, "conv1")) == 2  # the run table and the whole timing table


@pytest.mark.parametrize("argv", [["describe", "isaac"], ["describe", "trq"], ["zoo", "list"]])
def test_cli_tables_in_a_100_column_terminal(argv):
    text = run_in_pty(argv)
    assert_readable(text)
    if argv[0] == "zoo":
        from isaacsim.report.zoo import _macs, zoo_rows

        for r in zoo_rows():
            assert r["name"] in text and _macs(r["macs"]) in text and "x".join(map(str, r["input_shape"])) in text
    else:
        d = json.loads(subprocess.run([sys.executable, "-m", "isaacsim.cli", *argv, "--json"], capture_output=True,
                                      text=True, cwd=ROOT, check=True,
                                      env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout)
        for level in ("pe", "tile", "chip"):
            assert f"{d[level]['area_mm2']:.5g}" in text and f"{d[level]['peak_power_w'] * 1e3:.5g}" in text


def test_cli_report_of_run_dirs_in_a_100_column_terminal(tmp_path):
    for name, arch in (("lenet5_mnist5k_uniform_baseline_run", "trq_baseline"),
                       ("lenet5_mnist5k_trq_calibrated_run", "trq")):
        isaacsim.simulate(arch, LENET, samples=1, out=str(tmp_path / "runs" / name))
    text = run_in_pty(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "rep")])
    assert_readable(text)
    for name in ("lenet5_mnist5k_uniform_baseline_run", "lenet5_mnist5k_trq_calibrated_run"):
        s = json.loads((tmp_path / "runs" / name / "summary.json").read_text())
        assert name in text and f"{s['latency_cycles']:,}" in text and f"{s['latency_s'] * 1e3:.3f}" in text
