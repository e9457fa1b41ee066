"""Place a network's layers onto the chip's crossbars, PEs and tiles, with optional replication.

Policy (docs/mapping.md has the worked example):
- One copy of a layer needs `groups x MatrixGeometry.crossbars` crossbars.
- Layers never share a crossbar, and every layer starts on a fresh PE, so one PE's ADC pool
  and S+A units serve exactly one layer (the timing model relies on this). Layers may share a
  tile. PEs are filled in order (global PE p = tile * pes_per_tile + pe), layers in network
  order; a layer's copies are packed back to back on its PEs.
- Inside a copy, crossbar t is numbered (group, col_part, row_part, polarity) with polarity
  fastest: the twins of a differential pair are adjacent, then the row partitions that are
  summed into the same outputs, so both tend to share a PE.
- Capacity: a layer with C crossbars in all (copies included) takes ceil(C / pe.crossbars) PEs;
  the network needs ceil(total PEs / tile.pes) tiles. If that exceeds `chip.tiles`, the chip
  grows to it when `chip.auto_tiles` is true, and `MappingError` is raised otherwise.
- Replication (`mapping.replication: balance`, ISAAC's pipeline balancing): layer i wants
  copies c_i = min(max_replication, ceil(n_i / n_min)), n_i its input vectors per inference and
  n_min the fewest of any layer, so no copy has more vectors to process than the slowest-fed
  layer. With auto_tiles the chip grows to hold the wanted copies; otherwise, if they do not
  fit, every layer gets max(1, floor(f * c_i)) copies with the largest f in (0, 1] that fits
  (exact rational search). One copy of every layer must fit (or the chip must grow).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from isaacsim.adc.registers import ADCRegisters
from isaacsim.config.models import Arch
from isaacsim.errors import ConfigError, MappingError
from isaacsim.mapping.geometry import MatrixGeometry
from isaacsim.mapping.layers import LayerShape


@dataclass(frozen=True)
class LayerPlacement:
    """Where one layer's crossbars sit: `copies` copies on PEs first_pe .. first_pe + n_pes - 1."""

    layer: LayerShape
    geometry: MatrixGeometry
    copies: int
    crossbars_per_copy: int
    first_pe: int
    """Global PE index (tile * pes_per_tile + pe) of the layer's first PE."""
    n_pes: int
    pes_per_tile: int
    crossbars_per_pe: int
    adc: ADCRegisters
    """The layer's ADC / S+A config registers (TRQ or uniform), loaded when the layer runs."""

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def crossbars(self) -> int:
        """Crossbars used by all copies."""
        return self.copies * self.crossbars_per_copy

    @property
    def pes(self) -> tuple[tuple[int, int], ...]:
        """(tile, pe) of every PE the layer occupies, in order."""
        p = self.pes_per_tile
        return tuple(divmod(g, p) for g in range(self.first_pe, self.first_pe + self.n_pes))

    @property
    def tiles(self) -> tuple[int, ...]:
        """Tiles the layer occupies (possibly shared with neighbouring layers, never a PE)."""
        p = self.pes_per_tile
        return tuple(range(self.first_pe // p, (self.first_pe + self.n_pes - 1) // p + 1))

    @property
    def cell_utilisation(self) -> float:
        """Fraction of the layer's allocated crossbar cells holding a weight slice (geometry)."""
        return self.geometry.cell_utilisation

    @property
    def vectors_per_copy(self) -> int:
        """Input vectors the busiest copy processes per inference (vectors split over copies)."""
        return math.ceil(self.layer.n_vectors / self.copies)

    def crossbar_index(self, copy: int = 0, group: int = 0, row_part: int = 0, col_part: int = 0,
                       polarity: int = 0) -> int:
        """Index of a crossbar within the layer, 0 .. crossbars - 1."""
        g = self.geometry
        for v, n, what in ((copy, self.copies, "copy"), (group, self.layer.groups, "group"),
                           (row_part, g.row_parts, "row_part"), (col_part, g.col_parts, "col_part"),
                           (polarity, g.polarities, "polarity")):
            if not 0 <= v < n:
                raise IndexError(f"layer {self.name!r}: {what}={v} out of range 0..{n - 1}")
        t = (copy * self.layer.groups + group) * g.col_parts + col_part
        return (t * g.row_parts + row_part) * g.polarities + polarity

    def address(self, index: int) -> tuple[int, int, int]:
        """(tile, pe, slot) of the layer's crossbar number `index`."""
        if not 0 <= index < self.crossbars:
            raise IndexError(f"layer {self.name!r}: crossbar {index} out of range 0..{self.crossbars - 1}")
        pe_global, slot = divmod(index, self.crossbars_per_pe)
        tile, pe = divmod(self.first_pe + pe_global, self.pes_per_tile)
        return tile, pe, slot

    def crossbar_address(self, copy: int = 0, group: int = 0, row_part: int = 0, col_part: int = 0,
                         polarity: int = 0) -> tuple[int, int, int]:
        """(tile, pe, slot) of one crossbar named by its copy, group, partitions and polarity."""
        return self.address(self.crossbar_index(copy, group, row_part, col_part, polarity))

    def addresses(self) -> np.ndarray:
        """(crossbars, 3) int64 array of (tile, pe, slot), row i for crossbar index i."""
        idx = np.arange(self.crossbars, dtype=np.int64)
        pe_global = self.first_pe + idx // self.crossbars_per_pe
        return np.stack([pe_global // self.pes_per_tile, pe_global % self.pes_per_tile,
                         idx % self.crossbars_per_pe], axis=1)

    def summary(self) -> dict:
        g = self.geometry
        return {
            "layer": self.name,
            "kind": self.layer.kind,
            "matrix": [g.k, g.m],
            "groups": self.layer.groups,
            "vectors": self.layer.n_vectors,
            "weight_bits": g.weight_bits,
            "input_bits": g.input_bits,
            "input_signed": g.input_signed,
            "slices": g.n_slices,
            "input_cycles": g.input_cycles,
            "polarities": g.polarities,
            "row_parts": g.row_parts,
            "col_parts": g.col_parts,
            "crossbars_per_copy": self.crossbars_per_copy,
            "adc": self.adc.to_dict(),
            "copies": self.copies,
            "crossbars": self.crossbars,
            "pes": self.n_pes,
            "tiles": len(self.tiles),
            "first_tile": self.tiles[0],
            "last_tile": self.tiles[-1],
            "cell_utilisation": g.cell_utilisation,
        }


@dataclass(frozen=True)
class NetworkMapping:
    """A whole network placed on the chip; `tiles` is the chip size after any auto growth."""

    layers: tuple[LayerPlacement, ...]
    tiles: int
    """Tiles on the (possibly grown) chip."""
    tiles_configured: int
    """`chip.tiles` as configured."""
    pes_per_tile: int
    crossbars_per_pe: int
    replication: str

    @property
    def grown(self) -> bool:
        return self.tiles > self.tiles_configured

    @property
    def pes_used(self) -> int:
        return sum(lp.n_pes for lp in self.layers)

    @property
    def tiles_used(self) -> int:
        return math.ceil(self.pes_used / self.pes_per_tile)

    @property
    def crossbars_used(self) -> int:
        return sum(lp.crossbars for lp in self.layers)

    @property
    def pes_available(self) -> int:
        return self.tiles * self.pes_per_tile

    @property
    def crossbars_available(self) -> int:
        return self.pes_available * self.crossbars_per_pe

    def layer(self, name: str) -> LayerPlacement:
        for lp in self.layers:
            if lp.name == name:
                return lp
        raise KeyError(f"no layer named {name!r}; layers: {', '.join(lp.name for lp in self.layers)}")

    def pe_layers(self) -> dict[tuple[int, int], str]:
        """(tile, pe) -> name of the layer on it, for every used PE."""
        return {tp: lp.name for lp in self.layers for tp in lp.pes}

    def summary(self) -> dict:
        return {
            "replication": self.replication,
            "tiles": self.tiles,
            "tiles_configured": self.tiles_configured,
            "grown": self.grown,
            "tiles_used": self.tiles_used,
            "pes_used": self.pes_used,
            "pes_available": self.pes_available,
            "crossbars_used": self.crossbars_used,
            "crossbars_available": self.crossbars_available,
            "crossbar_use": self.crossbars_used / self.crossbars_available,
            "layers": [lp.summary() for lp in self.layers],
        }


def replication_targets(layers: Sequence[LayerShape], max_replication: int) -> list[int]:
    """Wanted copies per layer: min(max_replication, ceil(n_i / n_min))."""
    n_min = min(layer.n_vectors for layer in layers)
    return [min(max_replication, -(-layer.n_vectors // n_min)) for layer in layers]


def _tiles_needed(per_copy: Sequence[int], copies: Sequence[int], xbars_per_pe: int, pes_per_tile: int) -> int:
    pes = sum(-(-(p * c) // xbars_per_pe) for p, c in zip(per_copy, copies, strict=True))
    return -(-pes // pes_per_tile)


def _shrink(wanted: list[int], fits) -> list[int]:
    """Largest f in (0, 1] with copies max(1, floor(f * c_i)) fitting; f ranges over k / c_j."""
    cands = sorted({Fraction(k, c) for c in wanted for k in range(1, c + 1)})

    def at(f: Fraction) -> list[int]:
        return [max(1, math.floor(f * c)) for c in wanted]

    # cands[0] = 1/max(c) gives all ones, which the caller has checked fits
    lo, hi = 0, len(cands) - 1
    best = at(cands[0])
    while lo <= hi:
        mid = (lo + hi) // 2
        c = at(cands[mid])
        if fits(c):
            best, lo = c, mid + 1
        else:
            hi = mid - 1
    return best


def place_network(
    layers: Sequence[LayerShape], arch: Arch, registers: Mapping[str, Any] | None = None
) -> NetworkMapping:
    """Place `layers` (network order) on `arch`'s chip under its mapping policy (module docstring).

    `registers` maps layer names to per-layer ADC config registers (ADCRegisters, ADCConfig or
    a dict such as a calibrated registers file holds); layers not named get `arch.adc`.
    """
    layers = list(layers)
    if not layers:
        raise MappingError("cannot map an empty network: no layers given")
    seen: set[str] = set()
    for layer in layers:
        if layer.name in seen:
            raise MappingError(f"layer name {layer.name!r} appears more than once; layer names must be unique")
        seen.add(layer.name)
    registers = dict(registers or {})
    unknown = sorted(set(registers) - seen)
    if unknown:
        raise ConfigError(f"registers given for unknown layer(s) {', '.join(unknown)}; "
                          f"layers: {', '.join(sorted(seen))}")
    default_regs = ADCRegisters.of(arch.adc)
    regs = [ADCRegisters.of(registers[ly.name]) if ly.name in registers else default_regs for ly in layers]
    xpp, ppt = arch.pe.crossbars, arch.tile.pes
    try:
        geoms = [layer.geometry(arch) for layer in layers]  # each at the layer's own bits
    except ValueError as e:
        raise MappingError(str(e)) from None
    per_copy = [layer.groups * g.crossbars for layer, g in zip(layers, geoms, strict=True)]
    ones = [1] * len(layers)
    configured = arch.chip.tiles

    min_tiles = _tiles_needed(per_copy, ones, xpp, ppt)
    if min_tiles > configured and not arch.chip.auto_tiles:
        raise MappingError(
            f"network needs {min_tiles} tiles ({sum(per_copy)} crossbars on "
            f"{_tiles_needed(per_copy, ones, xpp, 1)} PEs of {xpp} crossbars, {ppt} PEs per tile) "
            f"but the chip has chip.tiles={configured}; set chip.tiles: {min_tiles} or chip.auto_tiles: true"
        )
    if arch.mapping.replication == "balance":
        wanted = replication_targets(layers, arch.mapping.max_replication)
    else:
        wanted = ones
    need = _tiles_needed(per_copy, wanted, xpp, ppt)
    if arch.chip.auto_tiles:
        tiles = max(configured, need)
        copies = wanted
    else:
        tiles = configured
        if need <= tiles:
            copies = wanted
        else:
            copies = _shrink(wanted, lambda c: _tiles_needed(per_copy, c, xpp, ppt) <= tiles)

    placed = []
    pe = 0
    for layer, g, pc, c, r in zip(layers, geoms, per_copy, copies, regs, strict=True):
        n_pes = -(-(pc * c) // xpp)
        placed.append(LayerPlacement(layer, g, c, pc, pe, n_pes, ppt, xpp, r))
        pe += n_pes
    return NetworkMapping(tuple(placed), tiles, configured, ppt, xpp, arch.mapping.replication)
