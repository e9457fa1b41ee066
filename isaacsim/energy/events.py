"""Event counts per inference, per (tile, PE, layer, component, action): what the energy model prices.

`count_events(wl, mapping, arch, stats, samples)` turns one run into a tidy table of counts
(simulation only counts; a component table prices the counts afterwards, so a new
table needs no re-run). Every count is per inference: the A/D operations and TRQ decode shifts
are the functional simulation's exact per-(copy, crossbar) sums divided by the samples run;
everything else follows from the mapping and the workload graph, and is the same for every
sample. docs/energy.md states each rule; in short:

- PE, per crossbar of a copy that gets n windows (windows are dealt round-robin to copies):
  crossbar reads n x input cycles; DAC drives = reads x the crossbar's mapped rows; S+H samples
  and ADC conversions = reads x its mapped columns; A/D operations (detection comparisons
  included) from the datapath; S+A adds = conversions, TRQ decode shifts = R2 conversions;
  input-register reads = reads x rows x DAC bits / 8 bytes; output-register writes =
  conversions x psum bytes, reads = n x columns x psum bytes (one read per partial sum merged).
  Input-register writes: each window's input rows, once per PE that needs them.
- tile: each tile of a layer keeps the layer's inputs in its eDRAM, and a PE reads its windows'
  input rows from its own tile's eDRAM over that tile's bus; a copy's outputs go over the tile
  bus into the tile output register of the copy's last tile, are merged by the tile S+A when
  the copy spans several PEs, run the NFU (activation, pooling, residual add) and are sent to
  every tile of each consumer (tile bus on the same tile; router byte-hops of one multicast
  along the timing model's line of routers, `multicast_hops`), where they are written to eDRAM.
- chip: the network input and output cross HyperTransport; the input enters at the first
  layer's first tile and is sent on to that layer's other tiles.
- config registers: a TRQ layer loads one register per ADC of each of its PEs per inference.
- leakage: one row per registered unit (`components.units.UNITS`) of the tiles the run's layers
  occupy (unused tiles are power-gated) and of the chip, with action "leakage" whose count is
  unit-seconds (units x the inference time), when a time is given.

Every counted component is a registered unit: counting an unknown one is a KeyError.

Bytes of a transferred activation: its tensor's bits per element, as in the timing model.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping

import numpy as np

from isaacsim.components import UNITS
from isaacsim.config.models import Arch
from isaacsim.mapping.noc import multicast_hops, router_hops
from isaacsim.mapping.placement import LayerPlacement, NetworkMapping
from isaacsim.mapping.traffic import copy_traffic, graph_homes, nfu_work

COLUMNS = ("tile", "pe", "layer", "component", "action", "count")
"""Columns of the events table (`count_events`)."""

_Key = tuple  # (tile | None, pe | None, layer | None, component, action)


def windows_per_copy(n_windows: int, copies: int) -> np.ndarray:
    """(copies,) windows of one inference each copy processes: window n -> copy n mod copies."""
    c = np.arange(copies, dtype=np.int64)
    return np.maximum(0, (n_windows - c + copies - 1) // copies)


class _Acc:
    """Sum counts by key; a component must be a registered unit (`components.units.UNITS`)."""

    def __init__(self):
        self.d: dict[_Key, float] = defaultdict(float)

    def add(self, tile, pe, layer, component, action, count) -> None:
        if component not in UNITS:
            raise KeyError(f"counted an unknown hardware unit {component!r}; units: {', '.join(UNITS.names)}")
        if count:
            self.d[(None if tile is None else int(tile), None if pe is None else int(pe), layer,
                    component, action)] += float(count)


def _crossbar_arrays(lp: LayerPlacement):
    """Per crossbar of the layer: copy, group, row partition, mapped rows and columns."""
    g = lp.geometry
    i = np.arange(lp.crossbars, dtype=np.int64)
    copy, rem = np.divmod(i, lp.crossbars_per_copy)
    group, t = np.divmod(rem, g.crossbars)
    rp = (t // g.polarities) % g.row_parts
    cp = t // (g.polarities * g.row_parts)
    rows = np.minimum(g.xbar_rows, g.k - rp * g.xbar_rows)
    cols = np.minimum(g.xbar_cols, g.cols_per_polarity - cp * g.xbar_cols)
    return copy, group, t, rp, rows, cols


def _pe_level(acc: _Acc, lp: LayerPlacement, arch: Arch, xbar_ops: np.ndarray, xbar_r2: np.ndarray,
              n_k: np.ndarray) -> None:
    """PE components of one layer, summed per PE with bincount (input-register writes are the
    window fetches of `isaacsim.mapping.traffic`)."""
    g, name = lp.geometry, lp.name
    copy, group, t, rp, rows, cols = _crossbar_arrays(lp)
    reads = n_k[copy] * g.input_cycles
    conv = reads * cols
    psum_bytes = arch.datapath.psum_bits / 8
    pe_of = np.arange(lp.crossbars, dtype=np.int64) // lp.crossbars_per_pe
    per_xbar = {
        ("crossbar", "read"): reads,
        ("dac", "drive"): reads * rows,
        ("sh", "sample"): conv,
        ("adc", "convert"): conv,
        ("adc", "op"): xbar_ops,
        ("shift_add", "add"): conv,
        ("shift_add", "shift"): xbar_r2,
        ("input_register", "read_byte"): reads * rows * (g.dac_bits / 8),
        ("output_register", "write_byte"): conv * psum_bytes,
        ("output_register", "read_byte"): n_k[copy] * cols * psum_bytes,
    }
    sums = {k: np.bincount(pe_of, weights=np.asarray(v, np.float64), minlength=lp.n_pes)
            for k, v in per_xbar.items()}
    registers = _config_registers(lp, arch)
    for e, (tile, pe) in enumerate(lp.pes):
        for (comp, action), arr in sums.items():
            acc.add(tile, pe, name, comp, action, arr[e])
        acc.add(tile, pe, name, "trq_config", "write", registers)


def _config_registers(lp: LayerPlacement, arch: Arch) -> int:
    """Config registers a PE of the layer loads per inference: the layer's ADC kind's registers
    per ADC (TRQ: one) times the ADCs."""
    return arch.pe.adcs * lp.adc.kind.config_registers_per_adc


def _producers(wl, name: str, memo: dict) -> set[str]:
    """Crossbar layers whose outputs reach tensor `name` through non-crossbar nodes only."""
    if name in memo:
        return memo[name]
    if name == "input":
        out: set[str] = set()
    else:
        node = wl.node(name)
        crossbar = node.op in ("conv2d", "linear")
        out = {name} if crossbar else set().union(*(_producers(wl, i, memo) for i in node.inputs))
    memo[name] = out
    return out


def count_events(wl, mapping: NetworkMapping, arch: Arch, stats: Mapping[str, object], samples: int,
                 time_s: float | None = None):
    """The events table (pandas DataFrame, `COLUMNS`) of one inference (module docstring).

    stats: {layer: LayerStats} with `xbar_ad_ops` / `xbar_r2` summed over `samples` samples
    (`isaacsim.simulate`'s). time_s: the inference time leakage is charged over (None: no
    leakage rows).
    """
    import pandas as pd

    if samples < 1:
        raise ValueError(f"samples must be >= 1 to count events per inference, got {samples}")
    c = _Counter(wl, mapping, arch)
    for lp in mapping.layers:
        c.crossbar_layer(lp, stats[lp.name], samples)
    c.graph_nodes()
    c.transfers()
    c.network_output()
    if time_s is not None:
        _leakage(c.acc, mapping, arch, float(time_s))
    rows = [(*k, v) for k, v in c.acc.d.items()]
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["tile"] = df["tile"].astype("Int64")
    df["pe"] = df["pe"].astype("Int64")
    df["layer"] = df["layer"].astype("string")
    return df


class _Counter:
    """One inference's counts, path by path: crossbar layers, graph nodes, transfers, chip I/O."""

    def __init__(self, wl, mapping: NetworkMapping, arch: Arch):
        self.wl, self.mapping, self.arch = wl, mapping, arch
        self.acc = _Acc()
        self.layers = {lp.name: lp for lp in mapping.layers}
        self.out_elems = {lp.name: lp.layer.out_channels for lp in mapping.layers}
        self.copy_info: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        """{layer: (windows per copy, last tile per copy)}."""
        self.home = graph_homes(wl, mapping)

    def crossbar_layer(self, lp: LayerPlacement, st, samples: int) -> None:
        """A crossbar layer's PE units, its window inputs and its copies' outputs."""
        n_k = windows_per_copy(lp.layer.n_vectors, lp.copies)
        ops = np.asarray(st.xbar_ad_ops, np.float64).reshape(-1) / samples
        r2 = np.asarray(st.xbar_r2, np.float64).reshape(-1) / samples
        if ops.size != lp.crossbars:
            raise ValueError(f"layer {lp.name!r}: {ops.size} per-crossbar A/D counts for {lp.crossbars} crossbars")
        _pe_level(self.acc, lp, self.arch, ops, r2, n_k)
        traffic = copy_traffic(lp, self.arch.datapath.input_bits, self.arch.datapath.psum_bits)
        self.copy_info[lp.name] = (n_k, np.array([c.last_tile for c in traffic], np.int64))
        for c, tr in enumerate(traffic):
            if n_k[c]:
                self._copy(lp, int(n_k[c]), tr)

    def _copy(self, lp: LayerPlacement, n: int, tr) -> None:
        """One copy's `n` windows (`isaacsim.mapping.traffic`): input fetches, partial sums, merges."""
        add, name = self.acc.add, lp.name
        for f in tr.fetch:
            add(f.tile, None, name, "edram", "read_byte", n * f.bits / 8)
            add(f.tile, None, name, "tile_bus", "byte_hop", n * f.bits / 8)
            for e, b in zip(f.pes.tolist(), f.ir_bits, strict=True):
                tile, pe = divmod(lp.first_pe + e, lp.pes_per_tile)
                add(tile, pe, name, "input_register", "write_byte", n * b / 8)
        for p in tr.partials:
            add(p.tile, None, name, "tile_bus", "byte_hop", n * p.bus_bits / 8)
            add(p.tile, None, name, "tile_output_register", "write_byte", n * p.bus_bits / 8)
            add(p.tile, None, name, "tile_shift_add", "add", n * p.adds)
            if p.noc_bits:
                hops = router_hops(p.tile, tr.last_tile, self.arch.chip.tiles_per_router)
                add(p.tile, None, name, "router", "byte_hop", n * p.noc_bits / 8 * hops)
        add(tr.last_tile, None, name, "tile_output_register", "write_byte", n * tr.final_bits / 8)
        add(tr.last_tile, None, name, "tile_shift_add", "add", n * tr.final_adds)

    def _spread(self, layer: str, comp: str, action: str, total: float) -> None:
        """Charge `total` (per inference) to a layer's copies in proportion to their windows."""
        n_k, last_tile = self.copy_info[layer]
        tot = int(n_k.sum())
        for c in range(len(n_k)):
            if n_k[c]:
                self.acc.add(int(last_tile[c]), None, layer, comp, action, total * int(n_k[c]) / tot)

    def graph_nodes(self) -> None:
        """Activation, pooling and residual adds run on the NFU and tile adders of the layer whose
        output path holds them (`isaacsim.mapping.traffic.nfu_work`)."""
        for layer, work in nfu_work(self.wl, self.mapping).items():
            for unit, total in work.items():
                if total:
                    self._spread(layer, unit, UNITS[unit].action, total)

    def _deliver(self, src_tile: int, src: str, b: float, dst: LayerPlacement) -> None:
        """`b` bytes from `src_tile` into the eDRAM of every tile of layer `dst` (multicast)."""
        hops = multicast_hops(src_tile, dst.tiles, self.arch.chip.tiles_per_router)
        self.acc.add(src_tile, None, src, "router", "byte_hop", b * hops)
        if src_tile in dst.tiles:
            self.acc.add(src_tile, None, src, "tile_bus", "byte_hop", b)
        for d in dst.tiles:
            self.acc.add(d, None, dst.name, "edram", "write_byte", b)

    def transfers(self) -> None:
        """Producer -> consumer transfers (the timing model's edges), to every tile of the consumer;
        a layer fed by the network input gets it over HyperTransport, via its first tile."""
        memo: dict = {}
        order = list(self.layers).index
        for lp in self.mapping.layers:
            x = self.wl.node(lp.name).inputs[0]
            for src in sorted(_producers(self.wl, x, memo), key=order):
                self._from_producer(src, lp)
            if x == "input" or not _producers(self.wl, x, memo):
                b = math.prod(self.wl.shapes["input"]) * self._bytes("input")
                self._off_chip(lp.name, b)
                self._deliver(lp.tiles[0], lp.name, b, lp)

    def _from_producer(self, src: str, dst: LayerPlacement) -> None:
        n_k, last_tile = self.copy_info[src]
        for c in range(len(n_k)):
            if n_k[c]:
                elem = (dst.layer.input_bits or self.arch.datapath.input_bits) / 8
                self._deliver(int(last_tile[c]), src, int(n_k[c]) * self.out_elems[src] * elem, dst)

    def network_output(self) -> None:
        """The network output leaves over HyperTransport, charged to the layer that produces it."""
        last = self.wl.nodes[-1].name
        out_layer = self.home.get(last) or self.mapping.layers[-1].name
        self._off_chip(out_layer, math.prod(self.wl.shapes[last]) * self._bytes(last))

    def _bytes(self, tensor: str) -> float:
        """Bytes of one element of a graph tensor (its format's bits)."""
        f = self.wl.formats.get(tensor)
        return (f.bits if f is not None else self.arch.datapath.input_bits) / 8

    def _off_chip(self, layer: str, b: float) -> None:
        """Bytes across the chip edge: HyperTransport hops when the chip has links (the timing
        model moves them only then), nothing counted for a chip without any."""
        if self.arch.chip.hypertransport_links:
            self.acc.add(None, None, layer, "hypertransport", "byte_hop", b)


