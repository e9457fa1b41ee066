"""A slow, obviously-correct statement of every PE's step inputs, crossbar by crossbar: the
reference `isaacsim.timing.pe_work.pe_work` (vectorised, over PE segments) is held to."""

import numpy as np

from isaacsim.timing.layer import Rates, lane_columns


def reference_pe_steps(lp, trace, stages):
    """Per PE: (windows of each round, work (rounds * cycles, adcs), conv (rounds * cycles,)), from a
    (groups, N, cycles, crossbars, lanes) trace. Crossbar i of the layer is copy i // per_copy,
    group (i % per_copy) // crossbars, index t = i % crossbars; it sits on PE i // per_pe; copy k
    runs windows k, k + copies, ...; round r of a PE serves window r * copies + k of each of its
    copies k that has one."""
    rates = Rates.of(stages)
    cols = lane_columns(lp, rates.adcs)
    tr = np.asarray(trace)
    n, cyc, copies = tr.shape[1], lp.geometry.input_cycles, lp.copies
    per_copy, x = lp.crossbars_per_copy, lp.geometry.crossbars
    out = []
    for e in range(lp.n_pes):
        idx = range(e * lp.crossbars_per_pe, min((e + 1) * lp.crossbars_per_pe, lp.crossbars))
        ks = sorted({i // per_copy for i in idx})
        rounds = max(len(range(k, n, copies)) for k in ks)
        windows = tuple(tuple(r * copies + k for k in ks if r * copies + k < n) for r in range(rounds))
        work = np.zeros((rounds, cyc, rates.adcs), np.int64)
        conv = np.zeros((rounds, cyc), np.int64)
        for i in idx:
            k, grp, t = i // per_copy, i % per_copy // x, i % x
            for r in range(rounds):
                w = r * copies + k
                if w >= n:
                    continue
                for c in range(cyc):
                    for lane in range(cols.shape[1]):
                        ops = int(tr[grp, w, c, t, lane]) if rates.early_termination else \
                            rates.resolution * int(cols[t, lane])
                        work[r, c, lane] += ops
                        conv[r, c] += int(cols[t, lane])
        out.append((windows, work.reshape(-1, rates.adcs), conv.reshape(-1)))
    return out
