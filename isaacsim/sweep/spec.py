"""Sweep files: parse and validate a sweep YAML, expand its axes into design points, and give
each point a config hash.

A sweep names a base arch (preset or file, plus dotted overrides), one or more workloads, and
axes over dotted arch keys (and `seed`, the one axis that is not an arch key). Axes are groups: a
`grid` group crosses its keys, a `zip` group walks its keys in step; the groups cross each other,
and the workloads cross everything (outermost). Each point carries its seed and whether it is
calibrated first (`run.calibrate`, TRQ points only). docs/sweeps.md is the user's page.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import numbers
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from isaacsim.config.loader import (
    format_validation_error,
    raw_config,
    read_yaml_mapping,
    set_dotted,
)
from isaacsim.config.models import Arch
from isaacsim.errors import ConfigError, WorkloadError
from isaacsim.functional.nonideal import MAX_SEED
from isaacsim.sweep.store import SEED
from isaacsim.workload.resolve import ZOO_PREFIX, zoo_name

HASH_VERSION = 1
"""Bumped when what a point's metrics mean changes, so old rows stop matching new points."""
MAX_POINTS = 1_000_000


# ------------------------------------------------------------------------------ file models

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseArch(_Strict):
    arch: str = Field(..., min_length=1, description="Preset name or arch YAML path (relative to the sweep file).")
    set: dict[str, Any] = Field(default_factory=dict, description="Dotted overrides applied to every point.")


class WorkloadEntry(_Strict):
    path: str = Field(..., min_length=1, description="Workload directory (relative to the sweep file) or zoo:NAME.")
    name: str | None = Field(None, min_length=1,
                             description="Label in results and figures (default: the directory or zoo name).")
    samples: int | None = Field(None, ge=1,
                                description="Samples per point (default: run.samples, else the whole eval set).")


class CalibrateOptions(_Strict):
    """`calibrate`'s options for the points that are calibrated first (isaacsim.calibrate.loop)."""

    max_drop: float = Field(0.005, ge=0, lt=1, description="Allowed accuracy drop, a fraction (0.005 = 0.5 pp).")
    calib: StrictInt = Field(32, ge=1, description="Calibration samples captured.")
    eval_samples: StrictInt | None = Field(None, ge=1,
                                           description="Eval samples of each evaluation (default: the point's).")
    refine: bool = Field(True, description="The per-layer greedy refinement.")
    refine_passes: StrictInt | None = Field(None, ge=1, description="Refinement passes at most (default: until "
                                            "one keeps nothing).")
    min_n_r2: StrictInt | None = Field(None, ge=1, description="Lowest n_r2 of the step loop (default: calibrate's).")
    max_n_r2: StrictInt | None = Field(None, ge=1, description="Cap on R2's bits (default: none).")


class RunOptions(_Strict):
    samples: int | None = Field(None, ge=1, description="Default samples per point.")
    timing: bool = Field(True, description="Run the cycle-level timing model (latency, power).")
    batch_size: int | None = Field(None, ge=1, description="Samples per simulate batch (default: automatic).")
    seed: StrictInt = Field(0, ge=0, le=MAX_SEED, description="Seed of the non-ideal datapath's draws (the "
                            "programmed chip and read noise) of every point; a `seed` axis overrides it.")
    calibrate: CalibrateOptions | None = Field(None, description="Calibrate each TRQ point's registers on its own "
                                               "arch and seed before simulating it (null: the arch's registers).")


class SweepFile(_Strict):
    name: str = Field(..., description="Sweep name: letters, digits, '.', '_' and '-'.")
    description: str = ""
    base: BaseArch
    workloads: list[WorkloadEntry] = Field(..., min_length=1)
    run: RunOptions = Field(default_factory=RunOptions)
    axes: Any = Field(default_factory=list,
                      description="A mapping (one grid) or a list of {grid: ...} / {zip: ...} groups.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", v):
            raise ValueError(f"name {v!r}: use letters, digits, '.', '_' and '-' (it names the output folder)")
        return v


# ------------------------------------------------------------------------------ points

@dataclass(frozen=True)
class Workload:
    """A resolved workload entry: its label, where it lives, its fingerprint and samples."""

    label: str
    ref: str  # absolute directory path, or zoo:NAME
    fingerprint: str
    samples: int | None


