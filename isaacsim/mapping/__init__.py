"""Mapping: layers -> crossbars, PEs and tiles (bit slicing, partitioning, placement)."""

from isaacsim.mapping.geometry import MatrixGeometry
from isaacsim.mapping.layers import LayerShape
from isaacsim.mapping.placement import (
    LayerPlacement,
    NetworkMapping,
    place_network,
    replication_targets,
)

__all__ = [
    "LayerPlacement",
    "LayerShape",
    "MatrixGeometry",
    "NetworkMapping",
    "place_network",
    "replication_targets",
]
