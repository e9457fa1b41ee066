"""The alpha-blending paper's toy problem (its Figure 3), in plain Python.

Minimise ``L(w) = (w - 5.7)^2`` over integers with Algorithm 1: ``wq = round(w)``, the blended
weight ``w' = (1 - alpha) w + alpha wq``, the step ``w <- w - lr (1 - alpha) dL/dw'`` at ``w'``,
then ``alpha <- A(step)`` (Eq. 6, raised after the step, every ``every`` steps). The paper starts
at ``w = 2.0`` with alpha 0, runs 20 steps and ends at ``w = 5.506555``, ``wq = 6``; it does not
give the learning rate or the window. :func:`fig3` is that run; ``docs/scripts/toy_problem.py``
prints how the end point depends on the learning rate and the window.
"""

from __future__ import annotations

from .schedule import alpha as eq6_alpha

__all__ = ["fig3", "round_half_even"]

TARGET = 5.7
START = 2.0
STEPS = 20


def round_half_even(v: float) -> float:
    """``round`` as torch and numpy do it (ties to even), as a float."""
    return float(round(v))


def fig3(lr: float, t0: float, t1: float, steps: int = STEPS, w0: float = START,
         target: float = TARGET, every: int = 1) -> tuple[float, float, list[tuple[float, float, float]]]:
    """Algorithm 1 on ``(w - target)^2`` from ``w0``: returns ``(w, alpha, trace)`` after ``steps``
    steps, ``trace`` holding ``(w, wq, alpha)`` after each step (``wq = round(w)``)."""
    w, a, trace = float(w0), 0.0, []
    for step in range(steps):
        wq = round_half_even(w)
        w_blend = (1.0 - a) * w + a * wq
        w -= lr * (1.0 - a) * 2.0 * (w_blend - target)
        if step % every == 0 and a < 1.0:
            a = eq6_alpha(step, t0, t1)
        trace.append((w, round_half_even(w), a))
    return w, a, trace
