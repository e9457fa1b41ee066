"""Inter-layer dependencies and input buffers of the network pipeline (docs/timing.md, "As
implemented": producers through non-crossbar nodes, output path, buffers).

`connect_layers` gives every conv2d/linear layer its input edges: for each producer layer,
found by walking back through relu, pools, flatten, add and concat, an `Edge` with the last
producer output each consumer window needs, the consumer window whose end frees buffer room for
each producer output (the consumer's input buffer, `tile.edram_kb` of its first tile, is a ring
of input pixels freed in order), and the output path's latency and link occupancy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import simpy

from isaacsim.config.models import Arch
from isaacsim.mapping.noc import router_hops
from isaacsim.mapping.placement import LayerPlacement
from isaacsim.timing.stages import Stages
from isaacsim.timing.state import LayerState, Series, stage_cycles

_POOLS = frozenset({"maxpool", "avgpool", "global_avgpool"})


@dataclass
class Edge:
    """Producer layer -> consumer layer through a chain of non-crossbar nodes."""

    src: str
    dst: str
    need: np.ndarray
    """(consumer windows,): the last producer output the consumer's window n needs."""
    gate: np.ndarray
    """(producer outputs,): consumer window whose end frees room for output p (-1: none)."""
    latency: int
    occupancy: int
    bytes_per_output: int
    same_tile: bool
    arrival: Series | None = None
    last: int = 0
    pools: bool = False
    """The output path runs a pooling op on the NFU."""


def pixels(shape: tuple[int, ...]) -> int:
    """Pixels of a (C, H, W) tensor; 1 for a vector."""
    return shape[1] * shape[2] if len(shape) == 3 else 1


def _pool_index(shape_in, shape_out, k, s, p) -> np.ndarray:
    """For each output pixel of a pool, the last input pixel (row-major) its window needs."""
    _, h, w = shape_in
    _, ho, wo = shape_out
    r = np.clip(np.arange(ho) * s[0] - p[0] + k[0] - 1, 0, h - 1)
    c = np.clip(np.arange(wo) * s[1] - p[1] + k[1] - 1, 0, w - 1)
    return (r[:, None] * w + c[None, :]).ravel()


def _pair(v) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _through(wl, node, name: str, inp: str, idx: np.ndarray, n_out: int) -> np.ndarray:
    """`idx` (per pixel of `inp`, the last producer output it needs) carried through `node`."""
    if node.op in ("maxpool", "avgpool"):
        k = _pair(node.kernel)
        s = _pair(node.stride) if node.stride is not None else k
        return idx[_pool_index(wl.shapes[inp], wl.shapes[name], k, s, _pair(node.padding))]
    if n_out != len(idx):  # global_avgpool, flatten, a 1-D concat: everything
        return np.full(n_out, idx.max(), np.int64)
    return idx


def producer_deps(wl, name: str, memo: dict) -> dict[str, tuple[np.ndarray, frozenset]]:
    """{producer layer: (for each pixel of `name`'s output, the last producer output it needs,
    the non-crossbar ops on the way)}; the network input needs nothing (ready at cycle 0)."""
    if name in memo:
        return memo[name]
    if name == "input":
        memo[name] = {}
        return memo[name]
    node = wl.node(name)
    n_out = pixels(wl.shapes[name])
    if node.op in ("conv2d", "linear"):
        memo[name] = {name: (np.arange(n_out, dtype=np.int64), frozenset())}
        return memo[name]
    out: dict[str, tuple[np.ndarray, frozenset]] = {}
    for inp in node.inputs:
        for src, (idx, ops) in producer_deps(wl, inp, memo).items():
            idx = _through(wl, node, name, inp, idx, n_out)
            ops = ops | {node.op}
            if src in out:  # a join: the latest of its inputs
                idx, ops = np.maximum(out[src][0], idx), out[src][1] | ops
            out[src] = (np.maximum.accumulate(idx), ops)
    memo[name] = out
    return out


