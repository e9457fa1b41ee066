"""Per-layer TRQ register search ("Twin Range Quantization" sec. IV-A/B, Algorithm 1 lines 5-14, Eqs. 9-11).

Everything here works on one layer's histogram of bit-line samples, `hist[v]` = number of
samples of value v in lossless-LSB units (`LayerStats.sample_hist`: raw samples, length
max_sample + 1, so it may run past 2^R - 1; the ADC clips those, and the error is measured
against the raw value). No simulator runs, pure numpy.

Metrics (exactly what averaging `isaacsim.adc.convert` over the expanded samples gives):

- `expected_ops` (Eq. 9 divided by N * e_op): A/D operations per conversion, detection
  comparisons (nu = 1, or 2 with a bias) included.
- `quant_mse` (Eq. 10): mean of (decoded value - sample)^2 in squared lossless LSBs.

`trq_metrics` / `uniform_metrics` evaluate many candidate register sets at once: the register
arguments broadcast against each other (shape C), the samples run along a last axis, so one
call builds (C, support) arrays, with support = the histogram's nonzero bins.

`search_layer` is the per-layer search; the reading of the paper it implements is documented
on it and on `classify`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from isaacsim.adc.registers import ADCRegisters
from isaacsim.adc.uniform import quantize
from isaacsim.config.models import ADCConfig

CASES = ("ideal", "normal", "other")

CLASSIFY_MASS = 0.99
"""Fraction of the samples that must fall in the window `classify` looks for."""


# ---------------------------------------------------------------- histogram helpers
def _support(hist) -> tuple[np.ndarray, np.ndarray, int]:
    """(values, counts, total) over the nonzero bins of hist; ValueError when it is unusable."""
    h = np.asarray(hist)
    if h.ndim != 1 or h.size == 0:
        raise ValueError(f"hist must be a non-empty 1-D array of counts, got shape {h.shape}")
    if h.dtype.kind not in "iub":
        if h.dtype.kind != "f" or not np.all(np.isfinite(h)) or np.any(h != np.floor(h)):
            raise ValueError("hist must hold whole-number counts")
    h = h.astype(np.int64)
    if np.any(h < 0):
        raise ValueError("hist counts must be >= 0")
    x = np.flatnonzero(h)
    if x.size == 0:
        raise ValueError("hist holds no samples")
    w = h[x]
    return x.astype(np.int64), w, int(w.sum())


def _finish(ops_units: np.ndarray, values: np.ndarray, x: np.ndarray, w: np.ndarray, n: int):
    """(ops per conversion, mse) from per-(candidate, sample) ops and decoded values."""
    ops_total = (np.asarray(ops_units, np.int64) * w).sum(axis=-1)
    err = values - x
    mse = (err * err * w).sum(axis=-1) / n
    return ops_total / n, mse


# ---------------------------------------------------------------- vectorised metrics
def trq_metrics(hist, resolution: int, n_r1, n_r2, m, delta_r1, bias):
    """(ops per conversion, mse) of TRQ register sets against hist, broadcast over candidates.

    n_r1, n_r2, m, bias (integers) and delta_r1 (D1 > 0) are scalars or arrays that broadcast
    together to the candidate shape; both results have that shape. The arithmetic is the SAR
    kernel's, operation for operation (lo = bias*2^m*D1, theta = 2^n_r1*D1, comparator
    thresholds (k - 1/2)*step), so the results equal averaging `convert` over the samples.
    Validity of the register sets is not checked here (see `ADCRegisters`).
    """
    x, w, n = _support(hist)
    r = int(resolution)
    n_r1, n_r2, m, bias = (np.asarray(a, np.int64)[..., None] for a in (n_r1, n_r2, m, bias))
    d1 = np.asarray(delta_r1, np.float64)[..., None]
    xc = np.clip(x, 0, 2**r - 1)
    scale = 2**m
    lo = (bias * scale) * d1
    theta = (2**n_r1) * d1
    in_r1 = (xc >= lo) & (xc < lo + theta)
    nu = np.where(bias == 0, 1, 2)
    c1 = quantize(xc - lo, d1, n_r1)
    c2 = quantize(xc, d1 * scale, n_r2)
    units = np.where(in_r1, bias * scale + c1, c2 * scale)
    ops = np.where(in_r1, nu + n_r1, nu + n_r2)
    return _finish(ops, units * d1, x, w, n)


def uniform_metrics(hist, resolution: int, bits, delta):
    """(ops per conversion, mse) of uniform K-bit ADCs with step D, broadcast over candidates."""
    x, w, n = _support(hist)
    k = np.asarray(bits, np.int64)[..., None]
    d = np.asarray(delta, np.float64)[..., None]
    code = quantize(np.clip(x, 0, 2 ** int(resolution) - 1), d, k)
    return _finish(np.broadcast_to(k, code.shape), code * d, x, w, n)


def ideal_metrics(hist, resolution: int):
    """(ops per conversion, mse) of the ideal ADC: R operations, error only from clipping."""
    x, w, n = _support(hist)
    xc = np.clip(x, 0, 2 ** int(resolution) - 1)
    return _finish(np.full_like(x, int(resolution)), xc.astype(np.float64), x, w, n)


def metrics(hist, regs: ADCRegisters | ADCConfig | Mapping[str, Any]) -> tuple[float, float]:
    """(expected A/D operations per conversion, quantization MSE) of one register set."""
    g = ADCRegisters.of(regs)
    x, w, n = _support(hist)
    _, _, units, ops = g.closed_form(x)
    ops, mse = _finish(ops, units * g.step, x, w, n)
    return float(ops), float(mse)


def expected_ops(hist, regs) -> float:
    """Eq. 9 per conversion: A/D operations (detection included) averaged over hist."""
    return metrics(hist, regs)[0]


def quant_mse(hist, regs) -> float:
    """Eq. 10: mean squared error between the decoded value and the raw sample over hist."""
    return metrics(hist, regs)[1]


# ---------------------------------------------------------------- classification
def _bits_for(hist, resolution: int | None) -> int:
    if resolution is not None:
        return int(resolution)
    return max(1, (len(hist) - 1).bit_length())


def shortest_window(hist, mass: float = CLASSIFY_MASS) -> tuple[int, int]:
    """(start, end), inclusive, of the shortest run of values holding >= mass of the samples
    (the leftmost one when several are as short)."""
    _support(hist)
    h = np.asarray(hist, np.int64)
    c = np.concatenate(([0], np.cumsum(h)))
    need = mass * c[-1]
    starts = np.arange(h.size)
    # end index e (exclusive in c) with c[e] - c[s] >= need, smallest such e per start s
    ends = np.searchsorted(c, c[starts] + need, side="left")
    ok = ends <= h.size
    widths = np.where(ok, ends - starts, np.iinfo(np.int64).max)
    s = int(np.argmin(widths))
    return s, int(ends[s]) - 1


def classify(hist, resolution: int | None = None, *, mass: float = CLASSIFY_MASS,
             window_bits: int | None = None) -> str:
    """The distribution type of Algorithm 1 line 5: "ideal", "normal" or "other".

    With R the ADC resolution (default: the bits of the largest possible sample, len(hist) - 1)
    and k = window_bits (default R // 2):

    - "ideal" (sec. III-B, Eq. 11): at least `mass` (99 %) of the samples lie below 2^k. R1 at
      D1 = 1 and n_r1 <= k bits then converts 99 % of the samples losslessly in at most 1 + k
      operations instead of R (at R = 8: <= 5 of 8).
    - "normal" (sec. IV-B, "normal-like ... strong unimodality (low variance)"): not ideal, and
      the shortest run of values holding 99 % of the samples is at most 2^k values wide (as
      wide as the ideal case's window 0..2^k - 1). It does not start at 0 (that would be
      ideal), so it is one tight mode away from zero, which a bias moves R1 onto. Only the
      concentration is tested, not the shape: what the TRQ coding needs is one narrow dense
      window, and a narrow window with two bumps codes just as well.
    - "other": weak unimodal, multi-modal or flat (no narrow window holds 99 %).

    Why 99 % and 2^(R/2): the ideal and normal cases pay for R2 samples with up to n_r2 + nu
    operations and at most 1 % of them fall there; a window of 2^(R/2) values is the widest one
    whose lossless R1 coding (n_r1 <= R/2, +2 detection comparisons with a bias) still saves
    about a third or more of the R operations at R = 8..10. Both are knobs (mass, window_bits).
    """
    _support(hist)
    r = _bits_for(hist, resolution)
    k = r // 2 if window_bits is None else int(window_bits)
    h = np.asarray(hist, np.int64)
    c = np.cumsum(h)
    below = int(np.searchsorted(c, mass * c[-1], side="left"))  # smallest v with cdf(v) >= mass
    if below < 2**k:
        return "ideal"
    s, e = shortest_window(h, mass)
    if e - s + 1 <= 2**k:
        return "normal"
    return "other"


# ---------------------------------------------------------------- search
@dataclass(frozen=True)
class LayerSearch:
    """One layer's search result: the TRQ registers and the uniform alternative at n_r2 bits."""

    registers: dict[str, Any]
    """TRQ registers for the register file: mode, resolution, n_r1, n_r2, m, delta_r1, bias."""
    ops: float
    """Expected A/D operations per conversion (Eq. 9 / N), detection comparisons included."""
    mse: float
    """Quantization MSE (Eq. 10), squared lossless LSBs."""
    case: str
    """"ideal", "normal" or "other" (`classify`, or as forced)."""
    uniform: dict[str, Any]
    """Uniform registers at n_r2 bits: mode, resolution, bits, delta."""
    uniform_ops: float
    uniform_mse: float
    evaluated: int
    """Valid TRQ candidates evaluated."""


def d2_grid(ymax: int, n_r2: int, candidates: int = 50, alpha: float = 0.1, beta: float = 1.2) -> np.ndarray:
    """The C candidate D2 of Algorithm 1 line 6: evenly spaced in
    [alpha*ymax/(2^n_r2 - 1), beta*ymax/(2^n_r2 - 1)] (ymax taken as >= 1)."""
    y = max(int(ymax), 1)
    top = 2 ** int(n_r2) - 1
    return np.linspace(alpha * y / top, beta * y / top, int(candidates))


def _pick(best, ops: np.ndarray, mse: np.ndarray, params: list[np.ndarray]):
    """Lexicographic (ops, mse) minimum of this batch against best; earlier wins ties."""
    order = np.lexsort((np.arange(ops.size), mse, ops))
    i = int(order[0])
    if best is None or (ops[i], mse[i]) < (best[0], best[1]):
        return (float(ops[i]), float(mse[i]), tuple(p[i] if np.ndim(p) else p for p in params))
    return best


def _check_bits(resolution: int, n_r2: int) -> tuple[int, int]:
    r, k2 = int(resolution), int(n_r2)
    if not 1 <= r <= 16:
        raise ValueError(f"resolution must be 1..16, got {r}")
    if not 1 <= k2 <= r:
        raise ValueError(f"n_r2 must be 1..resolution={r}, got {k2}")
    return r, k2


def _check_case(hist, r: int, case: str | None) -> str:
    """The forced case, else `classify`'s."""
    if case is None:
        case = classify(hist, r)
    if case not in CASES:
        raise ValueError(f"case must be one of {', '.join(CASES)}, got {case!r}")
    return case


def _n_r1_values(r: int, n_r1_values: Iterable[int] | None) -> np.ndarray:
    """The distinct n_r1 candidates in 0..R, ascending (default: all of them)."""
    values = range(r + 1) if n_r1_values is None else n_r1_values
    out = np.array(sorted({int(v) for v in values if 0 <= int(v) <= r}), np.int64)
    if out.size == 0:
        raise ValueError(f"n_r1_values holds no value in 0..{r}")
    return out


@dataclass(frozen=True)
class _Space:
    """One layer's search space at n_r2 bits (the checked arguments of `search_layer`)."""

    hist: Any
    r: int
    k2: int
    """n_r2."""
    ymax: int
    """The largest sample with a nonzero count, clipped to 2^R - 1."""
    grid: np.ndarray
    """The positive D2 candidates of `d2_grid`."""
    valid_m: list[int]
    """m_values within 0..R - n_r2 (may be empty)."""
    n1_values: np.ndarray


def _search_ideal(s: _Space):
    """Eq. 11: D1 = 1, m = R - n_r2, bias = 0; n_r1 searched. (best, candidates evaluated)."""
    m0 = s.r - s.k2
    ops, mse = trq_metrics(s.hist, s.r, s.n1_values, s.k2, m0, 1.0, 0)
    return _pick(None, ops, mse, [s.n1_values, np.int64(m0), np.float64(1.0), np.int64(0)]), s.n1_values.size


def _search_normal(s: _Space):
    """D1 = 1, D2 = 2^m from the snapped grid (larger m first), n_r1 and every bias with bias * D2 <= ymax."""
    snapped = np.floor(np.log2(s.grid) + 0.5).astype(np.int64)
    snapped = {int(v) for v in np.clip(snapped, 0, s.r - s.k2)} & set(s.valid_m)
    best, evaluated = None, 0
    for m in sorted(snapped or s.valid_m or [s.r - s.k2], reverse=True):
        biases = np.arange(s.ymax // 2**m + 1, dtype=np.int64)
        biases = biases[biases <= 65_535]
        for n1 in s.n1_values:
            ops, mse = trq_metrics(s.hist, s.r, n1, s.k2, m, 1.0, biases)
            best = _pick(best, ops, mse, [n1, np.int64(m), np.float64(1.0), biases])
            evaluated += biases.size
    return best, evaluated


def _search_other(s: _Space):
    """n_r1 = n_r2, bias = 0; D2 over the grid and m over the valid m, D1 = D2 / 2^m."""
    valid_m = s.valid_m or [s.r - s.k2]
    d2 = np.repeat(s.grid, len(valid_m))
    mm = np.tile(np.array(valid_m, np.int64), s.grid.size)
    d1 = d2 / 2.0**mm
    keep = (d1 > 0) & (d1 <= 1e6)
    d1, mm = d1[keep], mm[keep]
    ops, mse = trq_metrics(s.hist, s.r, s.k2, s.k2, mm, d1, 0)
    return _pick(None, ops, mse, [np.int64(s.k2), mm, d1, np.int64(0)]), d1.size


_SEARCHES = {"ideal": _search_ideal, "normal": _search_normal, "other": _search_other}
"""The TRQ register search of each distribution case (`search_layer`'s docstring)."""


def _uniform_alternative(s: _Space) -> tuple[dict[str, Any], float, float]:
    """(registers, ops, mse) of the n_r2-bit uniform ADC whose step has the least MSE among 2^(R - n_r2)
    (preferred on ties) and the grid."""
    steps = np.concatenate(([float(2 ** (s.r - s.k2))], s.grid[s.grid <= 1e6]))
    u_ops, u_mse = uniform_metrics(s.hist, s.r, s.k2, steps)
    j = int(np.argmin(u_mse))  # first minimum: the default step wins ties
    regs = {"mode": "uniform", "resolution": s.r, "bits": s.k2, "delta": float(steps[j])}
    return regs, float(u_ops[j]), float(u_mse[j])


def search_layer(
    hist,
    resolution: int,
    n_r2: int,
    *,
    candidates: int = 50,
    alpha: float = 0.1,
    beta: float = 1.2,
    m_values: Iterable[int] = range(8),
    n_r1_values: Iterable[int] | None = None,
    case: str | None = None,
) -> LayerSearch:
    """Search one layer's TRQ registers at n_r2 bits (Algorithm 1 lines 5-14).

    Objective: minimise Eq. 9 (expected A/D operations, detection included), then among the
    minimisers Eq. 10 (MSE). Ties on both go to the first candidate in the order given per case.
    Only valid register sets are evaluated (`ADCRegisters`: 0 <= n_r1 <= R, n_r2 + m <= R, so
    m runs over m_values ∩ 0..R - n_r2; 0 <= bias <= 65535; D1 > 0 is a real number, no snapping
    needed); the result always passes `ADCRegisters.from_dict`. ymax is the largest sample with
    a nonzero count, clipped to 2^R - 1; D2 candidates come from `d2_grid`.

    - ideal (Eq. 11): D1 = 1, m = R - n_r2 (R2 spans the whole ADC range), bias = 0, nu = 1;
      n_r1 searched over n_r1_values (default 0..R), ties to the smaller n_r1. R1 is lossless;
      Eq. 9 may still leave a thin tail in R2 when that is cheaper than covering it in R1.
      The D2 grid is not used: Eq. 11 fixes D2 = 2^(R - n_r2).
    - normal (sec. IV-B: "treated as the ideal case, except for Offset = bias * D2"): D1 = 1,
      so D2 = 2^m (Eq. 8); the C grid values of D2 are snapped to the nearest power of two
      (round(log2 D2)), clipped to the valid m and intersected with m_values (all valid
      m_values if that leaves none); n_r1 over n_r1_values; bias over every integer with
      bias * D2 <= ymax (R1 starting at or below the largest sample). Ties go to the larger m
      (wider R2 for outliers unseen in calibration), then the smaller n_r1, then the smaller bias.
    - other (sec. IV-B last sentences): n_r1 = n_r2, so every conversion costs nu + n_r2 and
      Eq. 9 only picks bias = 0 (nu = 1); D2 over the C grid values and m over the valid
      m_values, D1 = D2 / 2^m, chosen by Eq. 10. Ties go to the smaller D2, then the smaller m.

    The uniform alternative (Algorithm 1 line 20) has K = n_r2 bits and the step D of least MSE
    among 2^(R - K) (the default step, preferred on ties) and the C grid values.
    """
    x, _, _ = _support(hist)
    r, k2 = _check_bits(resolution, n_r2)
    case = _check_case(hist, r, case)
    ymax = int(min(x[-1], 2**r - 1))
    grid = d2_grid(ymax, k2, candidates, alpha, beta)
    grid = grid[grid > 0]
    if grid.size == 0:
        raise ValueError("the D2 grid is empty (candidates must be >= 1 and alpha, beta > 0)")
    valid_m = [int(v) for v in m_values if 0 <= int(v) <= r - k2]
    space = _Space(hist, r, k2, ymax, grid, valid_m, _n_r1_values(r, n_r1_values))
    (ops, mse, (n1, m, d1, bias)), evaluated = _SEARCHES[case](space)
    regs = {"mode": "trq", "resolution": r, "n_r1": int(n1), "n_r2": k2, "m": int(m), "delta_r1": float(d1),
            "bias": int(bias)}
    uniform, u_ops, u_mse = _uniform_alternative(space)
    return LayerSearch(registers=regs, ops=ops, mse=mse, case=case, uniform=uniform, uniform_ops=u_ops,
                       uniform_mse=u_mse, evaluated=int(evaluated))
