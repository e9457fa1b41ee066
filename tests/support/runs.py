"""Constants of `isaacsim.simulate` runs shared by the tests."""

BASE = "arch_configs/trq_baseline.yaml"
"""The preset most run tests start from."""

CONTRACT = ("energy_j", "latency_cycles", "latency_s", "power_w", "accuracy", "adc", "breakdown")
"""Keys every run summary has (the documented contract)."""

LOSSLESS_TRQ = {"mode": "trq", "resolution": 8, "n_r1": 8, "n_r2": 1, "m": 7}  # R1 covers 0..255
"""TRQ registers that convert every 8-bit sample exactly."""