def window_needs(lp: LayerPlacement, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """(req, lastwin): the last input pixel window n needs; the last window that may need input
    pixel q, made non-decreasing (pixels are freed in order)."""
    ly = lp.layer
    if ly.kind == "linear" or n_in == 1:
        return np.full(ly.n_vectors, n_in - 1, np.int64), np.zeros(n_in, np.int64)
    (h, w), (ho, wo) = ly.input_hw, ly.output_hw
    k, s, p, d = ly.kernel, ly.stride, ly.padding, ly.dilation
    r = np.clip(np.arange(ho) * s[0] - p[0] + (k[0] - 1) * d[0], 0, h - 1)
    c = np.clip(np.arange(wo) * s[1] - p[1] + (k[1] - 1) * d[1], 0, w - 1)
    req = (r[:, None] * w + c[None, :]).ravel()
    oh = np.minimum(ho - 1, (np.arange(h) + p[0]) // s[0])
    ow = np.minimum(wo - 1, (np.arange(w) + p[1]) // s[1])
    last = np.maximum.accumulate((oh[:, None] * wo + ow[None, :]).ravel())
    return req, last


def buffer_gate(need_px: np.ndarray, n_src: int, last: np.ndarray, cap: int, n_in: int) -> np.ndarray:
    """(producer outputs,): the consumer window whose end frees room for producer output p, -1
    when none must end. `need_px`: per consumer input pixel (of `n_in`), the last producer output
    it needs; `last`: per input pixel, the last consumer window that may need it; `cap`: the
    buffer in pixels. Output p waits for the pixel `cap` places before the first one needing it."""
    qfirst = np.searchsorted(need_px, np.arange(n_src), side="left")
    gate = np.full(len(qfirst), -1, np.int64)
    ok = (qfirst < n_in) & (qfirst - cap >= 0)
    gate[ok] = last[qfirst[ok] - cap]
    return gate


def transfer(stages: Stages, nbytes: int, hops: int) -> tuple[int, int]:
    """(latency, occupancy) of moving `nbytes` over the tile bus (hops 0) or `hops` router hops."""
    st = stages["tile_bus"] if hops == 0 else stages["noc_link"]
    occ = math.ceil(Fraction(nbytes) / st.rate)
    return (st.latency_cycles if hops == 0 else hops * st.latency_cycles) + occ, occ


def _tail(L: LayerState, stages: Stages) -> int:
    """Output path latency of L's outputs before the NFU: tile S+A merge and activation."""
    merge = stage_cycles(stages, "tile_shift_add") if L.lp.crossbars_per_copy > L.lp.crossbars_per_pe else 0
    return merge + (stage_cycles(stages, "sigmoid") if getattr(L.node, "activation", None) else 0)


def _nfu_cycles(stages: Stages, ops: frozenset) -> int:
    """NFU latency of a chain of non-crossbar ops: activation (relu, add) and pooling."""
    nfu = stage_cycles(stages, "sigmoid") if ("relu" in ops or "add" in ops) else 0
    return nfu + (stage_cycles(stages, "maxpool") if ops & _POOLS else 0)


class _Wiring:
    """Builds the edges of one network (see `connect_layers`)."""

    def __init__(self, wl, layers: dict[str, LayerState], stages: Stages, arch: Arch, env: simpy.Environment):
        self.wl, self.layers, self.stages, self.env = wl, layers, stages, env
        self.byte = Fraction(stages.input_bits, 8)
        self.tiles_per_router = arch.chip.tiles_per_router
        self.edram = arch.tile.edram_kb * 1024
        self.memo: dict = {}
        self.notes: list[str] = []

    def consumer(self, L: LayerState) -> None:
        """L's tail, input buffer and edges from its producers."""
        L.tail = _tail(L, self.stages)
        x = L.node.inputs[0]
        n_in = pixels(self.wl.shapes[x])
        req, last = window_needs(L.lp, n_in)
        cap = self._capacity(L, self.wl.shapes[x][0] * self.byte, n_in, req, last)
        for src, (idx, ops) in producer_deps(self.wl, x, self.memo).items():
            S = self.layers[src]
            e = self._edge(S, L, idx, ops, req, buffer_gate(idx, S.lp.layer.n_vectors, last, cap, n_in))
            L.inputs.append(e)
            S.outputs.append(e)

    def _capacity(self, L: LayerState, px_bytes: Fraction, n_in: int, req: np.ndarray, last: np.ndarray) -> int:
        """L's input buffer in pixels (one pixel: its channels), at least one window's span."""
        cap = int(self.edram // px_bytes) if px_bytes else n_in
        firstq = np.searchsorted(last, np.arange(L.lp.layer.n_vectors), side="left")
        mincap = int((req - firstq + 1).max())
        if cap < mincap:
            self.notes.append(f"layer {L.name!r}: tile.edram_kb holds {cap} input pixels, fewer than a window needs "
                              f"({mincap}); the buffer is taken as {mincap} pixels")
            cap = mincap
        return cap

    def _edge(self, S: LayerState, L: LayerState, idx: np.ndarray, ops: frozenset, req: np.ndarray,
              gate: np.ndarray) -> Edge:
        hops = router_hops(S.lp.tiles[-1], L.lp.tiles[0], self.tiles_per_router)
        nbytes = math.ceil(S.lp.layer.out_channels * self.byte)
        lat, occ = transfer(self.stages, nbytes, hops)
        return Edge(S.name, L.name, idx[req], gate, S.tail + _nfu_cycles(self.stages, ops) + lat, occ, nbytes,
                    hops == 0, Series(self.env, S.lp.layer.n_vectors), pools=bool(ops & _POOLS))


def connect_layers(wl, layers: dict[str, LayerState], stages: Stages, arch: Arch, env: simpy.Environment) -> list[str]:
    """Set every layer's output path tail and input edges, in `layers`' order (producers first);
    returns the notes (input buffers taken larger than `tile.edram_kb`)."""
    wiring = _Wiring(wl, layers, stages, arch, env)
    for L in layers.values():
        wiring.consumer(L)
    return wiring.notes
