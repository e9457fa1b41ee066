"""The simulated executor (`isaacsim.simulate`): a workload graph with every conv/linear product
sent through the bit-exact crossbar datapath (`isaacsim.mvm`) under each layer's ADC registers.

Steps: load and check (input formats and weight bits against the datapath), place the network
(per-layer registers), pick the samples, then run them in batches: the simulated executor and
the reference executor (exact matmul = ideal ADC) on the same inputs. Statistics are committed
per completed batch, so a failure part-way leaves a Result of everything before it.
docs/running.md is the user's page.
"""

from __future__ import annotations

import numbers
import os
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from isaacsim.config import Arch, load_arch
from isaacsim.errors import (
    ConfigError,
    ConfigWarning,
    EnergyWarning,
    IsaacsimError,
    MappingError,
    TimingWarning,
    WorkloadError,
)
from isaacsim.functional.mvm import PackedWeights, mvm
from isaacsim.functional.result import LayerStats, Result
from isaacsim.mapping import slicing
from isaacsim.mapping.layers import layers_of
from isaacsim.mapping.placement import NetworkMapping, place_network
from isaacsim.progress import TerminalProgress
from isaacsim.workload import Workload, exact_matmul, execute, load_workload

DEFAULT_RANDOM_SAMPLES = 16
"""Inputs drawn when the workload has neither eval nor calib data."""
RANDOM_SEED = 0
"""Seed of those inputs (uniform over the input format's code range)."""
MEMORY_BUDGET = 256 * 2**20
"""Bytes a batch may use, as estimated by `auto_batch_size`."""


def check_formats(wl: Workload, arch: Arch) -> None:
    """Every conv2d/linear input tensor and weight must fit the datapath; MappingError otherwise.

    An unsigned b-bit tensor fits unsigned inputs of >= b bits or signed inputs of > b bits; a
    signed b-bit tensor fits signed inputs of >= b bits only. Weights need weight_bits <= Kw.
    """
    d = arch.datapath
    arch_fmt = f"{'signed' if d.input_signed else 'unsigned'} {d.input_bits}-bit"
    for n in wl.nodes:
        if n.op not in ("conv2d", "linear"):
            continue
        f = wl.formats[n.inputs[0]]
        if f.signed:
            fits = d.input_signed and d.input_bits >= f.bits
        else:
            fits = d.input_bits >= f.bits + (1 if d.input_signed else 0)
        if not fits:
            raise MappingError(
                f"layer {n.name!r}: its input {n.inputs[0]!r} is a {'signed' if f.signed else 'unsigned'} "
                f"{f.bits}-bit tensor, which does not fit the arch's {arch_fmt} inputs "
                f"(datapath.input_bits, datapath.input_signed)"
            )
        if n.weight_bits > d.weight_bits:
            raise MappingError(
                f"layer {n.name!r}: {n.weight_bits}-bit weights do not fit the arch's "
                f"datapath.weight_bits={d.weight_bits}"
            )


def select_samples(wl: Workload, samples: int | None):
    """(x, y or None, source, available or None): the eval set, else calib, else seeded random."""
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, numbers.Integral)
                                or samples < 1):
        raise ConfigError(f"samples must be a whole number >= 1, got {samples!r}")
    ds, source = (wl.eval, "eval") if wl.eval is not None else (wl.calib, "calib")
    if ds is None:
        n = DEFAULT_RANDOM_SAMPLES if samples is None else int(samples)
        inp = wl.manifest.input
        rng = np.random.default_rng(RANDOM_SEED)
        return rng.integers(inp.lo, inp.hi + 1, size=(n, *inp.shape), dtype=np.int64), None, "random", None
    available = int(ds.x.shape[0])
    if available == 0:
        raise WorkloadError(f"workload {wl.name!r}: its {source} set holds no samples")
    n = available if samples is None else min(int(samples), available)
    if samples is not None and samples > available:
        warnings.warn(f"workload {wl.name!r} has {available} {source} samples; running all {available} "
                      f"(asked for {samples})", ConfigWarning, stacklevel=3)
    return ds.x[:n], None if ds.y is None else ds.y[:n], source, available


