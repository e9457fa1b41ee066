"""Workloads: the versioned directory format, loading/saving, and the integer reference executor."""

from isaacsim.workload.format import FORMAT_VERSION, Manifest, TensorFormat, parse_manifest
from isaacsim.workload.io import Dataset, Workload, build, load_workload, save_workload
from isaacsim.workload.reference import exact_matmul, execute, predict

__all__ = [
    "FORMAT_VERSION",
    "Dataset",
    "Manifest",
    "TensorFormat",
    "Workload",
    "build",
    "exact_matmul",
    "execute",
    "load_workload",
    "parse_manifest",
    "predict",
    "save_workload",
]
