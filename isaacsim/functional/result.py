"""What `isaacsim.simulate` returns: per-layer ADC statistics, predictions and the run's record.

`Result.summary()` is the `isaacsim run --json` document (DESIGN 9 keys; docs/running.md lists
them and which stay null until the timing and energy models fill them). `Result.to_frame()` is a
tidy per-layer table. Histograms (`LayerStats.sample_hist`, `ops_hist`) stay on the object for
the timing and calibration models; they are not in the JSON summary, and neither are the
A/D-operation traces that `simulate(..., traces=N)` keeps (`LayerStats.ad_ops_trace`) nor the
per-crossbar counts for the energy model (`LayerStats.xbar_ad_ops`, `xbar_r2`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from isaacsim.config.models import Arch
from isaacsim.mapping.placement import LayerPlacement, NetworkMapping


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class LayerStats:
    """Accumulated ADC / S+A statistics of one conv2d or linear layer over all its mvm calls."""

    name: str
    op: str
    k: int
    m: int
    groups: int
    crossbars: int
    copies: int
    pes: int
    tiles: int
    adc: dict[str, Any]
    xbars_per_group: int = 0
    """Crossbars of one group's matrix in one copy (`MatrixGeometry.crossbars`)."""
    conversions: int = 0
    ad_ops: int = 0
    r1_conversions: int = 0
    r2_conversions: int = 0
    overflows: int = 0
    mvm_calls: int = 0
    n_vectors: int = 0
    """Input vectors through one group's matrix, summed over groups (B * Ho * Wo * groups)."""
    sample_hist: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Raw bit-line samples by value (length max_sample + 1)."""
    ops_hist: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Conversions by A/D-operation count (length resolution + 3)."""
    ad_ops_trace: np.ndarray | None = None
    """A/D operations per window, cycle, crossbar and ADC lane of the run's first samples
    (`simulate(..., traces=N)`; None when off): int32 (samples, groups, vectors, input_cycles,
    crossbars_per_group, lanes); `isaacsim.mvm`'s ad_ops_trace per sample and group, vectors =
    Ho * Wo (1 for linear). docs/datapath.md, "ADC operation traces"."""
    xbar_ad_ops: np.ndarray = field(init=False, repr=False)
    """A/D operations (detection comparisons included) of every crossbar of the layer, summed
    over all simulated samples: int64 (copies, groups, xbars_per_group); flattened, entry i is
    crossbar `LayerPlacement.crossbar_index` i. Windows go to copies round-robin (window n of a
    sample to copy n % copies). Sums to ad_ops. docs/datapath.md, "Per-crossbar counts"."""
    xbar_r2: np.ndarray = field(init=False, repr=False)
    """TRQ range-2 conversions per crossbar, as xbar_ad_ops (zeros for other modes); sums to
    r2_conversions."""

    def __post_init__(self) -> None:
        shape = (self.copies, self.groups, self.xbars_per_group)
        self.xbar_ad_ops = np.zeros(shape, np.int64)
        self.xbar_r2 = np.zeros(shape, np.int64)

    @classmethod
    def of(cls, lp: LayerPlacement) -> LayerStats:
        ly = lp.layer
        return cls(ly.name, ly.kind, ly.k, ly.m, ly.groups, lp.crossbars, lp.copies, lp.n_pes,
                   len(lp.tiles), lp.adc.to_dict(), xbars_per_group=lp.geometry.crossbars)

    def empty_like(self) -> LayerStats:
        return LayerStats(self.name, self.op, self.k, self.m, self.groups, self.crossbars, self.copies,
                          self.pes, self.tiles, dict(self.adc), xbars_per_group=self.xbars_per_group)

    @staticmethod
    def _add_hist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.size < b.size:
            a = np.pad(a, (0, b.size - a.size))
        out = a.astype(np.int64, copy=True)
        out[: b.size] += b
        return out

    def add_call(self, stats: dict[str, Any], calls: int = 1, group: int = 0) -> None:
        """Add one `isaacsim.mvm` call's statistics (calls=0: the rest of a product split in two);
        group: the conv group whose matrix it ran, for the per-crossbar counts (whose copies are
        the call's vector_copy values)."""
        xb = {k: np.asarray(stats[k], np.int64) for k in ("crossbar_ad_ops", "crossbar_r2")}
        for k, a in xb.items():
            if a.ndim != 2 or a.shape[0] > self.copies or a.shape[1] != self.xbars_per_group:
                raise ValueError(f"layer {self.name!r}: {k} of shape {a.shape} does not fit "
                                 f"{self.copies} copies x {self.xbars_per_group} crossbars")
        self.xbar_ad_ops[: xb["crossbar_ad_ops"].shape[0], group] += xb["crossbar_ad_ops"]
        self.xbar_r2[: xb["crossbar_r2"].shape[0], group] += xb["crossbar_r2"]
        self.conversions += int(stats["conversions"])
        self.ad_ops += int(stats["ad_ops"])
        self.r1_conversions += int(stats["r1_conversions"])
        self.r2_conversions += int(stats["r2_conversions"])
        self.overflows += int(stats["overflows"])
        self.n_vectors += int(stats["n_vectors"])
        self.mvm_calls += calls
        self.sample_hist = self._add_hist(self.sample_hist, np.asarray(stats["sample_hist"], np.int64))
        self.ops_hist = self._add_hist(self.ops_hist, np.asarray(stats["ops_hist"], np.int64))

    def add_trace(self, group: int, samples: int, trace: np.ndarray) -> None:
        """Store one group's `mvm` ad_ops_trace (samples * vectors, cycles, crossbars, lanes) of
        this accumulator's samples; groups arrive in order 0 .. groups - 1."""
        tr = trace.reshape(samples, -1, *trace.shape[1:])
        if self.ad_ops_trace is None:
            self.ad_ops_trace = np.zeros((samples, self.groups, *tr.shape[1:]), np.int32)
        self.ad_ops_trace[:, group] = tr

    def merge(self, other: LayerStats) -> None:
        """Add another accumulator of the same layer (a completed batch) into this one."""
        for k in ("conversions", "ad_ops", "r1_conversions", "r2_conversions", "overflows",
                  "mvm_calls", "n_vectors"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.sample_hist = self._add_hist(self.sample_hist, other.sample_hist)
        self.ops_hist = self._add_hist(self.ops_hist, other.ops_hist)
        self.xbar_ad_ops = self.xbar_ad_ops + other.xbar_ad_ops
        self.xbar_r2 = self.xbar_r2 + other.xbar_r2
        if other.ad_ops_trace is not None:  # a later batch's samples follow this one's
            self.ad_ops_trace = (other.ad_ops_trace if self.ad_ops_trace is None
                                 else np.concatenate([self.ad_ops_trace, other.ad_ops_trace]))

    @property
    def ops_per_conversion(self) -> float | None:
        return _ratio(self.ad_ops, self.conversions)

    @property
    def r1_share(self) -> float | None:
        """Fraction of conversions in TRQ's range R1 (None for other modes or no conversions)."""
        return _ratio(self.r1_conversions, self.conversions) if self.adc["mode"] == "trq" else None

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name, "op": self.op, "k": self.k, "m": self.m, "groups": self.groups,
            "crossbars": self.crossbars, "copies": self.copies, "pes": self.pes, "tiles": self.tiles,
            "adc": dict(self.adc),
            "conversions": self.conversions, "ad_ops": self.ad_ops,
            "ops_per_conversion": self.ops_per_conversion,
            "r1_conversions": self.r1_conversions, "r2_conversions": self.r2_conversions,
            "r1_share": self.r1_share, "overflows": self.overflows,
            "mvm_calls": self.mvm_calls, "n_vectors": self.n_vectors,
        }


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
    samples_available: int
    samples_requested: int | None
    samples_planned: int
    batch_size: int
    status: str = "ok"
    """'ok', 'failed' (an error in a batch) or 'interrupted' (KeyboardInterrupt)."""
    error: str | None = None
    exception: BaseException | None = None
    """The exception that stopped the run (not in the summary)."""
    batches: int = 0
    """Completed batches."""
    outputs: np.ndarray | None = None
    """Simulated output codes (samples, ...) int64."""
    reference_outputs: np.ndarray | None = None
    """Reference (exact matmul, i.e. ideal ADC) output codes."""
    labels: np.ndarray | None = None
    wall_s: float = 0.0
    """Seconds in the simulated executor (datapath)."""
    reference_wall_s: float = 0.0
    """Seconds in the reference executor."""
    energy: Any = None
    """`isaacsim.energy.price.EnergyReport` of one inference (the events priced with the arch's
    table over the timing model's latency), None when no sample ran or counting failed."""
    events: Any = None
    """The events table (pandas DataFrame, `isaacsim.energy.events`) the energy was priced from."""
    energy_error: str | None = None
    """Why `energy` is missing, when counting or pricing failed."""
    timing: dict[str, Any] | None = None
    """`NetworkTiming.as_dict()` of sample 0 (`simulate(timing=True)`), {"error": ...} if the
    timing model failed, None when timing is off; a timing-only run's adds "approximate": true
    and "ops_source" (`isaacsim.timing.profile`)."""

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
        t["ops_per_conversion"] = _ratio(t["ad_ops"], t["conversions"])
        return t

    def traces(self) -> dict[str, np.ndarray]:
        """{layer: LayerStats.ad_ops_trace} for the layers that kept one (`simulate(traces=N)`)."""
        return {n: s.ad_ops_trace for n, s in self.layers.items() if s.ad_ops_trace is not None}

    def registers(self) -> dict[str, dict[str, Any]]:
        """{layer: register dict} as used, in the register-file format's `layers` shape."""
        return {name: dict(s.adc) for name, s in self.layers.items()}

    # ---- outputs
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
            "latency_cycles": (self.timing or {}).get("latency_cycles"),
            "latency_s": (self.timing or {}).get("latency_s"),
            "power_w": None if e is None else e.power_w,
            "timing": self.timing,
            "energy": ({"error": self.energy_error} if self.energy_error else None) if e is None else e.as_dict(),
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
        }

    def price(self, table=None):
        """This run's events priced with another component table (a shipped name, a path or a
        ComponentTable), over the same inference time: an `EnergyReport`, no re-simulation."""
        from isaacsim.energy.price import energy_report

        if self.events is None:
            raise ValueError(f"no events to price: {self.energy_error or 'no sample ran'}")
        e = self.energy
        return energy_report(self.events, self.arch, table, e.time_s, e.time_basis, e.samples)

    def to_frame(self):
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