@dataclass(frozen=True)
class Point:
    """One design point: its index in the expansion, the workload, the swept values, and the
    config hash over everything that decides its results."""

    index: int
    workload: Workload
    values: dict[str, Any]
    arch: dict[str, Any]  # the merged raw arch tree of this point (not yet validated)
    hash: str
    error: str | None = None  # set when this point's arch does not validate
    seed: int = 0  # the seed axis's value, else run.seed
    calibrate: bool = False  # run.calibrate is set and the point's ADC is TRQ: calibrated before it runs


@dataclass
class Sweep:
    """A parsed sweep: the file's model, where it came from, the swept keys and the points."""

    spec: SweepFile
    path: Path
    keys: list[str]
    points: list[Point] = field(default_factory=list)
    text: str = ""
    groups: list[tuple[str, list[str]]] = field(default_factory=list)
    """(kind, keys) of each axis group: keys of one zip group move together."""

    @property
    def name(self) -> str:
        return self.spec.name


def _is_num(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _list_values(key: str, spec: list, where: str) -> list[Any]:
    """A list axis: non-empty, of scalars."""
    if not spec:
        raise ConfigError(f"{where}: axis {key} has no values")
    for v in spec:
        if isinstance(v, (dict, list)):
            raise ConfigError(f"{where}: axis {key}: values must be scalars, got {type(v).__name__}")
    return list(spec)


def _range_bounds(key: str, spec: dict, where: str) -> tuple[Any, Any, Any]:
    """(start, stop, step or factor) of a range mapping, its keys and numbers checked."""
    extra = sorted(set(spec) - {"start", "stop", "step", "factor"})
    if extra:
        raise ConfigError(f"{where}: axis {key}: unknown range key {extra[0]!r}; a range has start, stop "
                          "and step (or factor)")
    missing = [k for k in ("start", "stop") if k not in spec]
    if missing:
        raise ConfigError(f"{where}: axis {key}: range lacks {missing[0]}")
    if ("step" in spec) == ("factor" in spec):
        raise ConfigError(f"{where}: axis {key}: a range takes exactly one of step and factor")
    start, stop = spec["start"], spec["stop"]
    inc = spec.get("step", spec.get("factor"))
    for name, v in (("start", start), ("stop", stop), ("step" if "step" in spec else "factor", inc)):
        if not _is_num(v):
            raise ConfigError(f"{where}: axis {key}: range {name} must be a number, got {v!r}")
    return start, stop, inc


def _step_values(key: str, start, stop, inc, where: str) -> list[Any]:
    """start, start + step, ... up to stop (included)."""
    if inc == 0 or (stop - start) * inc < 0:
        raise ConfigError(f"{where}: axis {key}: step {inc} never goes from {start} to {stop}")
    n = math.floor((stop - start) / inc + 1e-9) + 1
    if n > MAX_POINTS:  # before building the list: {start: 0, stop: 1e12, step: 1} must not eat memory
        raise ConfigError(f"{where}: axis {key}: more than {MAX_POINTS} values")
    return [start + i * inc for i in range(n)]


def _factor_values(key: str, start, stop, inc, where: str) -> list[Any]:
    """start, start x factor, ... up to stop (included)."""
    if not (inc > 1 and 0 < start <= stop):
        raise ConfigError(f"{where}: axis {key}: a factor range needs factor > 1 and 0 < start <= stop "
                          f"(got start {start}, stop {stop}, factor {inc})")
    out: list[Any] = []
    v = start
    while v <= stop * (1 + 1e-12) and len(out) <= MAX_POINTS:
        out.append(v)
        v = v * inc
    if len(out) > MAX_POINTS:
        raise ConfigError(f"{where}: axis {key}: more than {MAX_POINTS} values")
    return out


def axis_values(key: str, spec: Any, where: str) -> list[Any]:
    """An axis's values: a non-empty list, or a range mapping {start, stop, step} (stop
    included) or {start, stop, factor} (geometric, stop included)."""
    if isinstance(spec, list):
        return _list_values(key, spec, where)
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: axis {key}: expected a list of values or a range "
                          f"{{start, stop, step}}, got {type(spec).__name__}")
    start, stop, inc = _range_bounds(key, spec, where)
    values = _step_values if "step" in spec else _factor_values
    out = values(key, start, stop, inc, where)
    if all(isinstance(v, numbers.Integral) for v in (start, stop, inc)):
        return [int(round(v)) for v in out]
    return [float(round(v, 12)) for v in out]


