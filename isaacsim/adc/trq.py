"""Twin Range Quantization (paper 000 sec. III, Eqs. 7-8), registers n_r1, n_r2, m, D1, bias.

D2 = 2^m D1; theta = 2^n_r1 D1; lo = bias * D2; nu = 1 detection comparison (2 with a bias).
R1 (lo <= x < lo + theta): MSB 0, value lo + q(x - lo, D1, n_r1) * D1, nu + n_r1 operations.
R2 (otherwise): MSB 1, value q(x, D2, n_r2) * D2, nu + n_r2 operations.
Units are steps D1: an R1 code decodes to bias * 2^m + code, an R2 code to code << m.
"""

import numpy as np

from isaacsim.adc.ideal import clip
from isaacsim.adc.registers import ADCRegisters
from isaacsim.adc.uniform import quantize


def closed_form(x: np.ndarray, regs: ADCRegisters):
    """(code, msb, units, ops) in closed form."""
    xc = clip(x, regs)
    d1 = regs.delta_r1
    lo = regs.bias * 2**regs.m * d1
    in_r1 = (xc >= lo) & (xc < lo + 2**regs.n_r1 * d1)
    nu = 1 if regs.bias == 0 else 2
    c1 = quantize(xc - lo, d1, regs.n_r1)
    c2 = quantize(xc, regs.delta_r2, regs.n_r2)
    code = np.where(in_r1, c1, c2)
    units = np.where(in_r1, regs.bias * 2**regs.m + c1, c2 << regs.m)
    ops = np.where(in_r1, nu + regs.n_r1, nu + regs.n_r2)
    return code, (~in_r1).astype(np.int64), units, ops.astype(np.int64)
