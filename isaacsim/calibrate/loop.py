"""The end-to-end TRQ calibration loop (paper 000 Algorithm 1 lines 15-21; DESIGN 6): `calibrate`.

1. Capture: run the workload's first `calib` calibration samples (the eval set, with a note,
   when there is no calib set) with a lossless ADC (`mode: ideal` at the arch's resolution R)
   and keep each matrix layer's histogram of bit-line samples (`LayerStats.sample_hist`).
2. Baseline: run the first `eval_samples` eval samples with the arch's uniform ADC at R bits
   (step 1, lossless, so it decodes exactly as the ideal ADC and costs R operations). Its
   accuracy against the labels is the baseline; without labels the metric is the top-1
   agreement with this run's predictions (so the baseline is 1.0).
3. Steps: for n_r2 = R, R-1, ..., `min_n_r2`: per layer `search_layer(hist, R, n_r2)` and keep
   TRQ or the uniform n_r2-bit alternative, whichever has fewer expected A/D operations per
   conversion (tie: lower MSE); simulate the eval samples with those registers. Lowering stops
   at the first step whose drop (baseline - metric) exceeds `max_drop`; the kept setting is the
   lowest n_r2 within budget. If even n_r2 = R is over budget, every layer keeps the lossless
   uniform R-bit ADC (a note says so).
4. Refinement (`refine=True`): greedy passes over the layers, most conversions first: each
   layer alone tries its n_r2 - 1 (never below 1; it may go below `min_n_r2`) and keeps it
   when the whole network stays within budget and the measured ops per conversion do not rise.
   One simulation per layer and pass; passes repeat until one keeps nothing (or
   `refine_passes` passes, 1 = the single pass of earlier versions).

Every simulation after the capture runs the same eval samples; the reported accuracy and A/D
operations per conversion are measured end to end (`Result.summary()["adc"]`), not estimated.

Resumability: a JSON state file (default `<out>.state.json`) holds a key (digests of the arch,
the workload's arrays and data, and calib / eval_samples / min_n_r2), the histograms and their
digest, the baseline and every finished step and refinement trial; it is rewritten atomically
after each. A re-run with the same key skips what is done (max_drop may change: steps are
re-judged against it). A state file whose key or histogram digest does not match is ignored
with a `ConfigWarning` naming what differs, and overwritten.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from isaacsim.adc.regfile import registers_document
from isaacsim.calibrate.search import search_layer, trq_metrics
from isaacsim.config import Arch, load_arch
from isaacsim.errors import ConfigError, ConfigWarning, WorkloadError
from isaacsim.files import atomic_write_text
from isaacsim.pipeline import simulate
from isaacsim.progress import TerminalProgress
from isaacsim.workload import Workload, load_workload
from isaacsim.workload.io import Dataset

STATE_VERSION = 1
MIN_N_R2 = 3
"""Lowest n_r2 the step loop tries by default."""


# ---------------------------------------------------------------- result
@dataclass
class CalibrationResult:
    """What `calibrate` found; `document()` is the register file it writes."""

    arch: str
    workload: str
    registers: dict[str, dict[str, Any]]
    """{layer: register dict} (register-file `layers` shape), the kept setting."""
    layers: list[dict[str, Any]]
    """Per layer: name, mode, registers, n_r2 (the step's), expected ops/conversion, mse, case."""
    n_r2: int | None
    """The kept global n_r2 (None: even n_r2 = R was over budget; lossless uniform kept)."""
    metric: str
    """'accuracy' (labels) or 'agreement' (top-1 agreement with the lossless run)."""
    max_drop: float
    baseline_accuracy: float
    accuracy: float
    ops_before: float
    ops_after: float
    energy_before: float | None
    energy_after: float | None
    calib_samples: int
    calib_source: str
    eval_samples: int
    steps: list[dict[str, Any]] = field(default_factory=list)
    refinements: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    simulations: int = 0
    """Simulator runs this call made (finished steps found in the state file are not re-run)."""
    wall_s: float = 0.0

    @property
    def drop(self) -> float:
        return self.baseline_accuracy - self.accuracy

    def meta(self) -> dict[str, Any]:
        return {
            "written_by": "isaacsim calibrate",
            "arch": self.arch,
            "workload": self.workload,
            "max_drop": self.max_drop,
            "metric": self.metric,
            "calib_samples": self.calib_samples,
            "calib_source": self.calib_source,
            "eval_samples": self.eval_samples,
            "baseline_accuracy": self.baseline_accuracy,
            "accuracy": self.accuracy,
            "n_r2": self.n_r2,
            "ops_per_conversion_before": self.ops_before,
            "ops_per_conversion_after": self.ops_after,
            "adc_energy_j_before": self.energy_before,
            "adc_energy_j_after": self.energy_after,
            "layers": {ly["name"]: {k: ly[k] for k in ("mode", "n_r2", "expected_ops", "mse", "case")}
                       for ly in self.layers},
            "notes": list(self.notes),
        }

    def document(self) -> dict[str, Any]:
        """The register-file tree (format_version 1, meta, layers)."""
        return registers_document(self.registers, self.meta())


# ---------------------------------------------------------------- helpers
def _sha(*parts: Any) -> str:
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
    return _sha(*parts)


def _hist_digest(hists: Mapping[str, np.ndarray]) -> str:
    return _sha(*[x for k in hists for x in (k, np.asarray(hists[k], np.int64))])


def _with_adc(arch: Arch, **adc: Any) -> Arch:
    return load_arch(arch.model_dump(mode="json"), {f"adc.{k}": v for k, v in adc.items()})


def _ideal_wide(hist: np.ndarray, r: int, n_r2: int, s) -> tuple[dict[str, Any], float, float]:
    """The ideal case with D2 = 2^m searched over m in 0..R - n_r2 (paper sec. V-A: "m varies
    in [0, 7]") instead of Eq. 11's fixed m = R - n_r2, jointly with n_r1 in 0..R (D1 = 1,
    bias = 0): fewest expected ops, then least MSE; ties to the larger m, then the smaller n_r1.
    With n_r1 = 0 the ops do not depend on m, so a narrow layer's R2 gets a finer step for free."""
    n1 = np.arange(r + 1, dtype=np.int64)[:, None]
    ms = np.arange(r - n_r2, -1, -1, dtype=np.int64)[None, :]
    ops, mse = trq_metrics(hist, r, n1, n_r2, ms, 1.0, 0)
    ops, mse = ops.ravel(), mse.ravel()
    n1b, msb = np.broadcast_arrays(n1, ms)
    n1b, msb = n1b.ravel(), msb.ravel()
    order = np.lexsort((n1b, -msb, mse, ops))
    i = int(order[0])
    if (ops[i], mse[i]) >= (s.ops, s.mse):
        return dict(s.registers), float(s.ops), float(s.mse)
    regs = {**s.registers, "n_r1": int(n1b[i]), "m": int(msb[i]), "delta_r1": 1.0, "bias": 0}
    return regs, float(ops[i]), float(mse[i])


def _choose(hist: np.ndarray, r: int, n_r2: int, ideal_m: bool = False) -> dict[str, Any]:
    """One layer at n_r2: TRQ or the uniform alternative, fewer expected ops (tie: lower MSE).

    ideal_m: in the ideal case also search m (`_ideal_wide`)."""
    s = search_layer(hist, r, n_r2)
    t_regs, t_ops, t_mse = dict(s.registers), float(s.ops), float(s.mse)
    if ideal_m and s.case == "ideal":
        t_regs, t_ops, t_mse = _ideal_wide(hist, r, n_r2, s)
    trq = (t_ops, t_mse) <= (s.uniform_ops, s.uniform_mse)
    return {
        "mode": "trq" if trq else "uniform",
        "registers": t_regs if trq else dict(s.uniform),
        "n_r2": int(n_r2),
        "expected_ops": t_ops if trq else float(s.uniform_ops),
        "mse": t_mse if trq else float(s.uniform_mse),
        "case": s.case,
    }


class _Progress(TerminalProgress):
    """A rich bar over planned simulations on a terminal; plain lines on stderr otherwise; silent for None."""

    def __init__(self, progress: bool | None, total: int):
        super().__init__(bool(progress), label="calibrate {task.description}", extra=("runs",))
        self.enabled = progress is not None
        self._p = self.p
        if self._p is not None:
            self._task = self._p.add_task("", total=total)
            self._p.start()

    def start(self, what: str) -> None:
        if self._p is not None:
            self._p.update(self._task, description=what)

    def done(self, line: str, runs: int = 1) -> None:
        if self._p is not None:
            self._p.advance(self._task, runs)
            self._p.console.print(line, highlight=False)
        elif self.enabled:
            sys.stderr.write(f"calibrate: {line}\n")
            sys.stderr.flush()

    def total(self, total: int) -> None:
        if self._p is not None:
            self._p.update(self._task, total=total)

    def close(self) -> None:
        if self._p is not None:
            self._p.stop()


# ---------------------------------------------------------------- main
def calibrate(arch: Arch | str | os.PathLike | Mapping[str, Any], workload: Workload | str | os.PathLike, *,
              max_drop: float = 0.005, calib: int = 32, eval_samples: int | None = None,
              state: str | os.PathLike | None = None, progress: bool | None = True, refine: bool = True,
              min_n_r2: int = MIN_N_R2, refine_passes: int | None = None,
              ideal_m: bool = True) -> CalibrationResult:
    """Calibrate per-layer ADC registers (module docstring); returns a `CalibrationResult`.

    arch: Arch, preset name, YAML path or dict (its adc.resolution is R; its adc mode does not
    matter). workload: Workload or directory. max_drop: allowed drop of the metric, a fraction
    in [0, 1) (0.005 = 0.5 percentage points). calib: calibration samples captured.
    eval_samples: eval samples of every end-to-end evaluation (None: the whole eval set).
    state: JSON state file for resuming (None: no state). progress: True = bar on a terminal,
    else lines on stderr; False = lines on stderr; None = silent. refine: the per-layer greedy
    pass. refine_passes: refinement passes at most (None: repeat until a pass keeps no change;
    1: the single pass of earlier versions). ideal_m: in the ideal case also search R2's scale
    m in 0..R - n_r2 (`_ideal_wide`) instead of Eq. 11's m = R - n_r2. Bad inputs raise ConfigError / WorkloadError before any simulation.
    """
    t_start = time.perf_counter()
    if isinstance(max_drop, bool) or not isinstance(max_drop, (int, float)) or not 0 <= float(max_drop) < 1:
        raise ConfigError(f"max_drop must be a fraction in [0, 1) (0.005 = 0.5 percentage points), got {max_drop!r}")
    for name, v in (("calib", calib), ("eval_samples", eval_samples), ("min_n_r2", min_n_r2)):
        if v is None and name == "eval_samples":
            continue
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"{name} must be a whole number >= 1, got {v!r}")
    if refine_passes is not None and (isinstance(refine_passes, bool) or not isinstance(refine_passes, (int, np.integer))
                                      or refine_passes < 1):
        raise ConfigError(f"refine_passes must be None or a whole number >= 1, got {refine_passes!r}")
    max_drop = float(max_drop)
    arch = arch if isinstance(arch, Arch) else load_arch(arch)
    wl = workload if isinstance(workload, Workload) else load_workload(workload)
    r = int(arch.adc.resolution)
    min_n = min(int(min_n_r2), r)
    notes: list[str] = []

    # data sets
    if wl.eval is None or wl.eval.x.shape[0] == 0:
        raise WorkloadError(f"workload {wl.name!r} has no eval set to evaluate the calibration on")
    n_eval = int(wl.eval.x.shape[0]) if eval_samples is None else min(int(eval_samples), int(wl.eval.x.shape[0]))
    if eval_samples is not None and eval_samples > n_eval:
        notes.append(f"eval set has {n_eval} samples; using all (asked for {eval_samples})")
    ev = Dataset(wl.eval.x[:n_eval], None if wl.eval.y is None else wl.eval.y[:n_eval])
    if wl.calib is not None and wl.calib.x.shape[0] > 0:
        cal_src, cal_set = "calib", wl.calib
    else:
        cal_src, cal_set = "eval", wl.eval
        notes.append("workload has no calib set: calibrating on the first eval samples")
    n_cal = min(int(calib), int(cal_set.x.shape[0]))
    if calib > n_cal:
        notes.append(f"{cal_src} set has {n_cal} samples; capturing all (asked for {calib})")
    cal_wl = dataclasses.replace(wl, eval=Dataset(cal_set.x[:n_cal], None), calib=None)
    eval_wl = dataclasses.replace(wl, eval=ev, calib=None)
    labels = ev.y is not None
    metric = "accuracy" if labels else "agreement"
    if not labels:
        notes.append("eval set has no labels: the metric is top-1 agreement with the lossless-ADC run")

    key = {
        "version": STATE_VERSION,
        "arch": _sha(arch.model_dump(mode="json")),
        "workload": _workload_digest(wl),
        "calib": n_cal, "calib_source": cal_src, "eval_samples": n_eval, "min_n_r2": min_n,
        **({"ideal_m": True} if ideal_m else {}),
    }
    st_path = Path(state) if state is not None else None
    st = _load_state(st_path, key)
    sims = 0

    def save() -> None:
        if st_path is not None:
            try:
                atomic_write_text(st_path, json.dumps(st, indent=1) + "\n")
            except OSError as e:
                raise ConfigError(f"state file {st_path}: cannot write ({e.__class__.__name__}: {e.strerror or e})") \
                    from None

    def run(a: Arch, w: Workload, regs=None):
        nonlocal sims
        sims += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfigWarning)
            return simulate(a, w, registers=regs, timing=False, progress=False)

    def measure(res) -> dict[str, Any]:
        s = res.summary()
        return {"ops_per_conversion": s["adc"]["ops_per_conversion"], "adc_energy_j": s["adc"]["energy_j"]}

    bar = _Progress(progress, 2 + (r - min_n + 1))
    try:
        # 1. capture
        if st.get("hists") is None:
            bar.start("capture")
            res = run(_with_adc(arch, mode="ideal"), cal_wl)
            hists = {k: np.asarray(s.sample_hist, np.int64) for k, s in res.layers.items()}
            st["hists"] = {k: h.tolist() for k, h in hists.items()}
            st["hist_digest"] = _hist_digest(hists)
            st["conversions"] = {k: int(s.conversions) for k, s in res.layers.items()}
            save()
            bar.done(f"captured {n_cal} {cal_src} samples, {len(hists)} layers, ideal {r}-bit ADC")
        hists = {k: np.asarray(v, np.int64) for k, v in st["hists"].items()}
        if _hist_digest(hists) != st.get("hist_digest"):
            raise ConfigError(f"state file {st_path}: histograms do not match their digest (file edited?)")
        for k, h in hists.items():
            if h.sum() == 0:
                raise WorkloadError(f"layer {k!r}: the capture recorded no bit-line samples")

        # 2. baseline
        if st.get("baseline") is None:
            bar.start("baseline")
            res = run(_with_adc(arch, mode="uniform", bits=r, delta=1.0), eval_wl)
            pred = res.predictions
            b = {"accuracy": res.accuracy if labels else 1.0, **measure(res)}
            if not labels:
                b["predictions"] = [int(v) for v in pred]
            st["baseline"] = b
            save()
            bar.done(f"baseline (uniform {r}-bit, lossless) on {n_eval} eval samples: {metric} {b['accuracy']:.2%}, "
                     f"{b['ops_per_conversion']:.3f} ops/conversion")
        base = st["baseline"]
        ref_pred = np.asarray(base["predictions"]) if not labels else None

        def score(res) -> float:
            if labels:
                return float(res.accuracy)
            return float(np.mean(res.predictions == ref_pred))

        def evaluate(choice: dict[str, dict[str, Any]]) -> dict[str, Any]:
            regs = {k: c["registers"] for k, c in choice.items()}
            res = run(arch, eval_wl, regs)
            acc = score(res)
            return {"accuracy": acc, "drop": base["accuracy"] - acc, **measure(res)}

        def ok(entry: dict[str, Any]) -> bool:
            return entry["drop"] <= max_drop + 1e-12

        # 3. steps
        steps = st.setdefault("steps", {})
        kept_n: int | None = None
        for n in range(r, min_n - 1, -1):
            entry = steps.get(str(n))
            if entry is None:
                bar.start(f"n_r2={n}")
                choice = {k: _choose(h, r, n, ideal_m) for k, h in hists.items()}
                entry = {"n_r2": n, "layers": choice, **evaluate(choice)}
                steps[str(n)] = entry
                save()
                bar.done(_step_line(f"n_r2={n}", entry, metric, ok(entry)))
            if not ok(entry):
                break
            kept_n = n
        if kept_n is None:
            notes.append(f"even n_r2={r} drops the {metric} by more than max_drop: keeping the lossless "
                         f"uniform {r}-bit ADC on every layer")
            choice = {k: {"mode": "uniform", "registers": {"mode": "uniform", "resolution": r, "bits": r,
                                                           "delta": 1.0},
                          "n_r2": r, "expected_ops": float(r), "mse": 0.0, "case": "-"} for k in hists}
            final = dict(base)
        else:
            choice = dict(steps[str(kept_n)]["layers"])
            final = {k: steps[str(kept_n)][k] for k in ("accuracy", "drop", "ops_per_conversion", "adc_energy_j")}

        # 4. refinement
        trials: list[dict[str, Any]] = []
        if refine and kept_n is not None:
            order = sorted(hists, key=lambda k: -st.get("conversions", {}).get(k, 0))
            todo = [k for k in order if choice[k]["n_r2"] > 1]
            bar.total(2 + (r - min_n + 1) + len(todo))
            done = st.setdefault("refine", [])
            i = 0
            passes = 0
            while todo and (refine_passes is None or passes < refine_passes):
                passes += 1
                changed = False
                for k in todo:
                    if choice[k]["n_r2"] <= 1:
                        continue
                    n = choice[k]["n_r2"] - 1
                    trial_choice = {**choice, k: _choose(hists[k], r, n, ideal_m)}
                    tkey = _sha({name: c["registers"] for name, c in trial_choice.items()})
                    entry = done[i] if i < len(done) and done[i].get("key") == tkey else None
                    if entry is None:
                        del done[i:]
                        bar.start(f"refine pass {passes} {k} n_r2={n}")
                        entry = {"key": tkey, "layer": k, "n_r2": n, "pass": passes,
                                 "layer_choice": trial_choice[k], **evaluate(trial_choice)}
                        done.append(entry)
                        save()
                        bar.done(_step_line(f"refine pass {passes} {k} to n_r2={n}", entry, metric, ok(entry)))
                    i += 1
                    trials.append({kk: vv for kk, vv in entry.items() if kk != "key"})
                    if ok(entry) and entry["ops_per_conversion"] <= final["ops_per_conversion"]:
                        choice = trial_choice
                        final = {kk: entry[kk] for kk in ("accuracy", "drop", "ops_per_conversion", "adc_energy_j")}
                        changed = True
                if not changed:
                    break
                bar.total(2 + (r - min_n + 1) + i + len(todo))
        elif not refine:
            notes.append("per-layer refinement skipped (refine=False)")
    finally:
        bar.close()

    layers = [{"name": k, "mode": c["mode"], "registers": c["registers"], "n_r2": c["n_r2"],
               "expected_ops": c["expected_ops"], "mse": c["mse"], "case": c["case"]} for k, c in choice.items()]
    return CalibrationResult(
        arch=arch.name, workload=wl.name, registers={k: c["registers"] for k, c in choice.items()}, layers=layers,
        n_r2=kept_n, metric=metric, max_drop=max_drop, baseline_accuracy=float(base["accuracy"]),
        accuracy=float(final["accuracy"]), ops_before=float(base["ops_per_conversion"]),
        ops_after=float(final["ops_per_conversion"]), energy_before=base.get("adc_energy_j"),
        energy_after=final.get("adc_energy_j"), calib_samples=n_cal, calib_source=cal_src, eval_samples=n_eval,
        steps=[{k: v for k, v in steps[str(n)].items() if k != "layers"} for n in range(r, min_n - 1, -1)
               if str(n) in steps],
        refinements=trials, notes=notes, simulations=sims, wall_s=time.perf_counter() - t_start,
    )


