"""The end-to-end TRQ calibration loop (Algorithm 1 lines 15-21 of "Twin Range Quantization"): `calibrate`.

`calibrate` checks its options, cuts the capture and evaluation sets from the workload, loads the
state file and runs a `Calibration` through its phases:

1. `capture`: run the workload's first `calib` calibration samples (the eval set, with a note,
   when there is no calib set) with a lossless ADC (`mode: ideal` at the arch's resolution R)
   and keep each matrix layer's histogram of bit-line samples (`LayerStats.sample_hist`).
2. `baseline`: run the first `eval_samples` eval samples with the arch's uniform ADC at R bits
   (step 1, lossless, so it decodes exactly as the ideal ADC and costs R operations). Its
   accuracy against the labels is the baseline; without labels the metric is the top-1
   agreement with this run's predictions (so the baseline is 1.0).
3. `step_down`: for n_r2 = R (or the cap `max_n_r2` when lower), R-1, ..., `min_n_r2`: per layer
   `search_layer(hist, R, n_r2)` and keep TRQ or the uniform n_r2-bit alternative, whichever has
   fewer expected A/D operations per conversion (tie: lower MSE; `_choose`); simulate the eval
   samples with those registers.
   Lowering stops at the first step whose drop (baseline - metric) exceeds `max_drop`; `keep`
   takes the lowest n_r2 within budget. If even the first step is over budget, every layer keeps
   the lossless uniform R-bit ADC (a note says so).
4. `refine` (`refine=True`): greedy passes over the layers, most conversions first: each
   layer alone tries its n_r2 - 1 (never below 1; it may go below `min_n_r2`) and keeps it
   when the whole network stays within budget and the measured ops per conversion do not rise.
   One simulation per layer and pass; passes repeat until one keeps nothing (or
   `refine_passes` passes, 1 = the single pass of earlier versions).
5. `result`: the kept per-layer registers and the figures, as a `CalibrationResult`.

Every simulation after the capture runs the same eval samples; the reported accuracy and A/D
operations per conversion are measured end to end (`Result.summary()["adc"]`), not estimated.

Noise: every simulation, the capture and the baseline included, runs on the chip that the arch's
`device.*`, `adc.offset_lsb` and `adc.noise_lsb` describe, with the draws of `seed` (the same
programmed map in every run; docs/nonideal.md). The histograms are then of the noisy samples,
the baseline is the noisy chip's lossless accuracy, and the result's `noise` (the register
file's `meta.noise`) records the settings and the seed.

Resumability: a JSON state file (default `<out>.state.json`) holds a key (digests of the arch,
the workload's arrays and data, and calib / eval_samples / min_n_r2), the histograms and their
digest, the baseline and every finished step and refinement trial; it is rewritten atomically
after each. A re-run with the same key skips what is done (max_drop may change: steps are
re-judged against it). A state file whose key or histogram digest does not match is ignored
with a `ConfigWarning` naming what differs, and overwritten (`calibrate/state.py`). The options
and the two data sets are checked and cut in `calibrate/inputs.py`.
"""

from __future__ import annotations

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
from isaacsim.calibrate.inputs import DataSets, Options, data_sets
from isaacsim.calibrate.search import search_layer, trq_metrics
from isaacsim.calibrate.state import hist_digest, load_state, sha, state_key
from isaacsim.config import Arch, load_arch
from isaacsim.errors import ConfigError, ConfigWarning, WorkloadError
from isaacsim.files import atomic_write_text
from isaacsim.functional.nonideal import Noise, check_seed
from isaacsim.kernels.cache import announce_compile
from isaacsim.pipeline import simulate
from isaacsim.progress import TerminalProgress
from isaacsim.workload import Workload, load_workload

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
    noise: dict[str, Any] = field(default_factory=dict)
    """The chip it was calibrated on: `ideal`, every non-ideality setting and the seed (as a
    run's summary records them)."""

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
            "noise": dict(self.noise),
        }

    def document(self) -> dict[str, Any]:
        """The register-file tree (format_version 1, meta, layers)."""
        return registers_document(self.registers, self.meta())


