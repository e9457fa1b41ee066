"""The non-ideal datapath's settings (`Noise`) and each programmed matrix's cell conductances.

`Noise.of(arch, seed)` gathers `device.*`, `adc.offset_lsb` and `adc.noise_lsb`; when every one
is at its ideal default `Noise.ideal` is True and `isaacsim.mvm` runs the exact integer path.
`conductances` applies programming variation and stuck-at faults to the stored cell levels of
one copy of a matrix, from a generator seeded by (seed, layer key, copy) alone, so a programmed
chip keeps each copy's map across reads, samples and batches; `CopyMaps` draws them for the
kernel, and a run's `MapCache` keeps the drawn maps so that later batches reuse them (up to
`MAP_CACHE_BYTES`). docs/nonideal.md states the model.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, replace

import numpy as np

from isaacsim.config.models import Arch

MAX_SEED = 2**63 - 1
MAP_CACHE_BYTES = 1 << 28
"""The most bytes of drawn maps one `MapCache` keeps (256 MiB, float32, 4 bytes per cell): maps
beyond it are not kept, but drawn again by every call that runs their copy."""
THRESHOLDS = ("grid", "nominal")
"""Where the SAR's thresholds sit for real samples (`adc.thresholds`, docs/nonideal.md)."""


def check_seed(seed) -> int:
    """seed as an int in 0 .. 2^63 - 1; ValueError otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed must be a whole number in 0 .. 2^63 - 1, got {seed!r}")
    return int(seed)


@dataclass(frozen=True)
class Noise:
    """The non-ideality settings of one run (`Arch.device`, `adc.offset_lsb`, `adc.noise_lsb`),
    its seed, and where in the run an `mvm` call is: the matrix (`layer`, a key) and the global
    index of its first input vector (`first_vector`, so read noise differs from batch to batch)."""

    program_sigma: float = 0.0
    read_sigma: float = 0.0
    stuck_at_gmin: float = 0.0
    stuck_at_gmax: float = 0.0
    on_off_ratio: float | None = None
    offset_lsb: float = 0.0
    noise_lsb: float = 0.0
    thresholds: str = "grid"
    seed: int = 0
    layer: int = 0
    first_vector: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", check_seed(self.seed))
        if self.thresholds not in THRESHOLDS:
            raise ValueError(f"thresholds must be one of {', '.join(THRESHOLDS)}, got {self.thresholds!r}")

    @classmethod
    def of(cls, arch: Arch, seed: int = 0) -> Noise:
        d = arch.device
        return cls(d.program_sigma, d.read_sigma, d.stuck_at_gmin, d.stuck_at_gmax, d.on_off_ratio,
                   arch.adc.offset_lsb, arch.adc.noise_lsb, arch.adc.thresholds, seed)

    @property
    def ideal(self) -> bool:
        """Every setting at its ideal default: the datapath is the exact integer one."""
        return (self.program_sigma == 0 and self.read_sigma == 0 and self.stuck_at_gmin == 0
                and self.stuck_at_gmax == 0 and self.on_off_ratio is None and self.offset_lsb == 0
                and self.noise_lsb == 0)

    def for_layer(self, name: str, group: int = 0, first_vector: int = 0) -> Noise:
        """These settings for matrix (name, group) with its first input vector at `first_vector`."""
        return replace(self, layer=zlib.crc32(f"{name}/{group}".encode()), first_vector=int(first_vector))

    def settings(self) -> dict:
        """The run-level settings and seed (what a run's summary records)."""
        d = asdict(self)
        del d["layer"], d["first_vector"]
        return d

    def g_min(self, cell_bits: int) -> float:
        """G_min in on-steps: (2^cell_bits - 1) / (on_off_ratio - 1); 0 when the ratio is infinite."""
        return 0.0 if self.on_off_ratio is None else (2**cell_bits - 1) / (self.on_off_ratio - 1)

    def kernel_args(self, cell_bits: int) -> tuple:
        """`noisy.noisy_layer`'s noise_args: (read key, first vector, g_min, read_sigma, offset_lsb,
        noise_lsb, grid thresholds)."""
        return (self.read_key(), self.first_vector, self.g_min(cell_bits), self.read_sigma, self.offset_lsb,
                self.noise_lsb, self.thresholds == "grid")

    def read_key(self) -> int:
        """The uint64 stream key of the read-noise hash (seed and layer)."""
        return int(np.random.SeedSequence([self.seed, self.layer, 1]).generate_state(1, np.uint64)[0])


def levels(planes: np.ndarray) -> np.ndarray:
    """int64 (row_parts, words * 64, cols): each cell's stored level from packed planes
    (row_parts, cell_bits, words, cols) (bit r of word w is row 64 w + r)."""
    bits = (planes[:, :, :, None, :] >> np.arange(64, dtype=np.uint64)[None, None, None, :, None]) & np.uint64(1)
    p, b, w, _, c = bits.shape
    bits = bits.reshape(p, b, w * 64, c).astype(np.int64)
    return sum(bits[:, i] << i for i in range(b))


def _program(lv: np.ndarray, cell_bits: int, noise: Noise, copy: int, out: np.ndarray) -> np.ndarray:
    """Copy `copy`'s conductances from the cells' float64 levels lv into float32 out (`conductances`).
    Draws nothing that cannot change the map: no deviates without programming variation or stuck
    cells (the map is lv), no uniforms without stuck cells (they are drawn last)."""
    if not _programmed(noise):
        out[...] = lv
        return out
    seed = [noise.seed, noise.layer, 0] + ([int(copy)] if copy else [])
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(lv.shape)
    g *= noise.program_sigma
    g += 1.0
    g *= lv
    np.maximum(g, 0.0, out=g)
    if noise.stuck_at_gmin or noise.stuck_at_gmax:
        u = rng.random(lv.shape)
        g[u < noise.stuck_at_gmin] = 0.0
        g[u >= 1.0 - noise.stuck_at_gmax] = 2**cell_bits - 1
    out[...] = g
    return out


def _programmed(noise: Noise) -> bool:
    """Whether programming variation or stuck cells make a map differ from the stored levels."""
    return bool(noise.program_sigma or noise.stuck_at_gmin or noise.stuck_at_gmax)


def conductances(planes: np.ndarray, cell_bits: int, noise: Noise, copy: int = 0) -> np.ndarray:
    """float32 (row_parts, words * 64, cols) conductances in on-steps of copy `copy` of the stored
    cells: level x (1 + program_sigma x N(0, 1)), clipped at 0; a cell stuck at G_min is 0 and one
    stuck at G_max is 2^cell_bits - 1 (G_min itself is added per driven row by the kernel).

    Each copy of a replicated layer is programmed on its own: copy 0 draws from a generator seeded
    by (seed, layer, 0), copy c > 0 from one seeded by (seed, layer, 0, c). The same matrix and
    copy get the same map on every call."""
    if isinstance(copy, bool) or not isinstance(copy, (int, np.integer)) or copy < 0:
        raise ValueError(f"copy must be a whole number >= 0, got {copy!r}")
    lv = levels(planes).astype(np.float64)
    return _program(lv, cell_bits, noise, int(copy), np.empty(lv.shape, np.float32))


class MapCache:
    """The programmed maps of one run, kept across its `mvm` calls (its batches, and both halves
    of a traced batch): each (matrix, copy) map is drawn once, by the first `CopyMaps.draw` that
    needs it, and later calls read the kept copy. A map is a pure function of the stored planes,
    cell_bits, the seed, the layer key, the copy, program_sigma and the stuck-at fractions, which
    (with the planes array itself, held here so its identity stays valid) form the key, so results
    are the same with or without the cache. At most `budget` bytes (default `MAP_CACHE_BYTES`) are
    kept: the first maps that fit stay, later ones are drawn on every call. Shared maps (no
    programming variation, no stuck cells) are never kept: nothing is drawn for them."""

    def __init__(self, budget: int | None = None) -> None:
        self.budget = MAP_CACHE_BYTES if budget is None else int(budget)
        self.nbytes = 0
        self._maps: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._maps)

    @staticmethod
    def key(planes: np.ndarray, cell_bits: int, noise: Noise, copy: int) -> tuple:
        """What a map depends on: the planes (by identity), cell_bits and the drawing settings."""
        return (id(planes), int(cell_bits), noise.seed, noise.layer, int(copy), noise.program_sigma,
                noise.stuck_at_gmin, noise.stuck_at_gmax)

    def get(self, planes: np.ndarray, key: tuple) -> np.ndarray | None:
        """The kept map under key, or None."""
        hit = self._maps.get(key)
        return hit[1] if hit is not None and hit[0] is planes else None

    def put(self, planes: np.ndarray, key: tuple, g: np.ndarray) -> None:
        """Keep a copy of map g under key when it fits the budget."""
        if key not in self._maps and self.nbytes + g.nbytes <= self.budget:
            self._maps[key] = (planes, g.copy())
            self.nbytes += g.nbytes