def _step_line(what: str, e: Mapping[str, Any], metric: str, ok: bool) -> str:
    return (f"{what}: {metric} {e['accuracy']:.2%} (drop {e['drop'] * 100:+.2f} pp), "
            f"{e['ops_per_conversion']:.3f} ops/conversion -> {'within budget' if ok else 'over budget'}")


def _load_state(path: Path | None, key: dict[str, Any]) -> dict[str, Any]:
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
            ok = _hist_digest({k: np.asarray(v, np.int64) for k, v in hists.items()}) == data.get("hist_digest")
        except (AttributeError, TypeError, ValueError):
            ok = False
        if not ok:
            warnings.warn(f"state file {path}: histogram digest does not match; starting afresh", ConfigWarning,
                          stacklevel=3)
            return fresh
    return data


# ---------------------------------------------------------------- output
def write_registers(path: str | os.PathLike, result: CalibrationResult) -> Path:
    """Write the register file (JSON for a .json suffix, else YAML) atomically."""
    import yaml

    p = Path(path)
    doc = result.document()
    text = json.dumps(doc, indent=2) + "\n" if p.suffix.lower() == ".json" else yaml.safe_dump(doc, sort_keys=False)
    try:
        atomic_write_text(p, text)
    except OSError as e:
        raise ConfigError(f"--out {p}: cannot write ({e.__class__.__name__}: {e.strerror or e})") from None
    return p
