"""The options of one run (`isaacsim.simulate`'s keywords) as one validated, frozen object.

`RunOptions` checks each option once, when it is built, with a one-line ConfigError naming the
option; `simulate` builds it from its keywords before it loads anything. The register and
profile files it names are read when the run is prepared (`isaacsim.pipeline.prepare`).
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from isaacsim.errors import ConfigError
from isaacsim.pipeline.record import out_dir
from isaacsim.timing.layer import GRANULARITIES


def _whole(v: Any, least: int) -> bool:
    return not isinstance(v, bool) and isinstance(v, numbers.Integral) and v >= least


@dataclass(frozen=True)
class RunOptions:
    """How to run a workload (the keywords of `isaacsim.simulate`, which documents each)."""

    samples: int | None = None
    timing: bool = True
    registers: Mapping[str, Any] | str | os.PathLike | None = None
    batch_size: int | None = None
    progress: bool = False
    raise_on_error: bool = True
    traces: int = 0
    timing_granularity: str = "default"
    timeline: Any = None
    """An `isaacsim.timing.events.Timeline` that collects the pipeline's spans, or None."""
    timing_only: bool = False
    profile: Mapping[str, Any] | str | os.PathLike | None = None
    out: str | os.PathLike | None = None
    """Where the run leaves its record (`isaacsim.pipeline.record`; a Path once checked), None for nowhere."""
    seed: int = 0
    """Seed of the non-ideal datapath's random draws (docs/nonideal.md); unused when the arch is ideal."""

    def __post_init__(self) -> None:
        if self.batch_size is not None and not _whole(self.batch_size, 1):
            raise ConfigError(f"batch_size must be a whole number >= 1, got {self.batch_size!r}")
        if not _whole(self.traces, 0):
            raise ConfigError(f"traces must be a whole number >= 0, got {self.traces!r}")
        if self.timing_granularity not in GRANULARITIES:
            raise ConfigError(f"timing_granularity must be {' or '.join(map(repr, GRANULARITIES))}, "
                              f"got {self.timing_granularity!r}")
        if self.samples is not None and not _whole(self.samples, 1):
            raise ConfigError(f"samples must be a whole number >= 1, got {self.samples!r}")
        if not _whole(self.seed, 0) or self.seed > 2**63 - 1:
            raise ConfigError(f"seed must be a whole number in 0 .. 2^63 - 1, got {self.seed!r}")
        if self.profile is not None and not self.timing_only:
            raise ConfigError("profile applies to timing-only runs (timing_only=True)")
        if self.out is not None:
            object.__setattr__(self, "out", out_dir(self.out))

    @property
    def traced_samples(self) -> int:
        """Samples whose A/D-operation traces the datapath keeps: `traces`, and sample 0 for timing."""
        return max(int(self.traces), 1 if self.timing else 0)


__all__ = ["RunOptions"]
