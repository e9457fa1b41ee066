"""Mapping: layers -> crossbars, PEs and tiles (bit slicing, partitioning, placement)."""

from isaacsim.mapping.geometry import MatrixGeometry

__all__ = ["MatrixGeometry"]
