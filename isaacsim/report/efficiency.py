"""Peak computational and power efficiency of an arch, measured by running a layer that fills
every crossbar of the chip (`isaacsim.mapping.probe.filling_layer`), against ISAAC's published
figures (docs/energy.md, "Peak efficiency").

Op counting, as ISAAC's: one multiply-accumulate of a weight by an input is 2 operations (a
multiply and an add), at the arch's weight and input width (16-bit on ISAAC). Throughput is the
pipelined rate, inferences per second = clock / the layer's occupancy (the crossbars' pace
once the pipeline is full: ISAAC's peak assumes every IMA busy every cycle); area and peak power
are `describe`'s chip totals (every unit at full rate), and `run_power_w` is the run's energy
per inference at that rate.
"""

from __future__ import annotations

import warnings

from isaacsim.energy.peak import peak_summary
from isaacsim.mapping.probe import filling_layer
from isaacsim.pipeline import simulate

ISAAC_PUBLISHED = {"gops_per_mm2": 478.95, "gops_per_w": 627.5}
"""ISAAC-CE's peak computational efficiency (GOPs/s/mm2) and power efficiency (GOPs/W):
Shafiee et al., "ISAAC: A Convolutional Neural Network Accelerator with In-Situ Analog
Arithmetic in Crossbars", ISCA 2016, Table IV (the version of October 5th 2016, which corrects
some ISAAC-PE and ISAAC-SE results), "HyperTransport overhead is included"."""


def peak_efficiency(arch) -> dict:
    """The filling layer's operations per second per mm2 and per W (module docstring)."""
    wl, chip = filling_layer(arch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = simulate(arch, wl, timing_only=True)
    macs = sum(lp.layer.groups * lp.geometry.k * lp.geometry.m * lp.layer.n_vectors for lp in res.mapping.layers)
    ops = 2 * macs
    t = res.timing
    per_s = t.throughput_ips
    peak = peak_summary(arch)
    gops = ops * per_s / 1e9
    run_power = res.energy.energy_j * per_s
    return {"arch": arch.name, "weight_encoding": arch.datapath.weight_encoding,
            "column_flip": arch.datapath.column_flip, "crossbars": chip,
            "crossbars_used": res.mapping.crossbars_used, "ops_per_inference": ops,
            "interval_cycles": t.occupancy_cycles, "latency_cycles": t.latency_cycles, "gops": gops,
            "area_mm2": peak.chip_area_mm2, "peak_power_w": peak.chip_power_w, "run_power_w": run_power,
            "gops_per_mm2": gops / peak.chip_area_mm2, "gops_per_w": gops / peak.chip_power_w,
            "gops_per_w_run": gops / run_power if run_power else None}


__all__ = ["ISAAC_PUBLISHED", "peak_efficiency"]
