"""SAR conversion traced comparison by comparison, as the modified SAR logic of the TRQ paper does it.

A sample x (integer, lossless-LSB units) is clipped to 0..2^R-1. The comparator decides
`x >= threshold`; with step D the thresholds of an n-bit search are (k - 1/2) * D, k = 1..2^n - 1,
so the code is the largest k whose threshold x reaches (round half up, clamped). Mode codes
(integers for numba; each ADC kind's `kernel_args` in `isaacsim.adc` picks its code):

- IDEAL: the code is x itself; R operations.
- UNIFORM (K bits, step D): binary search; K operations.
- TRQ (n_r1, n_r2, m, D1, bias): detection (1 comparison, 2 when bias > 0) of
  lo <= x < lo + 2^n_r1 D1 with lo = bias * 2^m * D1, then an n_r1-bit search in R1 (step D1,
  offset lo) or an n_r2-bit search in R2 (step D2 = 2^m D1).

Decoded values are returned in integer units of the base step (1, D or D1): the S+A decode is
`bias*2^m + code` for an R1 code and `code << m` for an R2 code.
"""

import numpy as np
from numba import njit

IDEAL = 0
UNIFORM = 1
TRQ = 2


@njit(cache=True, inline="always")
def _search(xr, step, nbits):
    """n-bit SAR binary search of xr against thresholds (k - 1/2) * step; returns the code."""
    code = 0
    for i in range(nbits - 1, -1, -1):
        trial = code | (1 << i)
        if xr >= (trial - 0.5) * step:
            code = trial
    return code


@njit(cache=True)
def sar_convert(x, mode, resolution, n_r1, n_r2, m, bias, step):
    """Convert one sample; returns (code, msb, value in base-step units, A/D operations).

    For UNIFORM, n_r2 is the kept bits K and step is D; for TRQ, step is D1; IDEAL ignores both.
    """
    top = (1 << resolution) - 1
    if x < 0:
        x = 0
    elif x > top:
        x = top
    if mode == IDEAL:
        return x, 0, x, resolution
    if mode == UNIFORM:
        code = _search(float(x), step, n_r2)
        return code, 0, code, n_r2
    lo = bias * (1 << m) * step
    theta = (1 << n_r1) * step
    nu = 1 if bias == 0 else 2
    if x >= lo and x < lo + theta:
        code = _search(x - lo, step, n_r1)
        return code, 0, bias * (1 << m) + code, nu + n_r1
    code = _search(float(x), step * (1 << m), n_r2)
    return code, 1, code << m, nu + n_r2


@njit(cache=True)
def sar_convert_array(x, mode, resolution, n_r1, n_r2, m, bias, step):
    """`sar_convert` over a flat int64 array; returns (code, msb, units, ops) int64 arrays."""
    n = x.shape[0]
    code = np.empty(n, np.int64)
    msb = np.empty(n, np.int64)
    units = np.empty(n, np.int64)
    ops = np.empty(n, np.int64)
    for i in range(n):
        code[i], msb[i], units[i], ops[i] = sar_convert(x[i], mode, resolution, n_r1, n_r2, m, bias, step)
    return code, msb, units, ops


@njit(cache=True)
def sar_table(max_sample, mode, resolution, n_r1, n_r2, m, bias, step):
    """(code, msb, units, ops) for every possible sample 0..max_sample, traced by `sar_convert`."""
    return sar_convert_array(np.arange(max_sample + 1), mode, resolution, n_r1, n_r2, m, bias, step)
