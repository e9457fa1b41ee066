"""How the alpha-blending paper's toy problem (its Figure 3) depends on the learning rate and window.

Algorithm 1 on ``(w - 5.7)^2`` from ``w = 2.0``, 20 steps, ``wq = round(w)``, alpha by Eq. 6 over
the window ``[T0, T1]`` (steps) raised after every step (``isaacsim.train.toy.fig3``). Prints a
Markdown table of the final ``w`` (and ``wq`` when it is not 6) per learning rate and window.
The paper reports ``w = 5.506555``, ``wq = 6`` without giving the learning rate or the window.

    PYTHONPATH=. python docs/scripts/toy_problem.py
"""

from __future__ import annotations

from isaacsim.train.toy import fig3

LRS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 0.75, 1.0)
WINDOWS = ((0, 10), (2, 10), (5, 15), (0, 19), (10, 19))


def main() -> int:
    print("final w after 20 steps from w = 2.0 (wq = round(w); marked when wq is not 6)")
    print()
    print("| lr | " + " | ".join(f"T0={t0}, T1={t1}" for t0, t1 in WINDOWS) + " |")
    print("|---|" + "---|" * len(WINDOWS))
    for lr in LRS:
        cells = []
        for t0, t1 in WINDOWS:
            w, _, _ = fig3(lr, t0, t1)
            cells.append(f"{w:.4f}" if round(w) == 6 else f"{w:.4f} (wq {round(w)})")
        print(f"| {lr:g} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
