"""The calibration's resume state: digests of what a run was made with, the state key, and
loading a state file (a mismatch or a damaged file is a warning and a fresh start)."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from isaacsim.calibrate.inputs import DataSets
from isaacsim.config import Arch
from isaacsim.errors import ConfigWarning
from isaacsim.workload import Workload

STATE_VERSION = 1


def sha(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            a = np.ascontiguousarray(p)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()[:32]


def _workload_digest(wl: Workload) -> str:
    parts: list[Any] = [wl.manifest.model_dump(mode="json")]
    for k in sorted(wl.arrays):
        parts += [k, np.asarray(wl.arrays[k])]
    for ds in (wl.calib, wl.eval):
        parts += ["-"] if ds is None else [ds.x, "-" if ds.y is None else ds.y]
    return sha(*parts)


def hist_digest(hists: Mapping[str, np.ndarray]) -> str:
    return sha(*[x for k in hists for x in (k, np.asarray(hists[k], np.int64))])


def state_key(arch: Arch, wl: Workload, data: DataSets, min_n: int, ideal_m: bool,
              max_n: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """What a state file must have been made with to be resumed."""
    return {
        "version": STATE_VERSION,
        "arch": sha(arch.model_dump(mode="json")),
        "workload": _workload_digest(wl),
        "calib": data.calib_samples, "calib_source": data.calib_source, "eval_samples": data.eval_samples,
        "min_n_r2": min_n,
        **({"ideal_m": True} if ideal_m else {}),
        **({"max_n_r2": max_n} if max_n is not None else {}),
        **({"seed": seed} if seed is not None else {}),
    }


def load_state(path: Path | None, key: dict[str, Any]) -> dict[str, Any]:
    """The state for `key`: the file's when it matches, else a fresh one (with a warning if a file was there)."""
    fresh: dict[str, Any] = {"key": key}
    if path is None or not path.exists():
        return fresh
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        warnings.warn(f"state file {path}: unreadable ({type(e).__name__}); starting afresh", ConfigWarning,
                      stacklevel=3)
        return fresh
    old = data.get("key") if isinstance(data, dict) else None
    if not isinstance(old, dict):
        warnings.warn(f"state file {path}: not a calibration state; starting afresh", ConfigWarning, stacklevel=3)
        return fresh
    diff = sorted(k for k in set(key) | set(old) if key.get(k) != old.get(k))
    if diff:
        warnings.warn(f"state file {path}: made with a different {', '.join(diff)}; ignoring it and starting afresh",
                      ConfigWarning, stacklevel=3)
        return fresh
    hists = data.get("hists")
    if hists is not None:
        try:
            ok = hist_digest({k: np.asarray(v, np.int64) for k, v in hists.items()}) == data.get("hist_digest")
        except (AttributeError, TypeError, ValueError):
            ok = False
        if not ok:
            warnings.warn(f"state file {path}: histogram digest does not match; starting afresh", ConfigWarning,
                          stacklevel=3)
            return fresh
    return data
