"""Functional model: runs a mapped workload through the datapath; produces outputs and traces."""
