"""Inter-layer dependencies and input buffers of the network pipeline (docs/timing.md, "As
implemented": producers through non-crossbar nodes, output path, buffers).

`connect_layers` gives every conv2d/linear layer its input edges: for each producer layer,
found by walking back through relu, pools, flatten, add and concat, an `Edge` with the last
producer output each consumer window needs, the consumer window whose end frees buffer room for
each producer output (the consumer's input buffer, `tile.edram_kb` of its first tile, is a ring
of input pixels freed in order), and what one output moves to the consumer's tiles (the
pipeline reserves the tile bus, routers and eDRAM ports for it, `isaacsim.timing.resources`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import simpy

from isaacsim.config.models import Arch
from isaacsim.mapping.placement import LayerPlacement
from isaacsim.timing.stages import Stages
from isaacsim.timing.state import LayerState, Series


@dataclass
class Edge:
    """Producer layer -> consumer layer through a chain of non-crossbar nodes."""

    src: str
    dst: str
    need: np.ndarray
    """(consumer windows,): the last producer output the consumer's window n needs."""
    gate: np.ndarray
    """(producer outputs,): consumer window whose end frees room for output p (-1: none)."""
    bits_per_output: int
    dst_tiles: tuple[int, ...]
    """Every tile of the consumer: each keeps the consumer's inputs in its eDRAM."""
    arrival: Series | None = None
    last: int = 0


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


class _Wiring:
    """Builds the edges of one network (see `connect_layers`)."""

    def __init__(self, wl, layers: dict[str, LayerState], stages: Stages, arch: Arch, env: simpy.Environment):
        self.wl, self.layers, self.stages, self.env = wl, layers, stages, env
        self.bits = stages.input_bits
        """Bits of an activation element for a layer that gives none (`LayerShape.input_bits`)."""
        self.edram = arch.tile.edram_kb * 1024
        self.memo: dict = {}
        self.notes: list[str] = []

    def consumer(self, L: LayerState) -> None:
        """L's input buffer and edges from its producers."""
        x = L.node.inputs[0]
        n_in = pixels(self.wl.shapes[x])
        req, last = window_needs(L.lp, n_in)
        cap = self._capacity(L, self.wl.shapes[x][0] * Fraction(self._elem_bits(L), 8), n_in, req, last)
        for src, (idx, _ops) in producer_deps(self.wl, x, self.memo).items():
            S = self.layers[src]
            e = self._edge(S, L, idx, req, buffer_gate(idx, S.lp.layer.n_vectors, last, cap, n_in))
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

    def _elem_bits(self, L: LayerState) -> int:
        """Bits of one element of L's input tensor, as its eDRAM stores it."""
        return L.lp.layer.input_bits or self.bits

    def _edge(self, S: LayerState, L: LayerState, idx: np.ndarray, req: np.ndarray, gate: np.ndarray) -> Edge:
        bits = S.lp.layer.out_channels * self._elem_bits(L)
        return Edge(S.name, L.name, idx[req], gate, bits, L.lp.tiles, Series(self.env, S.lp.layer.n_vectors))


def connect_layers(wl, layers: dict[str, LayerState], stages: Stages, arch: Arch, env: simpy.Environment) -> list[str]:
    """Set every layer's input edges, in `layers`' order (producers first);
    returns the notes (input buffers taken larger than `tile.edram_kb`)."""
    wiring = _Wiring(wl, layers, stages, arch, env)
    for L in layers.values():
        wiring.consumer(L)
    return wiring.notes
