"""What `isaacsim.simulate` returns: a `Result` with typed stages, and the run's JSON summary.

A `Result` holds the datapath's per-layer statistics (`LayerStats`) and outputs, the timing
model's `NetworkTiming` (with a `TimingOnly` record of where a timing-only run's A/D operations
came from), the priced `EnergyReport` with its events table, and a `Failure` for each stage that
failed (the datapath, timing or energy), in the order they failed. `Result.summary()` is the
`isaacsim run --json` document (docs/running.md lists its keys); `Result.to_frame()` is a tidy
per-layer table; `Result.price(table)` prices the run's events with another component table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from isaacsim.config.models import Arch
from isaacsim.functional.stats import LayerStats, ratio
from isaacsim.mapping.placement import NetworkMapping

if TYPE_CHECKING:
    import pandas as pd

    from isaacsim.energy.price import EnergyReport
    from isaacsim.timing.network import NetworkTiming

Stage = Literal["datapath", "timing", "energy"]


@dataclass(frozen=True)
class Failure:
    """Why one stage of a run failed. A datapath failure ends the batches (the completed ones
    stand); a timing or energy failure leaves that stage's result None and the rest standing."""

    stage: Stage
    message: str
    """One line: for the datapath, where it stopped (batch and samples) and why."""
    exception: BaseException | None = None
    """The exception (or KeyboardInterrupt) behind it."""

    @property
    def interrupted(self) -> bool:
        return isinstance(self.exception, KeyboardInterrupt)


@dataclass(frozen=True)
class TimingOnly:
    """How a timing-only run (`simulate(timing_only=True)`) made its A/D operations: always an
    approximation (docs/timing.md, "Timing-only runs")."""

    ops_source: Literal["profile", "worst_case", "mixed"]
    """'profile' (every layer's mean ops per conversion from the profile), 'worst_case' (the ADC
    registers' worst case for every layer) or 'mixed' (the worst case for some)."""
    worst_case_layers: tuple[str, ...] = ()
    """The layers timed at their registers' worst case."""

    approximate = True

    def as_dict(self) -> dict[str, Any]:
        return {"approximate": self.approximate, "ops_source": self.ops_source,
                "worst_case_layers": list(self.worst_case_layers)}


