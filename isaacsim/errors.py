"""Exception and warning types shared by the whole package (the CLI maps them to exit 2)."""


class IsaacsimError(Exception):
    """Base of every user-facing error: bad config, workload, file or option."""


class ConfigError(IsaacsimError, ValueError):
    """An architecture, sweep or register file (or an override) is invalid; the message names the key."""


class WorkloadError(IsaacsimError, ValueError):
    """A workload directory or file is malformed; the message names the layer or file."""


class MappingError(IsaacsimError, ValueError):
    """A workload cannot be placed on the configured chip (for example it needs more tiles)."""


class ConfigWarning(UserWarning):
    """A legal but noteworthy setting, such as an ADC coarser than lossless."""


class TimingWarning(UserWarning):
    """The timing model could not time a run whose functional results stand."""


class EnergyWarning(UserWarning):
    """The energy model could not price a run whose functional results stand."""
