"""The alpha schedule of alpha-blending (Eq. 6 of the alpha-blending paper), stepped per batch or per epoch.

This module owns the blending coefficient's timeline and nothing else (it does not import
torch): :func:`alpha` is Eq. 6, ``0`` up to ``T0``, ``1 - ((T1 - step) / (T1 - T0))^3`` on
``(T0, T1]`` and ``1`` after; :class:`AlphaSchedule` counts batches and epochs and reports the
current alpha in the unit it was built for, with a small state dict so a resumed run continues
where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AlphaSchedule", "alpha"]


def alpha(step: float, t0: float, t1: float) -> float:
    """Eq. 6: 0 for step <= t0, 1 - ((t1 - step)/(t1 - t0))**3 for t0 < step <= t1, 1 after."""
    if t1 <= t0:
        raise ValueError(f"the blending window needs t1 > t0, got t0={t0}, t1={t1}")
    if step <= t0:
        return 0.0
    if step > t1:
        return 1.0
    return 1.0 - ((t1 - step) / (t1 - t0)) ** 3


@dataclass
class AlphaSchedule:
    """Eq. 6 over a window ``[t0, t1]`` counted in batches (``per="batch"``) or epochs.

    Call :meth:`batch_end` after every optimiser step and :meth:`epoch_end` after every
    epoch; :attr:`step` is the counter in the schedule's unit and :attr:`value` the alpha for
    the next batch.  In per-epoch mode alpha is constant within an epoch.
    """

    t0: float
    t1: float
    per: str = "batch"
    batches: int = 0
    epochs: int = 0

    def __post_init__(self) -> None:
        if self.per not in ("batch", "epoch"):
            raise ValueError(f"per must be 'batch' or 'epoch', got {self.per!r}")
        alpha(0, self.t0, self.t1)  # validates the window

    @property
    def step(self) -> int:
        return self.batches if self.per == "batch" else self.epochs

    @property
    def value(self) -> float:
        return alpha(self.step, self.t0, self.t1)

    def batch_end(self) -> float:
        self.batches += 1
        return self.value

    def epoch_end(self) -> float:
        self.epochs += 1
        return self.value

    def state_dict(self) -> dict:
        return {"t0": self.t0, "t1": self.t1, "per": self.per,
                "batches": self.batches, "epochs": self.epochs}

    def load_state_dict(self, state: dict) -> None:
        for key in ("t0", "t1", "per", "batches", "epochs"):
            setattr(self, key, state[key])
        self.__post_init__()
