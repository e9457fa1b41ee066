"""Small workloads built in memory for the tests: `tiny_parts` (a residual net with a concat),
`net_parts` (every op, with calibrated multipliers), `overflow_workload` (an int32 overflow on some inputs)."""

from __future__ import annotations

import numpy as np

from isaacsim.workload import build, execute, save_workload


def fmt(bits=8, signed=False, scale=0.05, zp=0):
    """A quantized tensor format (manifest `input` / `requant` keys)."""
    return {"bits": bits, "signed": signed, "scale": scale, "zero_point": zp}


def tiny_parts(seed: int = 0, n_eval: int = 4):
    """A small residual net with a concat: (manifest dict, arrays, eval data)."""
    rng = np.random.default_rng(seed)

    def w(*shape):
        return rng.integers(-127, 128, size=shape).astype(np.int8)

    def b(n):
        return rng.integers(-2000, 2000, size=n).astype(np.int32)

    arrays = {
        "conv1.w": w(4, 2, 3, 3), "conv1.b": b(4),
        "conv2.w": w(4, 4, 3, 3), "conv2.b": b(4),
        "conv2.m": rng.integers(2**13, 2**14, size=4).astype(np.int32),
        "conv3.w": w(2, 2, 1, 1),
        "fc.w": w(5, 6), "fc.b": b(5),
    }
    graph = [
        {"name": "conv1", "op": "conv2d", "inputs": ["input"], "weight": "conv1.w", "bias": "conv1.b",
         "out_channels": 4, "kernel": 3, "padding": 1, "weight_scale": 0.01,
         "requant": {**fmt(), "multiplier": 11000, "shift": 22}, "activation": "relu"},
        {"name": "pool1", "op": "maxpool", "inputs": ["conv1"], "kernel": 2},
        {"name": "conv2", "op": "conv2d", "inputs": ["pool1"], "weight": "conv2.w", "bias": "conv2.b",
         "out_channels": 4, "kernel": [3, 3], "padding": 1, "weight_scale": [0.01, 0.02, 0.01, 0.03],
         "requant": {**fmt(scale=0.04), "multiplier": "conv2.m", "shift": 23}, "activation": "relu"},
        {"name": "res", "op": "add", "inputs": ["pool1", "conv2"],
         "requant": {**fmt(scale=0.06), "multipliers": [700, 900], "shift": 10}, "activation": "relu"},
        {"name": "conv3", "op": "conv2d", "inputs": ["res"], "weight": "conv3.w", "out_channels": 2,
         "kernel": 1, "groups": 2, "requant": {**fmt(signed=True), "multiplier": 3000, "shift": 14}},
        {"name": "relu3", "op": "relu", "inputs": ["conv3"]},
        {"name": "cat", "op": "concat", "inputs": ["res", "relu3"],
         "requant": {**fmt(scale=0.07, zp=2), "multipliers": [1, 3], "shift": 1}},
        {"name": "avg", "op": "avgpool", "inputs": ["cat"], "kernel": 3, "stride": 1, "padding": 1},
        {"name": "gap", "op": "global_avgpool", "inputs": ["avg"]},
        {"name": "flat", "op": "flatten", "inputs": ["gap"]},
        {"name": "fc", "op": "linear", "inputs": ["flat"], "weight": "fc.w", "bias": "fc.b", "out_features": 5,
         "requant": {**fmt(signed=True, scale=0.1), "multiplier": 5000, "shift": 16}},
    ]
    manifest = {"format_version": 1, "name": "tiny", "input": {"shape": [2, 6, 6], **fmt(scale=1 / 255, zp=3)},
                "graph": graph}
    x = rng.integers(0, 256, size=(n_eval, 2, 6, 6)).astype(np.uint8)
    y = rng.integers(0, 5, size=n_eval).astype(np.int64)
    return manifest, arrays, (x, y)


