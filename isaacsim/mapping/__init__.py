"""Mapping: layers -> crossbars, PEs and tiles (bit slicing, partitioning, placement)."""

from isaacsim.mapping.geometry import MatrixGeometry
from isaacsim.mapping.im2col import conv_output_hw, conv_weight_matrix, fold_output, im2col
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
    "conv_output_hw",
    "conv_weight_matrix",
    "fold_output",
    "im2col",
    "place_network",
    "replication_targets",
]
