"""Preparing a run: everything loaded and checked before anything runs or is written.

`prepare` loads the arch, the workload and the register and profile files a run names, checks
the workload's input formats against the datapath and places the network; any bad input is a
one-line ConfigError, WorkloadError or MappingError here. `new_result` is the Result the run
then fills, its statistics all zero.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from isaacsim.config import Arch, load_arch
from isaacsim.functional.inputs import check_formats
from isaacsim.functional.stats import LayerStats
from isaacsim.mapping.layers import layers_of
from isaacsim.mapping.placement import NetworkMapping, place_network
from isaacsim.pipeline.options import RunOptions
from isaacsim.pipeline.result import Result
from isaacsim.workload import Workload, load_workload


@dataclass(frozen=True)
class Plan:
    """A prepared run: the loaded arch and workload, the placed network and a checked profile."""

    arch: Arch
    workload: Workload
    mapping: NetworkMapping
    profile: dict[str, Any] | None


def prepare(arch: Arch | str | os.PathLike | Mapping[str, Any], workload: Workload | str | os.PathLike,
            opts: RunOptions) -> Plan:
    """Load and check everything the run needs; ConfigError, WorkloadError or MappingError otherwise."""
    arch = arch if isinstance(arch, Arch) else load_arch(arch)
    wl = workload if isinstance(workload, Workload) else load_workload(workload)
    registers = opts.registers
    if isinstance(registers, (str, os.PathLike)):
        registers = _registers_file(registers, arch, opts.seed)
    check_formats(wl, arch)
    mapping = place_network(layers_of(wl), arch, registers)
    return Plan(arch, wl, mapping, _profile(opts.profile))


def _registers_file(path, arch: Arch, seed: int):
    """The registers of a register file; a ConfigWarning when it was calibrated under other noise."""
    import warnings

    from isaacsim.adc.regfile import noise_mismatch, read_register_file
    from isaacsim.errors import ConfigWarning
    from isaacsim.functional.nonideal import Noise

    registers, meta = read_register_file(path)
    nz = Noise.of(arch, seed)
    differ = noise_mismatch(meta, nz.settings())
    if differ:
        rec = meta["noise"]
        what = ", ".join(f"{k} {rec[k]} (this run: {getattr(nz, k)})" for k in differ)
        warnings.warn(f"{path}: calibrated under other non-idealities: {what}", ConfigWarning, stacklevel=4)
    return registers


def _profile(profile) -> dict[str, Any] | None:
    """The checked profile document of a dict or a file (`isaacsim.timing.profile`), or None."""
    if profile is None:
        return None
    from isaacsim.timing import profile as prof

    return prof.load_profile(profile) if isinstance(profile, (str, os.PathLike)) else prof.check_profile(profile)


def new_result(plan: Plan, source: str, available: int | None, requested: int | None, planned: int,
               batch_size: int, labels: np.ndarray | None = None) -> Result:
    """A Result before anything ran: its layers' statistics all zero."""
    layers = {lp.name: LayerStats.of(lp) for lp in plan.mapping.layers}
    return Result(arch=plan.arch, workload=plan.workload.name, mapping=plan.mapping, layers=layers,
                  sample_source=source, samples_available=available,
                  samples_requested=None if requested is None else int(requested), samples_planned=planned,
                  batch_size=int(batch_size), labels=labels)


__all__ = ["Plan", "new_result", "prepare"]
