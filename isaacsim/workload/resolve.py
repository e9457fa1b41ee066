"""Workload references: the one place that turns `DIR` or `zoo:NAME` into a Workload.

Every command and API that takes a workload reference (run, calibrate, sweep files, sweep
workers) resolves it here, so the `zoo:` prefix and its errors mean the same everywhere.
"""

from __future__ import annotations

import os

from isaacsim.workload.io import Workload, load_workload

ZOO_PREFIX = "zoo:"


def zoo_name(ref: str | os.PathLike) -> str | None:
    """NAME for a reference `zoo:NAME` (checked against the zoo: WorkloadError naming the
    networks otherwise), None for anything else (a directory path)."""
    ref = os.fspath(ref)
    if not ref.startswith(ZOO_PREFIX):
        return None
    from isaacsim.workload.zoo import get

    name = ref[len(ZOO_PREFIX):]
    get(name)
    return name


def resolve_workload(ref: Workload | str | os.PathLike) -> Workload:
    """A Workload as is, `zoo:NAME` built in memory by the model zoo, or a workload directory."""
    if isinstance(ref, Workload):
        return ref
    name = zoo_name(ref)
    if name is None:
        return load_workload(ref)
    from isaacsim.workload.zoo import make

    return make(name)


__all__ = ["ZOO_PREFIX", "resolve_workload", "zoo_name"]
