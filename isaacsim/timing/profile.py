"""Timing-only runs: an A/D-operation profile and synthetic traces (docs/timing.md, "Timing-only runs").

A functional run (`isaacsim.simulate`) measures, per layer, how many A/D operations each
conversion took (`LayerStats.ops_hist`). The *ops profile* keeps that distribution as JSON:

    {"format_version": 1, "arch": NAME,
     "layers": {LAYER: {"ops_hist": [conversions taking 0, 1, ... R+2 ops], "conversions": int, "ad_ops": int}}}

(`save_profile`, `load_profile`). A timing-only run (`simulate(..., timing_only=True)`,
`isaacsim.pipeline.timing_only`) runs no sample: it builds, per layer, a *synthetic trace* of
the shape the functional traces have (groups, N, input_cycles, crossbars_per_group, lanes) in
which every conversion costs the layer's mean ops per conversion mu = ad_ops / conversions of
the profile, and runs the pipeline (`simulate_network`) on it. Without a profile entry for a
layer mu is the worst case of its ADC registers (`ADCRegisters.max_ops`: ideal R, uniform bits,
trq nu + max(n_r1, n_r2)), so that estimate is conservative.

Rounding rule (exact): the cells of the trace are taken in C order (group, window, cycle,
crossbar, lane); cell i converts c_i columns (`MatrixGeometry.column_lanes`), C_i = c_0 + ... + c_i
and C_{-1} = 0. The cell gets round(C_i mu) - round(C_{i-1} mu), round = floor(x + 1/2) in exact
integer arithmetic while 2 C mu's numerator stays below 2^62, else in float64. So every cell is
within 1 of c_i mu (exactly c_i mu when mu is a whole number), any run of consecutive cells (a
cycle of a window, a whole window) sums to within 1 of its columns x mu, and the layer total is
round(conversions x mu): conversions x mu to within 1/2.
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from isaacsim.errors import ConfigError
from isaacsim.files import atomic_write_text

FORMAT_VERSION = 1


# ---- the profile file
def profile_of(result) -> dict[str, Any]:
    """The profile document of a functional `Result` (layers with at least one conversion)."""
    layers = {}
    for name, s in result.layers.items():
        if s.conversions <= 0:
            continue
        layers[name] = {"ops_hist": [int(v) for v in np.asarray(s.ops_hist, np.int64)],
                        "conversions": int(s.conversions), "ad_ops": int(s.ad_ops)}
    return {"format_version": FORMAT_VERSION, "arch": result.arch.name, "layers": layers}


def save_profile(path: str | os.PathLike, result) -> None:
    """Write `profile_of(result)` to `path` as JSON; ConfigError if it cannot be written."""
    try:
        atomic_write_text(path, json.dumps(profile_of(result), indent=1) + "\n")
    except OSError as e:
        raise ConfigError(f"profile {path}: cannot write ({e.__class__.__name__}: {e.strerror or e})") from None


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check_profile(doc: Any, where: str = "profile") -> dict[str, Any]:
    """Validate a profile document; one-line ConfigError naming `where` and the layer otherwise."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: not a JSON object")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"{where}: format_version must be {FORMAT_VERSION}, got {doc.get('format_version')!r}")
    unknown = set(doc) - {"format_version", "arch", "layers"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    if "arch" in doc and not isinstance(doc["arch"], str):
        raise ConfigError(f"{where}: arch must be a string, got {doc['arch']!r}")
    layers = doc.get("layers")
    if not isinstance(layers, dict):
        raise ConfigError(f"{where}: 'layers' must be an object of layer name -> entry")
    for name, e in layers.items():
        at = f"{where}: layer {name!r}"
        if not isinstance(e, dict):
            raise ConfigError(f"{at}: entry must be an object")
        missing = {"ops_hist", "conversions", "ad_ops"} - set(e)
        extra = set(e) - {"ops_hist", "conversions", "ad_ops"}
        if missing or extra:
            what = (f"missing {', '.join(sorted(missing))}" if missing else "") + \
                   ("; " if missing and extra else "") + (f"unknown {', '.join(sorted(extra))}" if extra else "")
            raise ConfigError(f"{at}: {what}")
        hist, conv, ops = e["ops_hist"], e["conversions"], e["ad_ops"]
        if not isinstance(hist, list) or not all(_whole(v) for v in hist):
            raise ConfigError(f"{at}: ops_hist must be a list of whole numbers >= 0")
        if not _whole(conv) or conv < 1:
            raise ConfigError(f"{at}: conversions must be a whole number >= 1, got {conv!r}")
        if not _whole(ops):
            raise ConfigError(f"{at}: ad_ops must be a whole number >= 0, got {ops!r}")
        if sum(hist) != conv or sum(i * v for i, v in enumerate(hist)) != ops:
            raise ConfigError(f"{at}: ops_hist does not add up to conversions={conv} and ad_ops={ops}")
    return doc


def load_profile(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a profile file (module docstring); ConfigError naming the file otherwise."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"profile {path}: cannot read ({e.__class__.__name__}: {e.strerror or e})") from None
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"profile {path}: not valid JSON ({e})") from None
    except RecursionError:
        raise ConfigError(f"profile {path}: arrays and objects nested too deep") from None
    return check_profile(doc, f"profile {path}")


def mean_ops(profile: dict[str, Any] | None, name: str) -> Fraction | None:
    """The layer's exact mean A/D operations per conversion in `profile`, None if absent."""
    if profile is None or name not in profile["layers"]:
        return None
    e = profile["layers"][name]
    return Fraction(int(e["ad_ops"]), int(e["conversions"]))


# ---- synthetic traces
def _spread(counts: np.ndarray, mu: Fraction) -> np.ndarray:
    """round(C_i mu) - round(C_{i-1} mu) over the cumulative counts C (module docstring)."""
    cum = np.cumsum(counts, dtype=np.int64)
    p, q = mu.numerator, mu.denominator
    top = int(cum[-1]) if cum.size else 0
    if (2 * top * p + q) < 2**62:  # exact integer arithmetic
        r = (2 * cum * p + q) // (2 * q)
    else:
        r = np.floor(cum.astype(np.float64) * float(mu) + 0.5).astype(np.int64)
    out = np.diff(r, prepend=0)
    return out


def synthetic_trace(lp, arch, mu: Fraction) -> np.ndarray:
    """int32 (groups, N, input_cycles, crossbars_per_group, lanes) at mu ops per conversion."""
    g = lp.geometry
    lanes = g.lanes(arch.pe.adcs)
    per = np.bincount(g.column_lanes(arch.pe.adcs).ravel(), minlength=g.crossbars * lanes)
    shape = (lp.layer.groups, lp.layer.n_vectors, g.input_cycles, g.crossbars, lanes)
    blocks = shape[0] * shape[1] * shape[2]
    if mu.denominator == 1:  # every cell exactly c_i mu
        one = (per * mu.numerator).astype(np.int32).reshape(g.crossbars, lanes)
        return np.broadcast_to(one, shape).copy()
    counts = np.tile(per.astype(np.int64), blocks)
    return _spread(counts, mu).astype(np.int32).reshape(shape)


def synthetic_traces(mapping, arch, profile: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """{layer: synthetic trace} for every placed layer: the profile's mean ops per conversion,
    or the worst case of the layer's registers (`ADCRegisters.max_ops`) where it has none."""
    return {lp.name: synthetic_trace(lp, arch, _mu(lp, profile)) for lp in mapping.layers}


def _mu(lp, profile) -> Fraction:
    m = mean_ops(profile, lp.name)
    return Fraction(lp.adc.max_ops) if m is None else m


__all__ = ["FORMAT_VERSION", "check_profile", "load_profile", "mean_ops", "profile_of", "save_profile",
           "synthetic_trace", "synthetic_traces"]
