"""isaacsim: cycle-level, bit-exact simulator of ISAAC-style ReRAM PIM accelerators.

Public API: `load_arch`, `mvm`, `load_workload`, `simulate` (`isaacsim.pipeline`; it returns a
`Result`), `import_onnx` (`isaacsim.importers`), `ConfigError`. Heavy sub-packages are imported
lazily so that `import isaacsim` and the
CLI start fast.
"""

from isaacsim.config import Arch, load_arch
from isaacsim.errors import ConfigError, ConfigWarning, IsaacsimError, MappingError, WorkloadError

__version__ = "0.1.0"

_LAZY = {
    "mvm": ("isaacsim.functional.mvm", "mvm"),
    "load_workload": ("isaacsim.workload", "load_workload"),
    "simulate": ("isaacsim.pipeline", "simulate"),
    "Result": ("isaacsim.pipeline", "Result"),
    "import_onnx": ("isaacsim.importers", "import_onnx"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    if name == "adc":
        import importlib

        return importlib.import_module("isaacsim.adc")
    raise AttributeError(f"module 'isaacsim' has no attribute {name!r}")


__all__ = [
    "Arch",
    "ConfigError",
    "ConfigWarning",
    "IsaacsimError",
    "MappingError",
    "WorkloadError",
    "load_arch",
    "mvm",
    "load_workload",
    "simulate",
    "Result",
    "import_onnx",
]
