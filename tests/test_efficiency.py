"""ISAAC's published peak efficiency from a run: the isaac preset's filling layer (every crossbar
of the chip) at the pipelined rate, over `describe`'s chip area and peak power, against ISAAC's
Table IV (Shafiee et al., "ISAAC: A Convolutional Neural Network Accelerator with In-Situ
Analog Arithmetic in Crossbars", ISCA 2016, corrected version): 478.95 GOPs/s/mm2, 627.5 GOPs/W."""

from __future__ import annotations

import warnings

import pytest

import isaacsim
from isaacsim.report.efficiency import ISAAC_PUBLISHED, peak_efficiency


def load(name, **over):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return isaacsim.load_arch(name, over or None)


def test_isaac_reaches_its_published_peak_efficiency():
    d = peak_efficiency(load("isaac"))
    assert d["crossbars_used"] == d["crossbars"] == 16128
    # 16,128 crossbars x 128 rows x 16 weights (16-bit on 2-bit cells) per 16 reads of 100 ns
    assert d["ops_per_inference"] == 2 * 8064 * 4096 * 4
    assert d["gops_per_mm2"] == pytest.approx(ISAAC_PUBLISHED["gops_per_mm2"], rel=0.10)
    assert d["gops_per_w"] == pytest.approx(ISAAC_PUBLISHED["gops_per_w"], rel=0.10)
    assert d["run_power_w"] <= d["peak_power_w"]


def test_twin_crossbar_weights_halve_it():
    """With the TRQ presets' differential weights, the same chip holds half the weights."""
    isaac = peak_efficiency(load("isaac"))
    diff = peak_efficiency(load("isaac", **{"datapath.weight_encoding": "differential",
                                            "datapath.column_flip": False}))
    assert diff["gops_per_mm2"] == pytest.approx(isaac["gops_per_mm2"] / 2, rel=0.02)
