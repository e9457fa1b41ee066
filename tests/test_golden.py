"""End-to-end goldens: every preset x shipped workload against its recorded summary.

The files in tests/golden/ were written by `python tests/golden/record.py` before the code they
guard was restructured (the commit is in each file). Integers (conversions, A/D operations,
cycles, per-layer counts) must match exactly; accuracies and energies within 1e-9 relative, which
allows a different summation order and nothing else.
"""

from __future__ import annotations

import json
import math

import pytest

from tests.golden.record import HERE, PRESETS, ROOT, WORKLOADS, cases, path_of, run


def _compare(got, want, where: str) -> list[str]:
    if isinstance(want, dict):
        diffs = [] if set(got) == set(want) else [f"{where}: keys {sorted(got)} != {sorted(want)}"]
        for k in want:
            if k in got:
                diffs += _compare(got[k], want[k], f"{where}.{k}")
        return diffs
    if isinstance(want, float) and isinstance(got, (int, float)):
        return [] if math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-30) else [f"{where}: {got!r} != {want!r}"]
    return [] if got == want else [f"{where}: {got!r} != {want!r}"]


@pytest.mark.parametrize(("preset", "workload", "timing_only"), cases(),
                         ids=[f"{p}-{w}{'-timing_only' if t else ''}" for p, w, t in cases()])
def test_golden_summary(preset, workload, timing_only):
    want = json.loads(path_of(preset, workload, timing_only).read_text())["summary"]
    got = run(preset, workload, timing_only)
    diffs = _compare(got, want, f"{preset} x {workload}")
    assert not diffs, "\n".join(diffs[:20])


def test_compare_sees_a_change():
    want = {"a": 1, "b": {"c": 1.0}}
    assert _compare({"a": 1, "b": {"c": 1.0 + 1e-12}}, want, "x") == []
    assert _compare({"a": 2, "b": {"c": 1.0}}, want, "x") == ["x.a: 2 != 1"]
    assert _compare({"a": 1, "b": {"c": 1.001}}, want, "x")


def test_every_case_has_its_golden_file_and_no_file_is_stray():
    want = {path_of(*case) for case in cases()}
    have = set(HERE.glob("*.json"))
    assert len(want) == len(cases()), "two cases share a golden file"
    assert not want - have, f"missing goldens (run tests/golden/record.py): {sorted(p.name for p in want - have)}"
    assert not have - want, f"stray goldens (no case in record.py): {sorted(p.name for p in have - want)}"


def test_goldens_cover_every_shipped_preset_and_workload():
    """The set of cases cannot shrink silently: it is every preset x every shipped workload."""
    assert set(PRESETS) == {p.stem for p in (ROOT / "arch_configs").glob("*.yaml")}
    assert set(WORKLOADS) == {p.parent.name for p in (ROOT / "workloads").glob("*/workload.yaml")}
    assert len(cases()) == len(PRESETS) * len(WORKLOADS) + len(PRESETS) * 2
