"""The whole run: functional datapath -> timing -> energy -> a typed `Result` (`isaacsim.simulate`).

`simulate` (`isaacsim.pipeline.run`) checks its options (`RunOptions`), prepares the run
(`prepare`), runs its stages (`stages`, or `timing_only`) and leaves its record (`record`) when
asked. Everything above the models (calibration, sweeps, reports, commands) calls `simulate`
from here.
"""

from isaacsim.functional.inputs import RANDOM_SEED
from isaacsim.functional.stats import LayerStats
from isaacsim.pipeline.options import RunOptions
from isaacsim.pipeline.result import Failure, Result, TimingOnly
from isaacsim.pipeline.run import simulate

__all__ = ["RANDOM_SEED", "Failure", "LayerStats", "Result", "RunOptions", "TimingOnly", "simulate"]