def net_parts(seed: int = 0, n_eval: int = 12):
    """A net with a strided padded conv (2 row x 2 column crossbar partitions), a grouped conv, a
    residual add, max-pool, a 1x1 conv, concat, avg-pool and a linear layer; multipliers are set
    layer by layer so activations spread over the code range. (manifest, arrays, (x, y))."""
    rng = np.random.default_rng(seed)

    def w(*shape):
        return rng.integers(-127, 128, size=shape).astype(np.int8)

    arrays = {
        "c1.w": w(20, 16, 3, 3), "c1.b": rng.integers(-3000, 3000, 20).astype(np.int32),
        "c2.w": w(20, 5, 3, 3), "c3.w": w(6, 20, 1, 1), "fc.w": w(10, 26),
        "fc.b": rng.integers(-500, 500, 10).astype(np.int32),
    }
    mult = {"c1": 1, "c2": 1, "c3": 1, "fc": 1}
    shift = 20

    def graph():
        rq = {"c1": {**fmt(), "multiplier": mult["c1"], "shift": shift},
              "c2": {**fmt(), "multiplier": mult["c2"], "shift": shift},
              "c3": {**fmt(), "multiplier": mult["c3"], "shift": shift},
              "fc": {**fmt(signed=True), "multiplier": mult["fc"], "shift": shift}}
        return [
            {"name": "c1", "op": "conv2d", "inputs": ["input"], "weight": "c1.w", "bias": "c1.b",
             "out_channels": 20, "kernel": 3, "stride": 2, "padding": 1, "requant": rq["c1"], "activation": "relu"},
            {"name": "c2", "op": "conv2d", "inputs": ["c1"], "weight": "c2.w", "out_channels": 20, "kernel": 3,
             "padding": 1, "groups": 4, "requant": rq["c2"], "activation": "relu"},
            {"name": "res", "op": "add", "inputs": ["c1", "c2"],
             "requant": {**fmt(), "multipliers": [1, 1], "shift": 1}, "activation": "relu"},
            {"name": "pool", "op": "maxpool", "inputs": ["res"], "kernel": 2},
            {"name": "c3", "op": "conv2d", "inputs": ["pool"], "weight": "c3.w", "out_channels": 6, "kernel": 1,
             "requant": rq["c3"], "activation": "relu"},
            {"name": "cat", "op": "concat", "inputs": ["pool", "c3"],
             "requant": {**fmt(), "multipliers": [1, 1], "shift": 0}},
            {"name": "avg", "op": "avgpool", "inputs": ["cat"], "kernel": 2},
            {"name": "flat", "op": "flatten", "inputs": ["avg"]},
            {"name": "fc", "op": "linear", "inputs": ["flat"], "weight": "fc.w", "bias": "fc.b",
             "out_features": 10, "requant": rq["fc"]},
        ]

    x = rng.integers(0, 256, size=(n_eval, 16, 8, 8)).astype(np.uint8)
    for name in ("c1", "c2", "c3", "fc"):  # calibrate each layer's multiplier on its own accumulators
        manifest = {"format_version": 1, "name": "net", "input": {"shape": [16, 8, 8], **fmt(scale=1 / 255)},
                    "graph": graph()}
        seen = []

        def mm(node, x2d, w2d, name=name, seen=seen):
            y = x2d.astype(np.int64) @ w2d.astype(np.int64)
            if node == name:
                seen.append(y)
            return y

        execute(build(manifest, arrays), x, matmul=mm)
        std = float(np.concatenate([s.ravel() for s in seen]).std())
        mult[name] = max(1, round(2**shift * 50 / max(std, 1.0)))
    manifest = {"format_version": 1, "name": "net", "input": {"shape": [16, 8, 8], **fmt(scale=1 / 255)},
                "graph": graph()}
    y = execute(build(manifest, arrays), x).argmax(axis=1)
    y[::3] = (y[::3] + 1) % 10  # labels that the reference gets two thirds right
    return manifest, arrays, (x, y)


def overflow_workload(path):
    """Linear 1 -> 2 whose accumulator + bias overflows int32 only for inputs above 100;
    the first four eval samples are small, the rest large."""
    manifest = {"format_version": 1, "name": "ovf", "input": {"shape": [1], **fmt()},
                "graph": [{"name": "fc", "op": "linear", "inputs": ["input"], "weight": "fc.w", "bias": "fc.b",
                           "out_features": 2, "requant": {**fmt(signed=True), "multiplier": 1, "shift": 30}}]}
    arrays = {"fc.w": np.array([[127], [1]], np.int8), "fc.b": np.array([2**31 - 1 - 127 * 100, 0], np.int32)}
    x = np.array([[0], [50], [100], [10], [200], [255], [1], [2]], np.uint8)
    return save_workload(manifest, path, arrays=arrays, eval=(x, np.zeros(8, np.int64)))
