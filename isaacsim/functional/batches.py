"""The batch loop: a workload's samples through the simulated executor and the reference executor.

Each batch runs the workload graph twice on the same inputs: once with every conv/linear product
sent through the bit-exact crossbar datapath (`isaacsim.mvm`) under its layer's ADC registers,
once with the exact product (`reference_matmul`, an ideal ADC). A batch's statistics are
committed to the `BatchRun` only when the batch completes, so an error or an interrupt part-way
leaves the outputs and counts of every batch before it, and says where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from isaacsim.config import Arch
from isaacsim.errors import IsaacsimError, MappingError
from isaacsim.functional.mvm import PackedWeights, mvm
from isaacsim.functional.nonideal import MapCache, Noise
from isaacsim.functional.stats import LayerStats
from isaacsim.mapping.placement import NetworkMapping
from isaacsim.progress import TerminalProgress
from isaacsim.workload import Workload, exact_matmul, execute


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
            packed: dict[tuple[str, int], PackedWeights], batch: int = 1, traced: int = 0,
            noise: Noise | None = None, start: int = 0, maps: MapCache | None = None):
    """The simulated product for one batch. `packed` (shared across batches) holds each layer's
    and group's sliced weights: the reference executor calls a conv's groups in order, once per
    batch, with the same read-only weights, so (layer, group) identifies the matrix.

    The batch has `batch` samples, and the first `traced` of them keep their A/D-operation
    traces: the product is split into the traced rows (samples first, im2col rows sample-major)
    and the rest, counted as one mvm call.

    Windows are dealt to the layer's copies round-robin: row r of x2d is window r % n_windows
    of its sample (n_windows = rows per sample, 1 for linear) and runs on copy
    (r % n_windows) % copies, which the per-crossbar counts follow (`LayerStats.xbar_ad_ops`).

    noise: the run's non-ideal settings (None: exact); each copy of each (layer, group) matrix
    gets its own programmed map, and row r of the batch is the run's input vector
    start x n_windows + r. maps: the run's `MapCache`, given to the matrices packed here, so a
    copy's map is drawn once per run, not once per batch."""
    regs = {lp.name: lp.adc for lp in mapping.layers}
    bits = {lp.name: lp.geometry.bits for lp in mapping.layers}  # each layer at its own widths
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
        first = start * n_windows
        nz = None if noise is None or noise.ideal else noise.for_layer(name, key[1], first)
        try:
            pw = packed.get(key)
            if pw is None or (pw.geometry.k, pw.geometry.m) != w2d.shape:
                pw = packed[key] = PackedWeights.of(w2d, arch, maps=maps, **bits[name])
            if rows:
                y, st = mvm(x2d[:rows], pw, arch, adc=regs[name], trace=True, vector_copy=vec_copy[:rows],
                            trace_segments=stats[name].trace_segments, noise=nz)
                stats[name].add_trace(key[1], traced, st.pop("ad_ops_trace"))
                stats[name].add_call(st, group=key[1])
                if rows < x2d.shape[0]:
                    nz_rest = None if nz is None else noise.for_layer(name, key[1], first + rows)
                    y_rest, st = mvm(x2d[rows:], pw, arch, adc=regs[name], vector_copy=vec_copy[rows:],
                                     noise=nz_rest)
                    stats[name].add_call(st, calls=0, group=key[1])
                    y = np.concatenate([y, y_rest])
            else:
                y, st = mvm(x2d, pw, arch, adc=regs[name], vector_copy=vec_copy, noise=nz)
                stats[name].add_call(st, group=key[1])
        except IsaacsimError:
            raise
        except ValueError as e:  # operands outside the datapath's formats (check_formats prevents it)
            raise MappingError(f"layer {name!r}: {e}") from None
        if y.dtype.kind == "f":  # a non-integral ADC step: round half up to the integer accumulator
            y = np.floor(y + 0.5).astype(np.int64)
        return y

    return mm


@dataclass
class BatchRun:
    """What the batch loop has produced: per completed batch, its outputs, counts and seconds."""

    layers: dict[str, LayerStats]
    """Per conv2d/linear layer, in graph order; the loop merges each completed batch into them."""
    outputs: list[np.ndarray] = field(default_factory=list)
    """Simulated output codes of each completed batch."""
    reference_outputs: list[np.ndarray] = field(default_factory=list)
    """Reference (exact matmul, i.e. ideal ADC) output codes of each completed batch."""
    batches: int = 0
    wall_s: float = 0.0
    """Seconds in the simulated executor (datapath)."""
    reference_wall_s: float = 0.0
    """Seconds in the reference executor."""
    error: str | None = None
    """Where and why the loop stopped early (None when every batch completed)."""
    exception: BaseException | None = None
    """The exception (or KeyboardInterrupt) that stopped it."""

    def commit(self, stats: dict[str, LayerStats], out: np.ndarray, ref: np.ndarray, sim_s: float,
                ref_s: float) -> None:
        """Add one completed batch: its per-layer accumulators, outputs and seconds."""
        for k, s in stats.items():
            self.layers[k].merge(s)
        self.outputs.append(out)
        self.reference_outputs.append(ref)
        self.wall_s += sim_s
        self.reference_wall_s += ref_s
        self.batches += 1

    def stop(self, e: BaseException, where: str) -> None:
        """Record that `e` stopped the loop in `where` (a batch and its samples)."""
        if isinstance(e, KeyboardInterrupt):
            self.error = f"interrupted in {where}"
        else:
            msg = str(e) if isinstance(e, IsaacsimError) else f"{type(e).__name__}: {e}"
            self.error = f"{where}: {msg}"
        self.exception = e


def run_batches(run: BatchRun, wl: Workload, arch: Arch, mapping: NetworkMapping, x: np.ndarray,
                batch_size: int, *, traced: int = 0, progress: bool = False, noise: Noise | None = None) -> None:
    """Run the samples `x` in batches of `batch_size` into `run`, keeping the A/D-operation traces
    of the first `traced` samples (`LayerStats.ad_ops_trace`). An error or KeyboardInterrupt in a
    batch ends the loop with `run.error` and `run.exception` set, never raised. noise: the
    non-ideal settings and seed (`Noise.of(arch, seed)`), None for the exact datapath; each copy's
    programmed map is drawn once per run and kept for later batches (`MapCache`, up to
    `MAP_CACHE_BYTES`)."""
    n = int(x.shape[0])
    n_batches = -(-n // batch_size)
    packed: dict[tuple[str, int], PackedWeights] = {}
    maps = MapCache()  # the programmed maps, kept across batches up to MAP_CACHE_BYTES
    with _Bar(progress, n, wl.name) as bar:
        for b, start in enumerate(range(0, n, batch_size)):
            xb = x[start:start + batch_size]
            try:
                stats = {k: s.empty_like() for k, s in run.layers.items()}
                t0 = time.perf_counter()
                keep = max(0, min(traced - start, len(xb)))
                out = execute(wl, xb, matmul=_matmul(arch, mapping, stats, bar, packed, len(xb), keep,
                                                           noise, start, maps))
                t1 = time.perf_counter()
                bar.layer("reference")
                ref = execute(wl, xb, matmul=reference_matmul)
                t2 = time.perf_counter()
            except (Exception, KeyboardInterrupt) as e:
                run.stop(e, f"batch {b + 1} of {n_batches} (samples {start}..{start + len(xb) - 1})")
                return
            run.commit(stats, out, ref, t1 - t0, t2 - t1)
            bar.advance(len(xb))


__all__ = ["BatchRun", "reference_matmul", "run_batches"]
