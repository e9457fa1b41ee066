"""Functional model: runs a mapped workload through the datapath; returns outputs, counts and traces.

`mvm` (one product through the crossbar datapath), `inputs` (format checks, samples, batch size),
`batches` (the batch loop through the simulated and the reference executor), `stats`
(`LayerStats`, the per-layer counts). Timing, energy and the whole run are the pipeline's
(`isaacsim.pipeline`); nothing here imports them.
"""
