"""One PE's step schedule: the read / convert recurrence of docs/timing.md, "One PE's schedule".

A pure function on arrays. Step i of the PE (a window's input cycle, in processing order) has
`work[i, a]` A/D operations on ADC a (with `early_termination: false` the caller passes R x the
ADC's conversions), `conv[i]` conversions in all, and belongs to window `step_window[i]`
(non-decreasing, 0 .. W-1, every window at least one step), whose inputs are in the PE at
`ready[w]`. With the ADC rate adc_num / adc_den A/D operations per cycle per ADC, the S+A rate
sa_num / sa_den results per cycle for all the PE's units, and the read latency l_r:

    read_end[i] = max(read_end[i-1] + l_r, conv_end[i-1], ready[w] + l_r if i is w's first step)
    adc[i]      = max_a ceil(work[i, a] * adc_den / adc_num)
    sa[i]       = ceil(conv[i] * sa_den / sa_num)
    conv_end[i] = read_end[i] + max(adc[i], sa[i])

in integers. Before the first step read_end and conv_end are `read_end0` and `conv_end0` (0 for
an idle PE at cycle 0), so a caller can run a PE window by window, carrying the last values.
"""

import numpy as np
from numba import njit

COUNTERS = ("adc_busy", "sa_busy", "convert_busy", "sh_stall", "input_stall", "sa_stall")
"""Indices of the kernel's counters (cycles, summed over the steps):

- adc_busy: max_a ceil(work / rate), the cycles the step's slowest ADC converts;
- sa_busy: the cycles the S+A units take for the step's results;
- convert_busy: max(adc, sa), the cycles the step's conversion holds the S+H;
- sh_stall: max(0, conv_end[i-1] - (read_end[i-1] + l_r)), cycles a finished read waits to
  latch because the S+H still holds unconverted samples;
- input_stall: cycles the latch waits beyond that for the window's inputs (first steps only);
- sa_stall: max(0, sa - adc), cycles the S+A holds a step beyond its ADCs.

read_end[last] - read_end0 == steps x l_r + sh_stall + input_stall exactly.
"""


@njit(cache=True)
def _ceil_div(a, b):
    return -((-a) // b)


@njit(cache=True, inline="always")
def _step_cycles(work, conv, i, adc_num, adc_den, sa_num, sa_den):
    """Step i's (ADC cycles: the slowest ADC's ceil(ops / rate), S+A cycles: ceil(results / rate))."""
    adc = np.int64(0)
    for a in range(work.shape[1]):
        c = _ceil_div(work[i, a] * adc_den, adc_num)
        if c > adc:
            adc = c
    return adc, _ceil_div(conv[i] * sa_den, sa_num)


@njit(cache=True)
def pe_schedule(work, conv, step_window, ready, l_r, adc_num, adc_den, sa_num, sa_den,
                read_end0=0, conv_end0=0):
    """Run the recurrence (module docstring) over every step.

    work: int64 (S, A); conv: int64 (S,); step_window: int64 (S,); ready: int64 (W,).
    Returns read_end (S,), conv_end (S,), window_end (W,) = conv_end of each window's last
    step, and counters int64 (len(COUNTERS),).
    """
    n_steps = work.shape[0]
    n_windows = ready.shape[0]
    read_end = np.empty(n_steps, np.int64)
    conv_end = np.empty(n_steps, np.int64)
    window_end = np.zeros(n_windows, np.int64)
    counters = np.zeros(6, np.int64)
    prev_read = np.int64(read_end0)
    prev_conv = np.int64(conv_end0)
    prev_window = np.int64(-1)
    for i in range(n_steps):
        w = step_window[i]
        base = prev_read + l_r
        latch = base
        if prev_conv > latch:
            counters[3] += prev_conv - latch
            latch = prev_conv
        if w != prev_window:
            r = ready[w] + l_r
            if r > latch:
                counters[4] += r - latch
                latch = r
            prev_window = w
        adc, sa = _step_cycles(work, conv, i, adc_num, adc_den, sa_num, sa_den)
        busy = adc if adc > sa else sa
        counters[0] += adc
        counters[1] += sa
        counters[2] += busy
        if sa > adc:
            counters[5] += sa - adc
        read_end[i] = latch
        conv_end[i] = latch + busy
        window_end[w] = latch + busy
        prev_read = latch
        prev_conv = latch + busy
    return read_end, conv_end, window_end, counters


@njit(cache=True)
def pe_rounds(adc_c, sa_c, starts, n_steps, pes, ready, l_r, read_state, conv_state, counters):
    """Run the recurrence for several (PE, round) calls at once, each step's converter cycles
    given: adc_c[i] = max_a ceil(work[i, a] * adc_den / adc_num) and sa_c[i] = ceil(conv[i] *
    sa_den / sa_num) (`isaacsim.timing.pe_work.PEWork`). Call i runs PE pes[i]'s steps starts[i]
    .. starts[i] + n_steps - 1 from the PE's carried state (read_state[pe], conv_state[pe],
    updated in place), all of the round's inputs ready at ready[i]; the counters of each call are
    added to counters[pe, :]. Returns, per call, the first step's latch, the last step's conv_end
    (the round's end) and the ADC busy cycles of the round."""
    n = pes.shape[0]
    first = np.empty(n, np.int64)
    end = np.empty(n, np.int64)
    adc_busy = np.zeros(n, np.int64)
    for k in range(n):
        e = pes[k]
        prev_read = read_state[e]
        prev_conv = conv_state[e]
        for j in range(n_steps):
            i = starts[k] + j
            base = prev_read + l_r
            latch = base
            if prev_conv > latch:
                counters[e, 3] += prev_conv - latch
                latch = prev_conv
            if j == 0:
                r = ready[k] + l_r
                if r > latch:
                    counters[e, 4] += r - latch
                    latch = r
                first[k] = latch
            adc = adc_c[i]
            sa = sa_c[i]
            busy = adc if adc > sa else sa
            counters[e, 0] += adc
            counters[e, 1] += sa
            counters[e, 2] += busy
            if sa > adc:
                counters[e, 5] += sa - adc
            adc_busy[k] += adc
            prev_read = latch
            prev_conv = latch + busy
        read_state[e] = prev_read
        conv_state[e] = prev_conv
        end[k] = prev_conv
    return first, end, adc_busy