# ---------------------------------------------------------------- helpers
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


def _measure(res) -> dict[str, Any]:
    s = res.summary()
    return {"ops_per_conversion": s["adc"]["ops_per_conversion"], "adc_energy_j": s["adc"]["energy_j"]}


def _totals(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An evaluation's end-to-end figures (a step's or a refinement trial's)."""
    return {k: entry[k] for k in ("accuracy", "drop", "ops_per_conversion", "adc_energy_j")}


def _lossless(layers: Mapping[str, Any], r: int) -> dict[str, dict[str, Any]]:
    """Every layer on the lossless uniform R-bit ADC (kept when even n_r2 = R is over budget)."""
    return {k: {"mode": "uniform", "registers": {"mode": "uniform", "resolution": r, "bits": r, "delta": 1.0},
                "n_r2": r, "expected_ops": float(r), "mse": 0.0, "case": "-"} for k in layers}


# ---------------------------------------------------------------- the phases
class Calibration:
    """One calibration, phase by phase (module docstring): `capture`, `baseline`, `step_down`,
    `keep`, `refine`, `result`; `run_phases` runs them in order.

    It holds the resumable state (`state`, rewritten after every finished simulation), the kept
    per-layer choice with its end-to-end figures, and the count of simulations it ran."""

    def __init__(self, arch: Arch, data: DataSets, opts: Options, *, min_n: int, state: dict[str, Any],
                 state_path: Path | None, progress: bool | None, notes: list[str], seed: int = 0):
        self.arch, self.data, self.opts, self.seed = arch, data, opts, seed
        self.r = int(arch.adc.resolution)
        self.top = self.r if opts.max_n_r2 is None else min(self.r, int(opts.max_n_r2))
        """The first (widest) n_r2 the step loop tries: R, or the cap max_n_r2 when lower."""
        self.min_n = min(min_n, self.top)
        self.state, self.state_path = state, state_path
        self.notes = notes
        self.simulations = 0
        self.hists: dict[str, np.ndarray] = {}
        self.base: dict[str, Any] = {}
        self.ref_pred: np.ndarray | None = None
        self.kept_n: int | None = None
        self.choice: dict[str, dict[str, Any]] = {}
        self.final: dict[str, Any] = {}
        self.trials: list[dict[str, Any]] = []
        self._trial_no = 0
        self.bar = _Progress(progress, self.planned)

    @property
    def planned(self) -> int:
        """Simulations of the capture, the baseline and every step."""
        return 2 + (self.top - self.min_n + 1)

    def run_phases(self) -> None:
        self.hists = self.capture()
        self.base = self.baseline()
        self.kept_n = self.step_down()
        self.choice, self.final = self.keep()
        if self.opts.refine and self.kept_n is not None:
            self.refine()
        elif not self.opts.refine:
            self.notes.append("per-layer refinement skipped (refine=False)")

    # ---- plumbing
    def save(self) -> None:
        """Rewrite the state file (if any) atomically."""
        if self.state_path is None:
            return
        try:
            atomic_write_text(self.state_path, json.dumps(self.state, indent=1) + "\n")
        except OSError as e:
            raise ConfigError(f"state file {self.state_path}: cannot write ({e.__class__.__name__}: "
                              f"{e.strerror or e})") from None

    def _simulate(self, a: Arch, w: Workload, regs=None):
        self.simulations += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfigWarning)
            return simulate(a, w, registers=regs, timing=False, progress=False, seed=self.seed)

    def _score(self, res) -> float:
        if self.data.labels:
            return float(res.accuracy)
        return float(np.mean(res.predictions == self.ref_pred))

    def evaluate(self, choice: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """Simulate the eval samples with these per-layer choices: metric, drop, ops/conversion, ADC energy."""
        res = self._simulate(self.arch, self.data.evaluation, {k: c["registers"] for k, c in choice.items()})
        acc = self._score(res)
        return {"accuracy": acc, "drop": self.base["accuracy"] - acc, **_measure(res)}

    def within_budget(self, entry: Mapping[str, Any]) -> bool:
        return entry["drop"] <= self.opts.max_drop + 1e-12

    def _report(self, what: str, entry: Mapping[str, Any]) -> None:
        self.bar.done(_step_line(what, entry, self.data.metric, self.within_budget(entry)))

    # ---- 1. capture
    def capture(self) -> dict[str, np.ndarray]:
        """Per layer, the histogram of bit-line samples under the lossless ideal ADC (from the state when there)."""
        if self.state.get("hists") is None:
            self._record_histograms()
        hists = {k: np.asarray(v, np.int64) for k, v in self.state["hists"].items()}
        if hist_digest(hists) != self.state.get("hist_digest"):
            raise ConfigError(f"state file {self.state_path}: histograms do not match their digest (file edited?)")
        for k, h in hists.items():
            if h.sum() == 0:
                raise WorkloadError(f"layer {k!r}: the capture recorded no bit-line samples")
        return hists

    def _record_histograms(self) -> None:
        self.bar.start("capture")
        res = self._simulate(_with_adc(self.arch, mode="ideal"), self.data.capture)
        hists = {k: np.asarray(s.sample_hist, np.int64) for k, s in res.layers.items()}
        self.state["hists"] = {k: h.tolist() for k, h in hists.items()}
        self.state["hist_digest"] = hist_digest(hists)
        self.state["conversions"] = {k: int(s.conversions) for k, s in res.layers.items()}
        self.save()
        self.bar.done(f"captured {self.data.calib_samples} {self.data.calib_source} samples, {len(hists)} layers, "
                      f"ideal {self.r}-bit ADC")

    # ---- 2. baseline
    def baseline(self) -> dict[str, Any]:
        """The lossless uniform R-bit run of the eval samples: metric (1.0 without labels), ops, ADC energy."""
        if self.state.get("baseline") is None:
            self._run_baseline()
        base = self.state["baseline"]
        self.ref_pred = np.asarray(base["predictions"]) if not self.data.labels else None
        return base

    def _run_baseline(self) -> None:
        r, labels = self.r, self.data.labels
        self.bar.start("baseline")
        res = self._simulate(_with_adc(self.arch, mode="uniform", bits=r, delta=1.0), self.data.evaluation)
        b = {"accuracy": res.accuracy if labels else 1.0, **_measure(res)}
        if not labels:
            b["predictions"] = [int(v) for v in res.predictions]
        self.state["baseline"] = b
        self.save()
        self.bar.done(f"baseline (uniform {r}-bit, lossless) on {self.data.eval_samples} eval samples: "
                      f"{self.data.metric} {b['accuracy']:.2%}, {b['ops_per_conversion']:.3f} ops/conversion")

    # ---- 3. step n_r2 down
    def step_down(self) -> int | None:
        """Lower the global n_r2 from R (or the cap) while the drop stays within budget; the lowest such n_r2
        (None: not even the first step)."""
        steps = self.state.setdefault("steps", {})
        kept_n: int | None = None
        for n in range(self.top, self.min_n - 1, -1):
            entry = steps.get(str(n))
            if entry is None:
                entry = self._step(n)
            if not self.within_budget(entry):
                break
            kept_n = n
        return kept_n

    def _step(self, n: int) -> dict[str, Any]:
        """Every layer's choice at n_r2 = n, evaluated end to end (and saved)."""
        self.bar.start(f"n_r2={n}")
        choice = {k: _choose(h, self.r, n, self.opts.ideal_m) for k, h in self.hists.items()}
        entry = {"n_r2": n, "layers": choice, **self.evaluate(choice)}
        self.state["steps"][str(n)] = entry
        self.save()
        self._report(f"n_r2={n}", entry)
        return entry

    def keep(self) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """(per-layer choice, end-to-end figures) of the kept step, or of the lossless uniform ADC."""
        if self.kept_n is None:
            self.notes.append(f"even n_r2={self.top} drops the {self.data.metric} by more than max_drop: keeping the "
                              f"lossless uniform {self.r}-bit ADC on every layer")
            return _lossless(self.hists, self.r), dict(self.base)
        step = self.state["steps"][str(self.kept_n)]
        return dict(step["layers"]), _totals(step)

    # ---- 4. refine per layer
    def refine(self) -> None:
        """Greedy passes, most conversions first: each layer alone tries one bit less and keeps it
        when the network stays within budget and the ops per conversion do not rise."""
        conversions = self.state.get("conversions", {})
        order = sorted(self.hists, key=lambda k: -conversions.get(k, 0))
        todo = [k for k in order if self.choice[k]["n_r2"] > 1]
        self.bar.total(self.planned + len(todo))
        self.state.setdefault("refine", [])
        passes = 0
        while todo and (self.opts.refine_passes is None or passes < self.opts.refine_passes):
            passes += 1
            if not self._refine_pass(todo, passes):
                break
            self.bar.total(self.planned + self._trial_no + len(todo))

    def _refine_pass(self, todo: list[str], pass_no: int) -> bool:
        """One pass over todo; whether it kept any change."""
        changed = False
        for k in todo:
            if self.choice[k]["n_r2"] > 1 and self._lower(k, pass_no):
                changed = True
        return changed

    def _lower(self, k: str, pass_no: int) -> bool:
        """Try layer k one bit lower; keep it (True) when within budget and no costlier."""
        n = self.choice[k]["n_r2"] - 1
        trial_choice = {**self.choice, k: _choose(self.hists[k], self.r, n, self.opts.ideal_m)}
        entry = self._trial(k, n, pass_no, trial_choice)
        self.trials.append({kk: vv for kk, vv in entry.items() if kk != "key"})
        if self.within_budget(entry) and entry["ops_per_conversion"] <= self.final["ops_per_conversion"]:
            self.choice, self.final = trial_choice, _totals(entry)
            return True
        return False

    def _trial(self, k: str, n: int, pass_no: int, trial_choice: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The next refinement trial: from the state when it recorded this very trial there, else
        simulated (dropping the state's later trials, which followed another path)."""
        done = self.state["refine"]
        i = self._trial_no
        self._trial_no += 1
        tkey = sha({name: c["registers"] for name, c in trial_choice.items()})
        if i < len(done) and done[i].get("key") == tkey:
            return done[i]
        del done[i:]
        self.bar.start(f"refine pass {pass_no} {k} n_r2={n}")
        entry = {"key": tkey, "layer": k, "n_r2": n, "pass": pass_no, "layer_choice": trial_choice[k],
                 **self.evaluate(trial_choice)}
        done.append(entry)
        self.save()
        self._report(f"refine pass {pass_no} {k} to n_r2={n}", entry)
        return entry

    # ---- 5. result
    def result(self, wl: Workload, wall_s: float) -> CalibrationResult:
        base, final, steps = self.base, self.final, self.state["steps"]
        layers = [{"name": k, "mode": c["mode"], "registers": c["registers"], "n_r2": c["n_r2"],
                   "expected_ops": c["expected_ops"], "mse": c["mse"], "case": c["case"]}
                  for k, c in self.choice.items()]
        return CalibrationResult(
            arch=self.arch.name, workload=wl.name, registers={k: c["registers"] for k, c in self.choice.items()},
            layers=layers, n_r2=self.kept_n, metric=self.data.metric, max_drop=self.opts.max_drop,
            baseline_accuracy=float(base["accuracy"]), accuracy=float(final["accuracy"]),
            ops_before=float(base["ops_per_conversion"]), ops_after=float(final["ops_per_conversion"]),
            energy_before=base.get("adc_energy_j"), energy_after=final.get("adc_energy_j"),
            calib_samples=self.data.calib_samples, calib_source=self.data.calib_source,
            eval_samples=self.data.eval_samples,
            steps=[{k: v for k, v in steps[str(n)].items() if k != "layers"}
                   for n in range(self.top, self.min_n - 1, -1) if str(n) in steps],
            refinements=self.trials, notes=self.notes, simulations=self.simulations, wall_s=wall_s,
            noise=noise_record(self.arch, self.seed),
        )


# ---------------------------------------------------------------- main
def calibrate(arch: Arch | str | os.PathLike | Mapping[str, Any], workload: Workload | str | os.PathLike, *,
              max_drop: float = 0.005, calib: int = 32, eval_samples: int | None = None,
              state: str | os.PathLike | None = None, progress: bool | None = True, refine: bool = True,
              min_n_r2: int = MIN_N_R2, refine_passes: int | None = None,
              ideal_m: bool = True, max_n_r2: int | None = None, seed: int = 0) -> CalibrationResult:
    """Calibrate per-layer ADC registers (module docstring); returns a `CalibrationResult`.

    arch: Arch, preset name, YAML path or dict (its adc.resolution is R; its adc mode does not
    matter). workload: Workload or directory. max_drop: allowed drop of the metric, a fraction
    in [0, 1) (0.005 = 0.5 percentage points). calib: calibration samples captured.
    eval_samples: eval samples of every end-to-end evaluation (None: the whole eval set).
    state: JSON state file for resuming (None: no state). progress: True = bar on a terminal,
    else lines on stderr; False = lines on stderr; None = silent. refine: the per-layer greedy
    pass. refine_passes: refinement passes at most (None: repeat until a pass keeps no change;
    1: the single pass of earlier versions). ideal_m: in the ideal case also search R2's scale
    m in 0..R - n_r2 (`_ideal_wide`) instead of Eq. 11's m = R - n_r2. max_n_r2: a cap on R2's bits
    (the TRQ paper's "upper bound of N2", 4 in its Fig. 7): the step loop starts at min(R, max_n_r2)
    and refinement only lowers, so no layer's n_r2 exceeds it (None: no cap). Bad inputs raise
    ConfigError / WorkloadError before any simulation. seed: the seed of the non-ideal
    datapath's draws, as `simulate`'s: every simulation (capture included) runs on the chip the
    arch's `device.*`, `adc.offset_lsb` and `adc.noise_lsb` describe, drawn from this seed
    (docs/nonideal.md); the register file's meta records both (`noise`).
    """
    t_start = time.perf_counter()
    try:
        seed = check_seed(seed)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    opts = Options(max_drop, calib, eval_samples, min_n_r2, refine, refine_passes, ideal_m, max_n_r2)
    arch = arch if isinstance(arch, Arch) else load_arch(arch)
    wl = workload if isinstance(workload, Workload) else load_workload(workload)
    notes: list[str] = []
    data = data_sets(wl, opts, notes)
    top = int(arch.adc.resolution) if max_n_r2 is None else min(int(max_n_r2), int(arch.adc.resolution))
    min_n = min(int(min_n_r2), top)
    st_path = Path(state) if state is not None else None
    noisy = not Noise.of(arch, seed).ideal
    st = load_state(st_path, state_key(arch, wl, data, min_n, ideal_m, None if max_n_r2 is None else top,
                                       seed=seed if noisy else None))
    cal = Calibration(arch, data, opts, min_n=min_n, state=st, state_path=st_path, progress=progress, notes=notes,
                      seed=seed)
    if progress:  # every input is checked: say so if the kernels are about to compile
        announce_compile(timing=False)
    try:
        cal.run_phases()
    finally:
        cal.bar.close()
    return cal.result(wl, time.perf_counter() - t_start)


def noise_record(arch: Arch, seed: int) -> dict[str, Any]:
    """`ideal`, the non-ideality settings and the seed of a chip (a run summary's `noise` entry)."""
    nz = Noise.of(arch, seed)
    return {"ideal": nz.ideal, **nz.settings()}


def _step_line(what: str, e: Mapping[str, Any], metric: str, ok: bool) -> str:
    return (f"{what}: {metric} {e['accuracy']:.2%} (drop {e['drop'] * 100:+.2f} pp), "
            f"{e['ops_per_conversion']:.3f} ops/conversion -> {'within budget' if ok else 'over budget'}")


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