def leaking_tiles(mapping: NetworkMapping) -> list[int]:
    """The tiles that leak during a run: those the run's layers occupy. A tile no layer uses is
    power-gated (its units draw nothing), as an accelerator that maps a network on part of the
    chip would do; every PE of a used tile leaks, used or not."""
    return sorted({t for lp in mapping.layers for t in lp.tiles})


def _leakage(acc: _Acc, mapping: NetworkMapping, arch: Arch, time_s: float) -> None:
    """Unit-seconds of every registered unit of the tiles that leak (`leaking_tiles`) and of the
    chip; a used PE's belong to its layer."""
    units = {u.name: u.count(arch) for u in UNITS}
    pe_units, tile_units = UNITS.at("pe"), UNITS.at("tile")
    pe_layer = mapping.pe_layers()
    for tile in leaking_tiles(mapping):
        for pe in range(mapping.pes_per_tile):
            layer = pe_layer.get((tile, pe))
            for u in pe_units:
                acc.add(tile, pe, layer, u.name, "leakage", units[u.name] * time_s)
        for u in tile_units:
            acc.add(tile, None, None, u.name, "leakage", units[u.name] * time_s)
    for u in UNITS.at("chip"):
        acc.add(None, None, None, u.name, "leakage", units[u.name] * time_s)