@dataclass
class Result:
    """One simulated run. Arrays cover the completed batches only (all of them when status is ok)."""

    arch: Arch
    workload: str
    mapping: NetworkMapping
    layers: dict[str, LayerStats]
    """Per conv2d/linear layer, in graph order."""
    sample_source: str
    """Where the inputs came from: 'eval', 'calib' or 'random'; 'none' for a timing-only run."""
    samples_available: int | None
    samples_requested: int | None
    samples_planned: int
    batch_size: int
    batches: int = 0
    """Completed batches."""
    outputs: np.ndarray | None = None
    """Simulated output codes (samples, ...) int64."""
    reference_outputs: np.ndarray | None = None
    """Reference (exact matmul, i.e. ideal ADC) output codes."""
    labels: np.ndarray | None = None
    wall_s: float = 0.0
    """Seconds in the simulated executor (datapath); a timing-only run's whole run."""
    reference_wall_s: float = 0.0
    """Seconds in the reference executor."""
    timing: NetworkTiming | None = None
    """Sample 0's pipeline timing (`isaacsim.timing.network.simulate_network`); None when timing
    is off, no sample completed or the timing model failed (`failure("timing")` says why)."""
    timing_only: TimingOnly | None = None
    """Set on a timing-only run, whose `timing` comes from synthetic A/D-operation traces."""
    energy: EnergyReport | None = None
    """One inference's events priced with the arch's table over the timing model's latency; None
    when no sample ran or counting or pricing failed (`failure("energy")` says why)."""
    events: pd.DataFrame | None = None
    """The events table (`isaacsim.energy.events`) the energy was priced from."""
    failures: list[Failure] = field(default_factory=list)
    seed: int = 0
    """The seed of the non-ideal datapath's draws (`simulate(..., seed=N)`)."""
    """A `Failure` per stage that failed, in the order they failed."""

    # ---- stages
    def failure(self, stage: Stage) -> Failure | None:
        """The failure of `stage` ('datapath', 'timing' or 'energy'), None if it did not fail."""
        return next((f for f in self.failures if f.stage == stage), None)

    @property
    def status(self) -> str:
        """'ok', 'failed' (an error in a batch) or 'interrupted' (KeyboardInterrupt in a batch)."""
        f = self.failure("datapath")
        return "ok" if f is None else "interrupted" if f.interrupted else "failed"

    @property
    def error(self) -> str | None:
        """Where and why the batches stopped early (None when status is ok)."""
        f = self.failure("datapath")
        return None if f is None else f.message

    @property
    def exception(self) -> BaseException | None:
        """The exception that stopped the batches (not in the summary)."""
        f = self.failure("datapath")
        return None if f is None else f.exception

    # ---- derived
    @property
    def samples(self) -> int:
        """Samples completed."""
        return 0 if self.outputs is None else int(self.outputs.shape[0])

    @staticmethod
    def _top1(out: np.ndarray | None) -> np.ndarray | None:
        return None if out is None else out.reshape(out.shape[0], -1).argmax(axis=1)

    @property
    def predictions(self) -> np.ndarray | None:
        return self._top1(self.outputs)

    @property
    def reference_predictions(self) -> np.ndarray | None:
        return self._top1(self.reference_outputs)

    @property
    def agreement(self) -> float | None:
        """Fraction of samples whose simulated top-1 equals the reference (ideal-ADC) top-1."""
        if not self.samples:
            return None
        return float(np.mean(self.predictions == self.reference_predictions))

    def _acc(self, pred: np.ndarray | None) -> float | None:
        if self.labels is None or not self.samples:
            return None
        return float(np.mean(pred == self.labels[: self.samples]))

    @property
    def accuracy(self) -> float | None:
        """Simulated top-1 accuracy against the labels (None without labels)."""
        return self._acc(self.predictions)

    @property
    def reference_accuracy(self) -> float | None:
        """Reference (ideal-ADC) top-1 accuracy against the labels (None without labels)."""
        return self._acc(self.reference_predictions)

    def totals(self) -> dict[str, Any]:
        keys = ("conversions", "ad_ops", "r1_conversions", "r2_conversions", "overflows")
        t = {k: sum(getattr(s, k) for s in self.layers.values()) for k in keys}
        t["ops_per_conversion"] = ratio(t["ad_ops"], t["conversions"])
        return t

    def traces(self) -> dict[str, np.ndarray]:
        """{layer: LayerStats.ad_ops_trace} for the layers that kept one (`simulate(traces=N)`)."""
        return {n: s.ad_ops_trace for n, s in self.layers.items() if s.ad_ops_trace is not None}

    def registers(self) -> dict[str, dict[str, Any]]:
        """{layer: register dict} as used, in the register-file format's `layers` shape."""
        return {name: dict(s.adc) for name, s in self.layers.items()}

    # ---- outputs
    def timing_summary(self) -> dict[str, Any] | None:
        """The summary's `timing`: `NetworkTiming.as_dict()` (plus a timing-only run's
        `TimingOnly.as_dict()`), {"error": message} if the timing model failed, None when off."""
        f = self.failure("timing")
        if f is not None:
            return {"error": f.message}
        if self.timing is None:
            return None
        doc = self.timing.as_dict()
        if self.timing_only is not None:
            doc.update(self.timing_only.as_dict())
        return doc

    def energy_summary(self) -> dict[str, Any] | None:
        """The summary's `energy`: `EnergyReport.as_dict()`, {"error": message} if counting or
        pricing failed, None when no sample ran."""
        if self.energy is not None:
            return self.energy.as_dict()
        f = self.failure("energy")
        return None if f is None else {"error": f.message}

    def summary(self) -> dict[str, Any]:
        """The `run --json` document: plain JSON types only."""
        t = self.totals()
        e = self.energy
        mapping = {k: v for k, v in self.mapping.summary().items() if k != "layers"}
        return {
            "arch": self.arch.name,
            "workload": self.workload,
            "status": self.status,
            "error": self.error,
            "samples": self.samples,
            "samples_requested": self.samples_requested,
            "samples_available": self.samples_available,
            "sample_source": self.sample_source,
            "batch_size": self.batch_size,
            "batches": self.batches,
            "accuracy": self.accuracy,
            "reference_accuracy": self.reference_accuracy,
            "agreement": self.agreement,
            "energy_j": None if e is None else e.energy_j,
            "latency_cycles": None if self.timing is None else self.timing.latency_cycles,
            "latency_s": None if self.timing is None else self.timing.latency_s,
            "power_w": None if e is None else e.power_w,
            "timing": self.timing_summary(),
            "energy": self.energy_summary(),
            "adc": {
                "conversions": t["conversions"],
                "ad_ops": t["ad_ops"],
                "ops_per_conversion": t["ops_per_conversion"],
                "energy_j": None if e is None else e.adc_j,
                "energy_share": None if e is None else e.adc_share,
                "r1_conversions": t["r1_conversions"],
                "r2_conversions": t["r2_conversions"],
                "overflows": t["overflows"],
            },
            "breakdown": [] if e is None else e.breakdown_rows(),
            "mapping": mapping,
            "layers": [s.summary() for s in self.layers.values()],
            "wall_s": self.wall_s,
            "reference_wall_s": self.reference_wall_s,
            "noise": self.noise_summary(),
        }

    def noise_summary(self) -> dict[str, Any]:
        """The seed, every non-ideality setting, and whether all are ideal (the exact datapath)."""
        from isaacsim.functional.nonideal import Noise

        nz = Noise.of(self.arch, self.seed)
        return {"ideal": nz.ideal, **nz.settings()}

    def price(self, table=None) -> EnergyReport:
        """This run's events priced with another component table (a shipped name, a path or a
        ComponentTable), over the same inference time: an `EnergyReport`, no re-simulation."""
        from isaacsim.energy.price import energy_report

        if self.events is None:
            f = self.failure("energy")
            raise ValueError(f"no events to price: {'no sample ran' if f is None else f.message}")
        e = self.energy
        return energy_report(self.events, self.arch, table, e.time_s, e.time_basis, e.samples)

    def to_frame(self) -> pd.DataFrame:
        """Tidy pandas DataFrame, one row per conv2d/linear layer in graph order, no total row.

        Columns: the per-layer summary keys, with the registers flattened to `adc_<key>`
        (NaN where a layer's mode lacks that register), and, when the energy was priced, the
        layer's `energy_j` and `adc_energy_j` per inference (its PEs, its output path on the
        tiles and NFU, the eDRAM writes of its inputs; docs/energy.md).
        """
        import pandas as pd

        rows = []
        for s in self.layers.values():
            row = s.summary()
            adc = row.pop("adc")
            row.update({f"adc_{k}": v for k, v in adc.items()})
            rows.append(row)
        df = pd.DataFrame(rows)
        if self.energy is not None and len(df):
            f = self.energy.frame
            per = f.groupby("layer")["energy_j"].sum()
            adc = f[f["component"] == "adc"].groupby("layer")["energy_j"].sum()
            df["energy_j"] = df["name"].map(per).fillna(0.0).astype(float)
            df["adc_energy_j"] = df["name"].map(adc).fillna(0.0).astype(float)
        return df


__all__ = ["Failure", "Result", "Stage", "TimingOnly"]
