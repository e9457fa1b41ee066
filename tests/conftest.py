"""Fixtures shared by several test modules (plain helpers live in tests/support)."""

from __future__ import annotations

import pytest

from isaacsim.workload import save_workload
from tests.support.workloads import net_parts


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """`net_parts()` saved as a workload directory, once per test module."""
    manifest, arrays, ev = net_parts()
    return save_workload(manifest, tmp_path_factory.mktemp("net") / "net", arrays=arrays, eval=ev)
