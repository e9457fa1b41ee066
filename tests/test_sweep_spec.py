"""Sweep files (isaacsim.sweep.spec): axis expansion and its order, ranges, one-line errors for
bad files, invalid combinations as points with an error, and the config hash. No simulation."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from isaacsim.cli import main
from isaacsim.errors import ConfigError
from isaacsim.sweep.spec import axis_values, load_sweep

REPO = Path(__file__).resolve().parents[1]
LENET = REPO / "workloads" / "lenet5_digits"
ZOO_WL = [{"path": "zoo:lenet5"}]


def _write(path: Path, doc) -> Path:
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _doc(axes=None, workloads=None, **extra):
    d = {"name": "t", "base": {"arch": "trq_baseline"}, "workloads": ZOO_WL if workloads is None else workloads}
    if axes is not None:
        d["axes"] = axes
    d.update(extra)
    return d


def _load(tmp_path: Path, doc, name: str = "sweep.yaml"):
    return load_sweep(_write(tmp_path / name, doc))


# ------------------------------------------------------------------------------ expansion


def test_example_expansion_order(tmp_path):
    sw = _load(tmp_path, _doc(
        workloads=[{"path": "zoo:lenet5"}, {"path": "zoo:resnet20", "name": "r20"}],
        axes=[{"zip": {"adc.mode": ["uniform", "uniform", "trq"], "adc.bits": [8, 6, None]}},
              {"grid": {"pe.adcs": {"start": 2, "stop": 8, "factor": 2}, "crossbar.rows": [64, 128]}}]))
    assert sw.keys == ["adc.mode", "adc.bits", "pe.adcs", "crossbar.rows"]
    assert len(sw.points) == 2 * 3 * 3 * 2
    assert [p.index for p in sw.points] == list(range(36))
    assert [p.workload.label for p in sw.points] == ["lenet5"] * 18 + ["r20"] * 18
    got = [tuple(p.values.values()) for p in sw.points[:18]]
    want = [(m, b, a, r) for m, b in [("uniform", 8), ("uniform", 6), ("trq", None)]
            for a in (2, 4, 8) for r in (64, 128)]
    assert got == want
    assert [tuple(p.values.values()) for p in sw.points[18:]] == want
    assert all(list(p.values) == sw.keys for p in sw.points)
    # the values are set in each point's arch tree
    p = sw.points[7]
    assert p.arch["adc"]["bits"] == 6 and p.arch["pe"]["adcs"] == 2 and p.arch["crossbar"]["rows"] == 128
    assert all(p.error is None for p in sw.points)
    assert len({p.hash for p in sw.points}) == 36


def test_mapping_axes_is_one_grid_last_key_fastest(tmp_path):
    sw = _load(tmp_path, _doc(axes={"pe.adcs": [1, 2], "crossbar.rows": [64, 128, 256]}))
    assert [(p.values["pe.adcs"], p.values["crossbar.rows"]) for p in sw.points] == [
        (1, 64), (1, 128), (1, 256), (2, 64), (2, 128), (2, 256)]


def test_no_axes_is_one_point_per_workload(tmp_path):
    sw = _load(tmp_path, _doc(workloads=[{"path": "zoo:lenet5"}, {"path": "zoo:resnet20"}]))
    assert sw.keys == [] and [p.values for p in sw.points] == [{}, {}]
    assert [p.workload.label for p in sw.points] == ["lenet5", "resnet20"]


# keys whose small integer values all validate on trq_baseline
_KEY_VALUES = {
    "pe.adcs": [1, 2, 4, 8],
    "pe.crossbars": [1, 2, 4, 8],
    "tile.pes": [1, 2, 4, 12],
    "crossbar.rows": [32, 64, 128],
    "crossbar.cols": [32, 64, 128],
    "adc.n_r1": [0, 1, 2, 3],
    "adc.bias": [0, 1, 2, 3],
    "chip.tiles": [1, 2, 3, 4],
}


@st.composite
def _axes(draw):
    keys = draw(st.permutations(list(_KEY_VALUES)))
    n = draw(st.integers(1, min(4, len(keys))))
    # split the first n..len keys into groups
    used = keys[:draw(st.integers(n, min(len(keys), 6)))]
    cuts = sorted(draw(st.lists(st.integers(1, len(used) - 1), max_size=n - 1, unique=True))) if len(used) > 1 else []
    bounds = [0, *cuts, len(used)]
    groups = []
    for a, b in itertools.pairwise(bounds):
        gkeys = used[a:b]
        kind = draw(st.sampled_from(["grid", "zip"]))
        if kind == "zip":
            length = draw(st.integers(1, 3))
            body = {k: [draw(st.sampled_from(_KEY_VALUES[k])) for _ in range(length)] for k in gkeys}
        else:
            body = {k: draw(st.lists(st.sampled_from(_KEY_VALUES[k]), min_size=1, max_size=3)) for k in gkeys}
        groups.append((kind, body))
    as_mapping = len(groups) == 1 and groups[0][0] == "grid" and draw(st.booleans())
    return groups, as_mapping


def _reference(workloads, groups):
    per_group = []
    for kind, body in groups:
        keys = list(body)
        combos = list(itertools.product(*body.values())) if kind == "grid" else list(zip(*body.values(), strict=True))
        per_group.append([dict(zip(keys, c, strict=True)) for c in combos])
    out = []
    for wl in workloads:
        for parts in itertools.product(*per_group):
            merged = {}
            for part in parts:
                merged.update(part)
            out.append((wl, merged))
    return out


@settings(max_examples=25, deadline=None)
@given(_axes(), st.integers(1, 2))
def test_expansion_matches_reference(spec, n_workloads):
    groups, as_mapping = spec
    wls = [{"path": "zoo:lenet5"}, {"path": "zoo:resnet20"}][:n_workloads]
    axes = groups[0][1] if as_mapping else [{kind: body} for kind, body in groups]
    with tempfile.TemporaryDirectory() as d:
        sw = _load(Path(d), _doc(axes=axes, workloads=wls))
    want = _reference([w["path"][4:] for w in wls], groups)
    assert len(sw.points) == len(want)
    assert [(p.workload.label, p.values) for p in sw.points] == want
    assert [list(p.values) for p in sw.points] == [list(v) for _, v in want]  # key order too
    assert sw.keys == [k for _, body in groups for k in body]
    assert [p.index for p in sw.points] == list(range(len(want)))
    assert all(p.error is None for p in sw.points)


# ------------------------------------------------------------------------------ ranges


@pytest.mark.parametrize("spec, want", [
    ({"start": 2, "stop": 8, "step": 2}, [2, 4, 6, 8]),
    ({"start": 2, "stop": 9, "step": 2}, [2, 4, 6, 8]),  # stop not on the grid
    ({"start": 5, "stop": 5, "step": 1}, [5]),
    ({"start": 8, "stop": 2, "step": -3}, [8, 5, 2]),
    ({"start": 1, "stop": -1, "step": -1}, [1, 0, -1]),
    ({"start": 0.1, "stop": 0.5, "step": 0.1}, [0.1, 0.2, 0.3, 0.4, 0.5]),
    ({"start": 0.0, "stop": 1.0, "step": 0.3}, [0.0, 0.3, 0.6, 0.9]),
    ({"start": 1.0, "stop": 0.0, "step": -0.25}, [1.0, 0.75, 0.5, 0.25, 0.0]),
    ({"start": 2, "stop": 8, "factor": 2}, [2, 4, 8]),
    ({"start": 2, "stop": 20, "factor": 2}, [2, 4, 8, 16]),
    ({"start": 1, "stop": 1000, "factor": 10}, [1, 10, 100, 1000]),
    ({"start": 0.5, "stop": 4, "factor": 2}, [0.5, 1.0, 2.0, 4.0]),
    ({"start": 2, "stop": 8, "factor": 1.5}, [2.0, 3.0, 4.5, 6.75]),
    ([3, "x", None, 1.5], [3, "x", None, 1.5]),
])
def test_range_values(spec, want):
    got = axis_values("k.x", spec, "f.yaml")
    assert got == pytest.approx(want) if all(isinstance(v, float) for v in want) else got == want
    assert [type(v) for v in got] == [type(v) for v in want]


@pytest.mark.parametrize("spec, expect", [
    ({"start": 1, "stop": 4, "step": 0}, "step 0"),
    ({"start": 1, "stop": 4, "step": -1}, "never goes"),
    ({"start": 4, "stop": 1, "step": 1}, "never goes"),
    ({"start": 1, "stop": 4, "step": 1, "factor": 2}, "exactly one of step and factor"),
    ({"start": 1, "stop": 4}, "exactly one of step and factor"),
    ({"start": 1, "stop": 4, "stpe": 1}, "unknown range key 'stpe'"),
    ({"stop": 4, "step": 1}, "lacks start"),
    ({"start": 1, "step": 1}, "lacks stop"),
    ({"start": "a", "stop": 4, "step": 1}, "start must be a number"),
    ({"start": 1, "stop": True, "step": 1}, "stop must be a number"),
    ({"start": 1, "stop": 4, "step": "1"}, "step must be a number"),
    ({"start": 1, "stop": 4, "factor": 1}, "factor > 1"),
    ({"start": 0, "stop": 4, "factor": 2}, "factor > 1"),
    ({"start": 8, "stop": 4, "factor": 2}, "factor > 1"),
    ({"start": 0, "stop": 10**12, "step": 1}, "more than"),
    ([], "no values"),
    ([[1, 2]], "scalars"),
    ("abc", "expected a list"),
])
def test_range_errors_name_the_key(spec, expect):
    with pytest.raises(ConfigError) as e:
        axis_values("adc.bits", spec, "f.yaml")
    msg = str(e.value)
    assert "\n" not in msg and "f.yaml" in msg and "axis adc.bits" in msg and expect in msg, msg


def test_range_error_through_load(tmp_path):
    with pytest.raises(ConfigError, match=r"sweep\.yaml: axes\[0\]: axis pe\.adcs: step 0"):
        _load(tmp_path, _doc(axes={"pe.adcs": {"start": 1, "stop": 4, "step": 0}}))


# ------------------------------------------------------------------------------ validation errors

BAD = {
    "unknown-top-key": (_doc(bogus=1), ["bogus", "unknown key"]),
    "missing-base": ({"name": "t", "workloads": ZOO_WL}, ["base", "required"]),
    "missing-workloads": ({"name": "t", "base": {"arch": "trq_baseline"}}, ["workloads", "required"]),
    "empty-workloads": (_doc(workloads=[]), ["workloads"]),
    "unknown-arch-key-axis": (_doc(axes={"adc.bitz": [4]}), ["adc.bitz", "did you mean 'adc.bits'"]),
    "unknown-arch-key-zip": (_doc(axes=[{"zip": {"adc.bits": [4], "pe.adcz": [1]}}]), ["pe.adcz", "pe.adcs"]),
    "unknown-base-set": ({**_doc(), "base": {"arch": "trq_baseline", "set": {"adc.bitz": 4}}},
                         ["base", "adc.bitz", "adc.bits"]),
    "unknown-preset": ({**_doc(), "base": {"arch": "no_such_preset"}}, ["base", "no_such_preset"]),
    "axis-twice": (_doc(axes=[{"grid": {"adc.bits": [4]}}, {"zip": {"adc.bits": [5]}}]),
                   ["axes[1]", "adc.bits", "twice"]),
    "zip-unequal": (_doc(axes=[{"zip": {"adc.bits": [4, 5, 6], "pe.adcs": [1, 2]}}]),
                    ["zip", "adc.bits has 3", "pe.adcs has 2"]),
    "empty-axis": (_doc(axes={"adc.bits": []}), ["adc.bits", "no values"]),
    "empty-grid": (_doc(axes=[{"grid": {}}]), ["axes[0]", "grid"]),
    "bad-group": (_doc(axes=[{"cross": {"adc.bits": [4]}}]), ["axes[0]", "grid", "zip"]),
    "axes-scalar": (_doc(axes=3), ["axes"]),
    "workload-dir-missing": (_doc(workloads=[{"path": "nope_dir"}]), ["workloads[0]", "nope_dir", "no such"]),
    "workload-no-yaml": (_doc(workloads=[{"path": "empty_dir"}]), ["workloads[0]", "empty_dir", "workload.yaml"]),
    "zoo-unknown": (_doc(workloads=[{"path": "zoo:lenet6"}]), ["zoo:lenet6", "lenet5"]),
    "same-label": (_doc(workloads=[{"path": "zoo:lenet5"}, {"path": "zoo:resnet20", "name": "lenet5"}]),
                   ["lenet5", "name"]),
    "bad-samples": (_doc(workloads=[{"path": "zoo:lenet5", "samples": 0}]), ["samples"]),
    "bad-run-key": (_doc(run={"timing": True, "smaples": 3}), ["run.smaples"]),
    "name-slash": ({**_doc(), "name": "a/b"}, ["name", "a/b"]),
    "name-empty": ({**_doc(), "name": ""}, ["name"]),
    "yaml-syntax": ("name: [t\n", ["YAML syntax error"]),
    "empty-file": ("", ["empty"]),
    "top-level-list": ("- 1\n- 2\n", ["mapping", "list"]),
}


def _bad_file(tmp_path: Path, case: str) -> Path:
    (tmp_path / "empty_dir").mkdir(exist_ok=True)
    return _write(tmp_path / "BAD.yaml", BAD[case][0])


@pytest.mark.parametrize("case", list(BAD))
def test_bad_sweep_file_is_one_line(tmp_path, case):
    path = _bad_file(tmp_path, case)
    with pytest.raises(ConfigError) as e:
        load_sweep(path)
    msg = str(e.value)
    assert "\n" not in msg, msg
    assert msg.startswith(str(path)), msg
    for part in BAD[case][1]:
        assert part in msg, (part, msg)


@pytest.mark.parametrize("case", ["unknown-top-key", "unknown-arch-key-axis", "zip-unequal", "yaml-syntax",
                                  "top-level-list", "zoo-unknown"])
def test_cli_dry_run_bad_file(tmp_path, capsys, case, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _bad_file(tmp_path, case)
    assert main(["sweep", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("isaacsim: error: "), err
    assert "Traceback" not in err and str(path) in err


def test_cli_dry_run_lists_points(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "ok.yaml", _doc(
        workloads=[{"path": "zoo:lenet5"}, {"path": "zoo:resnet20"}],
        axes=[{"zip": {"adc.resolution": [8, 4], "adc.bits": [6, 6]}}, {"grid": {"pe.adcs": [1, 2]}}]))
    assert main(["sweep", str(path), "--dry-run", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    sw = load_sweep(path)
    assert len(sw.points) == 8
    assert "8 points" in out
    for p in sw.points:
        line = next(ln for ln in out.splitlines() if p.hash in ln)
        assert p.workload.label in line and f"pe.adcs={p.values['pe.adcs']}" in line
        assert ("INVALID" in line) == (p.error is not None)
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


# ------------------------------------------------------------------------------ invalid combinations


def test_invalid_combination_is_a_point_with_error(tmp_path):
    # adc.resolution 4 and adc.bits 6 are each valid on trq_baseline (resolution 8); together
    # in uniform mode they are not. trq mode does not check bits against the resolution.
    sw = _load(tmp_path, _doc(axes=[{"zip": {"adc.mode": ["uniform", "uniform", "trq"],
                                             "adc.resolution": [8, 4, 8], "adc.bits": [6, 6, 10]}}]))
    errs = [p.error for p in sw.points]
    assert errs[0] is None and errs[2] is None  # trq mode does not check bits
    assert errs[1] is not None and "adc.bits=6 exceeds adc.resolution=4" in errs[1]
    assert len({p.hash for p in sw.points}) == 3


# ------------------------------------------------------------------------------ config hash


def _wl_copy(tmp_path: Path) -> Path:
    from isaacsim.workload.zoo import make

    wl = tmp_path / "wl"
    make("lenet5", out=wl, samples=2)
    return wl


def _hashes(path: Path) -> list[str]:
    return [p.hash for p in load_sweep(path).points]


def test_hash_deterministic_and_sensitive(tmp_path):
    wl = _wl_copy(tmp_path)
    base = _doc(axes={"pe.adcs": [1, 2]}, workloads=[{"path": "wl", "samples": 2}])
    f = _write(tmp_path / "s.yaml", base)
    h0 = _hashes(f)
    assert h0 == _hashes(f) and len(set(h0)) == 2
    assert _hashes(_write(tmp_path / "s2.yaml", {**base, "description": "other words"})) == h0
    assert _hashes(_write(tmp_path / "s3.yaml", {**base, "name": "renamed"})) == h0

    def changed(doc, name):
        h = _hashes(_write(tmp_path / name, doc))
        assert h[0] != h0[0] and h[1] != h0[1], name

    changed({**base, "axes": {"pe.adcs": [3, 4]}}, "v.yaml")
    changed({**base, "workloads": [{"path": "wl", "samples": 1}]}, "n.yaml")
    changed({**base, "workloads": [{"path": "wl"}]}, "n2.yaml")
    changed({**base, "run": {"timing": False}}, "t.yaml")
    changed({**base, "base": {"arch": "trq_baseline", "set": {"clock_mhz": 200}}}, "b.yaml")
    # one byte of a workload file
    victim = sorted(p for p in wl.rglob("*") if p.is_file() and p.suffix == ".npz")[0]
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1
    victim.write_bytes(bytes(data))
    assert _hashes(f)[0] != h0[0]
    data[-1] ^= 1
    victim.write_bytes(bytes(data))
    assert _hashes(f) == h0


def test_hash_is_over_the_validated_arch(tmp_path):
    plain = _hashes(_write(tmp_path / "a.yaml", _doc()))
    default_set = _hashes(_write(tmp_path / "b.yaml", {**_doc(), "base": {"arch": "trq_baseline",
                                                                          "set": {"adc.m": 4}}}))
    assert plain == default_set  # adc.m defaults to 4
    # a swept value equal to the default gives the same hash as not sweeping it
    swept = load_sweep(_write(tmp_path / "c.yaml", _doc(axes={"adc.m": [4, 3]}))).points
    assert swept[0].hash == plain[0] and swept[1].hash != plain[0]
    # adc.bits: 8 equals resolution but is not the null default: a different arch
    bits = _hashes(_write(tmp_path / "d.yaml", {**_doc(), "base": {"arch": "trq_baseline",
                                                                   "set": {"adc.bits": 8}}}))
    assert bits != plain


def test_paths_resolve_against_the_sweep_file(tmp_path, monkeypatch):
    sub = tmp_path / "sweeps"
    sub.mkdir()
    (tmp_path / "arch").mkdir()
    _write(tmp_path / "arch" / "mine.yaml", "extends: trq_baseline\npe.adcs: 3\n")
    shutil.copytree(LENET, tmp_path / "wls" / "lenet")
    f = _write(sub / "s.yaml", {**_doc(workloads=[{"path": "../wls/lenet", "samples": 2}]),
                                "base": {"arch": "../arch/mine.yaml"}})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    sw = load_sweep(f)
    monkeypatch.chdir(sub)
    sw2 = load_sweep(Path("s.yaml"))
    p, p2 = sw.points[0], sw2.points[0]
    assert p.workload.ref == str((tmp_path / "wls" / "lenet").resolve()) == p2.workload.ref
    assert p.arch["pe"]["adcs"] == 3
    assert p.hash == p2.hash
    # the same workload bytes in another folder hash the same (fingerprint is content)
    g = _write(tmp_path / "t.yaml", {**_doc(workloads=[{"path": str(LENET), "samples": 2}]),
                                     "base": {"arch": "arch/mine.yaml"}})
    assert load_sweep(g).points[0].hash == p.hash


def test_out_of_range_axis_value_is_a_file_error(tmp_path):
    # pe.adcs 0 is outside the key's own range whatever the other axes hold: the file is wrong
    with pytest.raises(ConfigError, match=r"axis pe.adcs=0: pe.adcs: .*>= 1"):
        _load(tmp_path, _doc(axes={"pe.adcs": [4, 0]}))


def test_groups_keep_zip_keys_together(tmp_path):
    sw = _load(tmp_path, _doc(axes=[{"zip": {"adc.mode": ["uniform", "trq"], "adc.bits": [6, None]}},
                                    {"grid": {"pe.adcs": [4, 8]}}]))
    assert sw.groups == [("zip", ["adc.mode", "adc.bits"]), ("grid", ["pe.adcs"])]


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).resolve().parents[1] / "arch_configs"
                                                         / "sweeps").glob("*.yaml")))
def test_every_shipped_sweep_file_loads(name):
    """The sweep files under arch_configs/sweeps load (keys, values and workloads checked) and expand into points."""
    from isaacsim.sweep.spec import load_sweep

    sw = load_sweep(Path(__file__).resolve().parents[1] / "arch_configs" / "sweeps" / name)
    assert sw.points