def axis_groups(axes: Any, where: str) -> list[tuple[str, dict[str, list[Any]]]]:
    """[(kind, {key: values})]: a mapping is one grid; a list holds {grid: ...}/{zip: ...} groups."""
    if axes is None:
        return []
    raw = [{"grid": axes}] if isinstance(axes, dict) else axes
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: axes must be a mapping of dotted keys (a grid) or a list of "
                          f"{{grid: ...}} / {{zip: ...}} groups, got {type(axes).__name__}")
    groups: list[tuple[str, dict[str, list[Any]]]] = []
    seen: set[str] = set()
    for i, g in enumerate(raw):
        at = f"{where}: axes[{i}]"
        if not isinstance(g, dict) or len(g) != 1 or next(iter(g)) not in ("grid", "zip"):
            raise ConfigError(f"{at}: expected one of {{grid: {{KEY: VALUES}}}} or {{zip: {{KEY: VALUES}}}}")
        kind, body = next(iter(g.items()))
        if not isinstance(body, dict) or not body:
            raise ConfigError(f"{at}: {kind} must map dotted keys to values")
        vals: dict[str, list[Any]] = {}
        for key, spec in body.items():
            if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
                raise ConfigError(f"{at}: bad dotted key {key!r}")
            if key in seen:
                raise ConfigError(f"{at}: axis {key} appears twice")
            seen.add(key)
            vals[key] = axis_values(key, spec, at)
        if kind == "zip":
            lens = {k: len(v) for k, v in vals.items()}
            if len(set(lens.values())) > 1:
                txt = ", ".join(f"{k} has {n}" for k, n in lens.items())
                raise ConfigError(f"{at}: zip axes must have equal lengths ({txt})")
        groups.append((kind, vals))
    return groups


def group_rows(kind: str, vals: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(vals)
    if kind == "zip":
        return [dict(zip(keys, combo, strict=True)) for combo in zip(*vals.values(), strict=True)]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*vals.values())]


def workload_fingerprint(ref: str) -> str:
    """zoo:NAME as is; a directory: sha256 of its files' names and bytes (16 hex digits)."""
    if ref.startswith(ZOO_PREFIX):
        return ref
    h = hashlib.sha256()
    root = Path(ref)
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(root)).encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _resolve_workload(entry: WorkloadEntry, base_dir: Path, default_samples: int | None, where: str) -> Workload:
    try:
        name = zoo_name(entry.path)
    except WorkloadError as e:
        raise ConfigError(f"{where}: workload {entry.path}: {e}") from None
    if name is not None:
        ref = entry.path
        label = entry.name or name
    else:
        p = Path(entry.path).expanduser()
        p = p if p.is_absolute() else base_dir / p
        if not p.is_dir():
            raise ConfigError(f"{where}: workload {entry.path}: no such workload directory ({p})")
        if not (p / "workload.yaml").is_file():
            raise ConfigError(f"{where}: workload {entry.path}: {p} holds no workload.yaml")
        ref = str(p.resolve())
        label = entry.name or p.name
    samples = entry.samples if entry.samples is not None else default_samples
    return Workload(label=label, ref=ref, fingerprint=workload_fingerprint(ref), samples=samples)


def config_hash(arch: Arch | None, raw: dict[str, Any], workload: Workload, run: RunOptions, seed: int = 0,
                calibrate: CalibrateOptions | None = None) -> str:
    """16 hex digits of sha256 over the validated arch (or the raw tree when it does not
    validate), the workload's fingerprint and samples, the run options, the seed and the
    calibration options of a point that is calibrated."""
    doc = {
        "v": HASH_VERSION,
        "arch": arch.model_dump(mode="json") if arch is not None else raw,
        "workload": workload.fingerprint,
        "samples": workload.samples,
        "timing": run.timing,
    }
    # Seed 0 and no calibration add nothing: every point of a sweep written before the seed and
    # run.calibrate existed ran at seed 0, uncalibrated, so its hash stays valid (HASH_VERSION kept).
    if seed:
        doc["seed"] = seed
    if calibrate is not None:
        doc["calibrate"] = calibrate.model_dump(mode="json")
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _validate(tree: dict[str, Any], label: str) -> tuple[Arch | None, str | None]:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Arch.model_validate(copy.deepcopy(tree)), None
    except ValidationError as e:
        return None, f"{label}: {format_validation_error(e, Arch)}"


def _about_the_axis(message: str, key: str) -> bool:
    """Whether a validation error of one axis value on the base arch is about that value itself
    (an unknown key, a wrong type, a value out of the key's range) rather than about how it
    combines with the rest of the arch (which other axes may change)."""
    return ("unknown key" in message or "expected a section" in message
            or "is a value, not a section" in message or f": {key}: " in message)