def auto_batch_size(wl: Workload, arch: Arch, n: int, budget: int = MEMORY_BUDGET) -> int:
    """Samples per batch so that the estimated peak memory stays within `budget` bytes.

    Per sample: every node's activation twice (both executors keep all of them, int64), plus
    the largest layer's im2col rows (int64, about five copies live at once in im2col, the
    group slice and the operand checks), its packed bit-serial inputs and its outputs.
    """
    act = 8 * sum(int(np.prod(s)) for s in wl.shapes.values())
    peak = 0
    for ly in layers_of(wl):
        geo = ly.geometry(arch)
        rows = ly.groups * ly.n_vectors
        packed = rows * geo.input_cycles * geo.row_parts * geo.dac_bits * slicing.n_words(geo) * 8
        peak = max(peak, 5 * 8 * rows * ly.k + packed + 3 * 8 * rows * ly.m)
    per_sample = 2 * act + peak
    return int(max(1, min(n, budget // max(per_sample, 1))))


class _Bar(TerminalProgress):
    """A rich progress bar on stderr (samples done, current layer); inert when off or not a terminal."""

    def __init__(self, enabled: bool, total: int, label: str):
        super().__init__(enabled, extra=("samples",))
        self._label = label
        if self.p is not None:
            self._task = self.p.add_task(label, total=total)

    def layer(self, name: str) -> None:
        if self.p is not None:
            self.p.update(self._task, description=f"{self._label}: {name}")

    def advance(self, n: int) -> None:
        if self.p is not None:
            self.p.advance(self._task, n)


def reference_matmul(name: str, x2d: np.ndarray, w2d: np.ndarray) -> np.ndarray:
    """x2d @ w2d exactly, as `exact_matmul`, but through float64 BLAS when that is provably exact.

    If K * max|x| * max|w| < 2^53, every product and partial sum is an integer that float64
    represents exactly, whatever the summation order, so the result equals the int64 product
    bit for bit (numpy has no BLAS for int64, which is some 50x slower). Otherwise int64.
    """
    x = np.asarray(x2d)
    w = np.asarray(w2d)
    if x.size and w.size and int(np.abs(x).max()) * int(np.abs(w).max()) * x.shape[1] < 2**53:
        return (x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
    return exact_matmul(name, x, w)


def _matmul(arch: Arch, mapping: NetworkMapping, stats: dict[str, LayerStats], bar: _Bar,
            packed: dict[tuple[str, int], PackedWeights], batch: int = 1, traced: int = 0):
    """The simulated product for one batch. `packed` (shared across batches) holds each layer's
    and group's sliced weights: the reference executor calls a conv's groups in order, once per
    batch, with the same read-only weights, so (layer, group) identifies the matrix.

    The batch has `batch` samples, and the first `traced` of them keep their A/D-operation
    traces: the product is split into the traced rows (samples first, im2col rows sample-major)
    and the rest, counted as one mvm call.

    Windows are dealt to the layer's copies round-robin: row r of x2d is window r % n_windows
    of its sample (n_windows = rows per sample, 1 for linear) and runs on copy
    (r % n_windows) % copies, which the per-crossbar counts follow (`LayerStats.xbar_ad_ops`)."""
    regs = {lp.name: lp.adc for lp in mapping.layers}
    groups = {lp.name: lp.layer.groups for lp in mapping.layers}
    copies = {lp.name: lp.copies for lp in mapping.layers}
    calls: dict[str, int] = {}

    def mm(name: str, x2d: np.ndarray, w2d: np.ndarray) -> np.ndarray:
        bar.layer(name)
        key = (name, calls.get(name, 0) % groups[name])
        calls[name] = calls.get(name, 0) + 1
        n_windows = x2d.shape[0] // batch
        rows = n_windows * traced
        vec_copy = (np.arange(x2d.shape[0], dtype=np.int64) % max(n_windows, 1)) % copies[name]
        try:
            pw = packed.get(key)
            if pw is None or (pw.geometry.k, pw.geometry.m) != w2d.shape:
                pw = packed[key] = PackedWeights.of(w2d, arch)
            if rows:
                y, st = mvm(x2d[:rows], pw, arch, adc=regs[name], trace=True, vector_copy=vec_copy[:rows])
                stats[name].add_trace(key[1], traced, st.pop("ad_ops_trace"))
                stats[name].add_call(st, group=key[1])
                if rows < x2d.shape[0]:
                    y_rest, st = mvm(x2d[rows:], pw, arch, adc=regs[name], vector_copy=vec_copy[rows:])
                    stats[name].add_call(st, calls=0, group=key[1])
                    y = np.concatenate([y, y_rest])
            else:
                y, st = mvm(x2d, pw, arch, adc=regs[name], vector_copy=vec_copy)
                stats[name].add_call(st, group=key[1])
        except IsaacsimError:
            raise
        except ValueError as e:  # operands outside the datapath's formats (check_formats prevents it)
            raise MappingError(f"layer {name!r}: {e}") from None
        if y.dtype.kind == "f":  # a non-integral ADC step: round half up to the integer accumulator
            y = np.floor(y + 0.5).astype(np.int64)
        return y

    return mm


def simulate(arch: Arch | str | os.PathLike | Mapping[str, Any], workload: Workload | str | os.PathLike, *,
             samples: int | None = None, timing: bool = True,
             registers: Mapping[str, Any] | str | os.PathLike | None = None,
             batch_size: int | None = None, progress: bool = False, raise_on_error: bool = True,
             traces: int = 0, timing_granularity: str = "default", timeline=None,
             timing_only: bool = False, profile: Mapping[str, Any] | str | os.PathLike | None = None) -> Result:
    """Run `workload` on `arch` through the bit-exact datapath and return a `Result`.

    arch: an Arch, a YAML path or preset name, or a dict. workload: a Workload or a directory.
    samples: None runs the eval set (else calib, else DEFAULT_RANDOM_SAMPLES seeded random
    inputs); N runs the first N (all, with a ConfigWarning, when the set is smaller).
    registers: {layer: registers} or a register file path (`isaacsim.adc.regfile`); layers not
    named use `arch.adc`. batch_size: samples per batch (default: `auto_batch_size`).
    timing: run the cycle-level pipeline (`isaacsim.timing.simulate_network`, docs/timing.md) on
    the first sample's A/D-operation traces and fill `Result.timing` and the summary's
    `latency_cycles` / `latency_s`; False skips it (those keys stay None). A failure of the
    timing model keeps the functional results: `Result.timing` is then {"error": ...} and a
    TimingWarning says why. timing_granularity: "default" (a kernel per window) or "fine"
    (an event per crossbar read and ADC job; small networks only). timeline: an
    `isaacsim.timing.events.Timeline` that collects the pipeline's spans. progress: a progress bar on stderr (terminals only).
    traces: keep the A/D-operation traces of the run's first `traces` samples on
    `LayerStats.ad_ops_trace` (`Result.traces()`; not in the JSON summary): int32 (samples,
    groups, vectors, input_cycles, crossbars_per_group, lanes) per layer, 4 bytes x vectors x
    cycles x crossbars x lanes per sample and layer (ResNet-18 on trq: about 0.5 GB a sample).
    timing_only: run no sample; time one inference on synthetic traces whose conversions each
    cost the layer's mean A/D operations in `profile` (a dict or a file, `isaacsim.timing.profile`),
    else the registers' worst case. Approximate (docs/timing.md, "Timing-only runs"); accuracy
    and agreement are None and `Result.timing` has "approximate": true and "ops_source".

    Bad inputs raise before anything runs (ConfigError, WorkloadError, MappingError). An error
    or KeyboardInterrupt inside a batch ends the run with status 'failed' / 'interrupted' and
    the completed batches kept; it is re-raised unless raise_on_error=False, in which case the
    partial Result is returned with `.exception` set.
    """
    arch = arch if isinstance(arch, Arch) else load_arch(arch)
    wl = workload if isinstance(workload, Workload) else load_workload(workload)
    if isinstance(registers, (str, os.PathLike)):
        from isaacsim.adc.regfile import load_registers

        registers = load_registers(registers)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
                                   or batch_size < 1):
        raise ConfigError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    if isinstance(traces, bool) or not isinstance(traces, numbers.Integral) or traces < 0:
        raise ConfigError(f"traces must be a whole number >= 0, got {traces!r}")
    if timing_granularity not in ("default", "fine"):
        raise ConfigError(f"timing_granularity must be 'default' or 'fine', got {timing_granularity!r}")
    check_formats(wl, arch)
    mapping = place_network(layers_of(wl), arch, registers)
    if timing_only:
        from isaacsim.timing import profile as prof

        doc = prof.load_profile(profile) if isinstance(profile, (str, os.PathLike)) else \
            None if profile is None else prof.check_profile(profile)
        return prof.timing_only_result(arch, wl, mapping, doc, timing_granularity, timeline)
    if profile is not None:
        raise ConfigError("profile applies to timing-only runs (timing_only=True)")
    x, y, source, available = select_samples(wl, samples)
    n = int(x.shape[0])
    bs = int(batch_size) if batch_size is not None else auto_batch_size(wl, arch, n)
    layers = {lp.name: LayerStats.of(lp) for lp in mapping.layers}
    res = Result(arch=arch, workload=wl.name, mapping=mapping, layers=layers, sample_source=source,
                 samples_available=available, samples_requested=None if samples is None else int(samples),
                 samples_planned=n, batch_size=bs, labels=y)
    outs: list[np.ndarray] = []
    refs: list[np.ndarray] = []
    n_batches = -(-n // bs)
    packed: dict[tuple[str, int], PackedWeights] = {}
    with _Bar(progress, n, wl.name) as bar:
        try:
            for b, start in enumerate(range(0, n, bs)):
                xb = x[start:start + bs]
                try:
                    batch = {k: s.empty_like() for k, s in layers.items()}
                    t0 = time.perf_counter()
                    traced = max(0, min(max(int(traces), 1 if timing else 0) - start, len(xb)))
                    out = execute(wl, xb, matmul=_matmul(arch, mapping, batch, bar, packed, len(xb), traced))
                    t1 = time.perf_counter()
                    bar.layer("reference")
                    ref = execute(wl, xb, matmul=reference_matmul)
                    t2 = time.perf_counter()
                except (Exception, KeyboardInterrupt) as e:
                    where = f"batch {b + 1} of {n_batches} (samples {start}..{start + len(xb) - 1})"
                    if isinstance(e, KeyboardInterrupt):
                        res.status, res.error = "interrupted", f"interrupted in {where}"
                    else:
                        msg = str(e) if isinstance(e, IsaacsimError) else f"{type(e).__name__}: {e}"
                        res.status, res.error = "failed", f"{where}: {msg}"
                    res.exception = e
                    break
                for k, s in batch.items():
                    layers[k].merge(s)
                outs.append(out)
                refs.append(ref)
                res.wall_s += t1 - t0
                res.reference_wall_s += t2 - t1
                res.batches += 1
                bar.advance(len(xb))
        finally:
            if outs:
                res.outputs = np.concatenate(outs)
                res.reference_outputs = np.concatenate(refs)
    if timing and res.samples:
        _timing(res, wl, arch, timing_granularity, timeline, keep_traces=int(traces) > 0)
    if res.samples:
        _energy(res, wl)
    if res.exception is not None and raise_on_error:
        raise res.exception
    return res


def _timing(res: Result, wl: Workload, arch: Arch, granularity: str, timeline, keep_traces: bool) -> None:
    """Fill res.timing from sample 0's traces; an error is recorded, never raised."""
    from isaacsim.timing import build_stages
    from isaacsim.timing.network import simulate_network

    try:
        nt = simulate_network(wl, res.mapping, res.traces(), build_stages(arch), arch=arch,
                              granularity=granularity, timeline=timeline)
        res.timing = nt.as_dict()
    except Exception as e:  # the functional results stand; say why timing is missing
        res.timing = {"error": f"{type(e).__name__}: {e}"}
        warnings.warn(f"timing model failed: {type(e).__name__}: {e}", TimingWarning, stacklevel=3)
    finally:
        if not keep_traces:
            for s in res.layers.values():
                s.ad_ops_trace = None


def _energy(res: Result, wl: Workload, samples: int | None = None) -> None:
    """Count and price one inference's events (docs/energy.md); an error is recorded, never raised."""
    from isaacsim.energy.runs import run_energy

    try:
        res.events, res.energy = run_energy(res, wl, samples=samples)
    except IsaacsimError as e:  # e.g. a component table that cannot price a counted action
        res.energy_error = str(e)
        warnings.warn(f"energy not priced: {e}", EnergyWarning, stacklevel=3)
    except Exception as e:
        res.energy_error = f"{type(e).__name__}: {e}"
        warnings.warn(f"energy model failed: {type(e).__name__}: {e}", EnergyWarning, stacklevel=3)