@dataclass(frozen=True, eq=False)
class CopyMaps:
    """The programmed maps of a matrix's copies, drawn when the kernel asks for them
    (`isaacsim.kernels.noisy.noisy_layer`): `draw(copies)` stacks `conductances` of each, read
    from `cache` (a run's `MapCache`, or None) where it holds them."""

    planes: np.ndarray
    cell_bits: int
    noise: Noise
    cache: MapCache | None = None

    @property
    def shared(self) -> bool:
        """Every copy's map is the same, the stored levels (no programming variation, no stuck
        cells): the kernel draws one map for all copies."""
        return not _programmed(self.noise)

    @property
    def copy_bytes(self) -> int:
        """Bytes of one copy's float32 map."""
        p, _, w, c = self.planes.shape
        return 4 * p * w * 64 * c

    def draw(self, copies) -> np.ndarray:
        """float32 (len(copies), row_parts, words * 64, cols): the maps of these copies."""
        p, _, w, c = self.planes.shape
        cache = None if self.shared else self.cache
        if cache is not None and len(copies) == 1:  # one kept map: the kernel reads it in place
            hit = cache.get(self.planes, MapCache.key(self.planes, self.cell_bits, self.noise, copies[0]))
            if hit is not None:
                return hit[None]
        out = np.empty((len(copies), p, w * 64, c), np.float32)
        lv = None
        for i, cp in enumerate(copies):
            key = None if cache is None else MapCache.key(self.planes, self.cell_bits, self.noise, cp)
            hit = None if cache is None else cache.get(self.planes, key)
            if hit is not None:
                out[i] = hit
                continue
            if lv is None:
                lv = levels(self.planes).astype(np.float64)
            _program(lv, self.cell_bits, self.noise, int(cp), out[i])
            if cache is not None:
                cache.put(self.planes, key, out[i])
        return out


__all__ = ["MAP_CACHE_BYTES", "CopyMaps", "MapCache", "Noise", "check_seed", "conductances", "levels"]
