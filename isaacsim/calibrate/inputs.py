"""What a calibration runs on: its checked options and the capture and evaluation data sets
cut from the workload (notes say what was short or missing)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from isaacsim.errors import ConfigError, WorkloadError
from isaacsim.workload import Workload
from isaacsim.workload.io import Dataset


def _whole(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, np.integer))


@dataclass(frozen=True)
class Options:
    """`calibrate`'s keyword options (its docstring), checked in this order on construction."""

    max_drop: float
    calib: int
    eval_samples: int | None
    min_n_r2: int
    refine: bool
    refine_passes: int | None
    ideal_m: bool
    max_n_r2: int | None = None
    """Cap on R2's bits: the step loop starts at min(R, max_n_r2) (None: at R)."""

    def __post_init__(self) -> None:
        d = self.max_drop
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 <= float(d) < 1:
            raise ConfigError(f"max_drop must be a fraction in [0, 1) (0.005 = 0.5 percentage points), got {d!r}")
        for name in ("calib", "eval_samples", "min_n_r2", "max_n_r2"):
            v = getattr(self, name)
            if v is None and name in ("eval_samples", "max_n_r2"):
                continue
            if not _whole(v) or v < 1:
                raise ConfigError(f"{name} must be a whole number >= 1, got {v!r}")
        p = self.refine_passes
        if p is not None and (not _whole(p) or p < 1):
            raise ConfigError(f"refine_passes must be None or a whole number >= 1, got {p!r}")
        object.__setattr__(self, "max_drop", float(d))


@dataclass(frozen=True)
class DataSets:
    """The two workloads the simulations run: the capture's and every evaluation's."""

    capture: Workload
    """The first `calib` samples of the calib set (else of the eval set), unlabelled, as the eval set."""
    evaluation: Workload
    """The first `eval_samples` samples of the eval set, with its labels if it has them."""
    calib_source: str
    calib_samples: int
    eval_samples: int
    labels: bool

    @property
    def metric(self) -> str:
        return "accuracy" if self.labels else "agreement"


def _eval_set(wl: Workload, eval_samples: int | None, notes: list[str]) -> Dataset:
    if wl.eval is None or wl.eval.x.shape[0] == 0:
        raise WorkloadError(f"workload {wl.name!r} has no eval set to evaluate the calibration on")
    n_eval = int(wl.eval.x.shape[0]) if eval_samples is None else min(int(eval_samples), int(wl.eval.x.shape[0]))
    if eval_samples is not None and eval_samples > n_eval:
        notes.append(f"eval set has {n_eval} samples; using all (asked for {eval_samples})")
    return Dataset(wl.eval.x[:n_eval], None if wl.eval.y is None else wl.eval.y[:n_eval])


def _calib_set(wl: Workload, calib: int, notes: list[str]) -> tuple[str, Dataset]:
    """(source, unlabelled samples) of the capture: the calib set's, else the eval set's."""
    if wl.calib is not None and wl.calib.x.shape[0] > 0:
        cal_src, cal_set = "calib", wl.calib
    else:
        cal_src, cal_set = "eval", wl.eval
        notes.append("workload has no calib set: calibrating on the first eval samples")
    n_cal = min(int(calib), int(cal_set.x.shape[0]))
    if calib > n_cal:
        notes.append(f"{cal_src} set has {n_cal} samples; capturing all (asked for {calib})")
    return cal_src, Dataset(cal_set.x[:n_cal], None)


def data_sets(wl: Workload, opts: Options, notes: list[str]) -> DataSets:
    """Cut the capture and evaluation sets from wl; notes say what was short or missing."""
    ev = _eval_set(wl, opts.eval_samples, notes)
    cal_src, cal = _calib_set(wl, opts.calib, notes)
    labels = ev.y is not None
    if not labels:
        notes.append("eval set has no labels: the metric is top-1 agreement with the lossless-ADC run")
    return DataSets(
        capture=dataclasses.replace(wl, eval=cal, calib=None), evaluation=dataclasses.replace(wl, eval=ev, calib=None),
        calib_source=cal_src, calib_samples=int(cal.x.shape[0]), eval_samples=int(ev.x.shape[0]), labels=labels,
    )