def _read_spec(p: Path) -> SweepFile:
    data = read_yaml_mapping(p, "sweep")
    try:
        return SweepFile.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{p}: {format_validation_error(e, SweepFile)}") from None


def _base_tree(base: BaseArch, base_dir: Path, where: str) -> dict[str, Any]:
    """The base arch's raw tree (a relative arch path is relative to the sweep file); it must validate."""
    arch_ref = base.arch
    ref_path = Path(arch_ref).expanduser()
    if ref_path.suffix in (".yaml", ".yml") and not ref_path.is_absolute():
        arch_ref = str(base_dir / ref_path)
    try:
        tree, _ = raw_config(arch_ref, base.set)
    except ConfigError as e:
        raise ConfigError(f"{where}: base: {e}") from None
    _, err = _validate(tree, f"{where}: base")
    if err is not None:
        raise ConfigError(err)
    return tree


def _check_seed(v: Any, where: str) -> None:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= v <= MAX_SEED:
        raise ConfigError(f"{where}: axis {SEED}: a seed is a whole number in 0 .. 2^63 - 1, got {v!r}")


def _check_axis_value(base_tree: dict[str, Any], key: str, v: Any, where: str) -> None:
    """One axis value on the base: an unknown key or a value out of the key's range raises."""
    if key == SEED:
        _check_seed(v, where)
        return
    tree = copy.deepcopy(base_tree)
    try:
        set_dotted(tree, key, v, f"{where}: axis {key}")
    except ConfigError as e:
        raise ConfigError(str(e)) from None
    _, err = _validate(tree, f"{where}: axis {key}={v!r}")
    if err is not None and _about_the_axis(err, key):
        raise ConfigError(err)


def _resolve_workloads(spec: SweepFile, base_dir: Path, where: str) -> list[Workload]:
    workloads = [_resolve_workload(w, base_dir, spec.run.samples, f"{where}: workloads[{i}]")
                 for i, w in enumerate(spec.workloads)]
    labels = [w.label for w in workloads]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ConfigError(f"{where}: two workloads are labelled {dup[0]!r}; give them distinct name: keys")
    return workloads


def _value_rows(groups: list[tuple[str, dict[str, list[Any]]]], n_workloads: int, where: str) -> list[dict]:
    """The axis groups crossed: one {key: value} per combination."""
    rows: list[dict] = [{}]
    for kind, vals in groups:
        rows = [{**a, **b} for a in rows for b in group_rows(kind, vals)]
        if len(rows) * n_workloads > MAX_POINTS:
            raise ConfigError(f"{where}: more than {MAX_POINTS} points")
    return rows


def _points(workloads: list[Workload], rows: list[dict], base_tree: dict[str, Any], run: RunOptions) -> list[Point]:
    """Workloads (outermost) x rows: each point's merged tree, validation error and hash."""
    points: list[Point] = []
    for wl in workloads:
        for values in rows:
            tree = copy.deepcopy(base_tree)
            for k, v in values.items():
                if k != SEED:
                    set_dotted(tree, k, v)
            arch, err = _validate(tree, f"point {len(points)}")
            seed = int(values.get(SEED, run.seed))
            calib = run.calibrate is not None and arch is not None and arch.adc.kind.calibrated
            h = config_hash(arch, tree, wl, run, seed, run.calibrate if calib else None)
            points.append(Point(len(points), wl, dict(values), tree, h, err, seed=seed, calibrate=calib))
    return points


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Read, validate and expand a sweep file. Errors about the file itself (keys, types,
    axes, workloads, an override or axis key the arch does not have) raise one ConfigError
    line; a combination of valid values that does not validate becomes a point with `error`."""
    p = Path(path)
    spec = _read_spec(p)
    where = str(p)
    base_dir = p.resolve().parent
    base_tree = _base_tree(spec.base, base_dir, where)
    groups = axis_groups(spec.axes, where)
    # every single axis value on the base: catches unknown keys and out-of-range values early
    for _, vals in groups:
        for key, values in vals.items():
            for v in values:
                _check_axis_value(base_tree, key, v, where)
    workloads = _resolve_workloads(spec, base_dir, where)
    rows = _value_rows(groups, len(workloads), where)
    return Sweep(spec=spec, path=p, keys=[k for _, vals in groups for k in vals],
                 points=_points(workloads, rows, base_tree, spec.run), text=p.read_text(encoding="utf-8"),
                 groups=[(kind, list(vals)) for kind, vals in groups])
