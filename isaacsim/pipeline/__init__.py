"""The whole run: functional datapath -> timing -> energy -> a `Result` (`isaacsim.simulate`).

Everything above the models (calibration, sweeps, reports, commands) calls `simulate` from here.
"""

from isaacsim.functional.result import LayerStats, Result
from isaacsim.functional.simulate import RANDOM_SEED, simulate

__all__ = ["RANDOM_SEED", "LayerStats", "Result", "simulate"]
