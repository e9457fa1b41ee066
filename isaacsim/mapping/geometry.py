"""How one integer matrix (K rows x M outputs) lands on crossbars: weight slices, polarities,
row and column partitions, input cycles, and the conversion count of the TRQ paper's Eq. 3.

The weight and input bits are the layer's own (`MatrixGeometry.of(..., weight_bits=...,
input_bits=..., input_signed=...)`); the arch's `datapath.weight_bits` / `input_bits` are the
widest the hardware supports and the default (`layer_bits_problem` says what does not fit).

This is the single source of these formulas; the kernels, placement, timing and energy
models all read them from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from isaacsim.config.models import Arch


@dataclass(frozen=True)
class MatrixGeometry:
    """Crossbar footprint of a K x M weight matrix under an architecture."""

    k: int
    """Rows of the matrix (im2col: kernel_h * kernel_w * Cin / groups)."""
    m: int
    """Logical output columns (Cout / groups)."""
    xbar_rows: int
    xbar_cols: int
    cell_bits: int
    dac_bits: int
    weight_bits: int
    input_bits: int
    input_signed: bool
    encoding: str
    column_flip: bool = False
    """ISAAC's column flip (`datapath.column_flip`): columns summing to over half their maximum are
    stored complemented (`mapping.slicing.flip_columns`)."""

    @classmethod
    def of(cls, k: int, m: int, arch: Arch, *, weight_bits: int | None = None, input_bits: int | None = None,
           input_signed: bool | None = None) -> MatrixGeometry:
        """The footprint of a k x m matrix whose layer has its own weight and input bits (None: the
        arch's `datapath.weight_bits`, `input_bits`, `input_signed`, the widest it supports).
        ValueError when the layer's bits do not fit the arch (`layer_bits_problem`)."""
        if k < 1 or m < 1:
            raise ValueError(f"matrix must be at least 1 x 1, got {k} x {m}")
        c, d = arch.crossbar, arch.datapath
        wb = d.weight_bits if weight_bits is None else weight_bits
        ib = d.input_bits if input_bits is None else input_bits
        signed = d.input_signed if input_signed is None else input_signed
        problem = layer_bits_problem(wb, ib, signed, arch)
        if problem:
            raise ValueError(problem)
        return cls(k, m, c.rows, c.cols, c.cell_bits, c.dac_bits, int(wb), int(ib), bool(signed),
                   d.weight_encoding, d.column_flip)

    @property
    def bits(self) -> dict:
        """The layer's own widths, as `MatrixGeometry.of` takes them: weight_bits, input_bits, input_signed."""
        return {"weight_bits": self.weight_bits, "input_bits": self.input_bits, "input_signed": self.input_signed}

    # ---- weights
    @property
    def stored_bits(self) -> int:
        """Bits stored per weight per polarity: Kw-1 magnitude bits (differential) or Kw (offset)."""
        return self.weight_bits - 1 if self.encoding == "differential" else self.weight_bits

    @property
    def n_slices(self) -> int:
        """Cell slices per weight per polarity, each in its own column, LSB slice first."""
        return math.ceil(self.stored_bits / self.cell_bits)

    @property
    def polarities(self) -> int:
        """2 for a differential crossbar pair (positive, negative twin), 1 for offset encoding."""
        return 2 if self.encoding == "differential" else 1

    @property
    def cols_per_polarity(self) -> int:
        """Physical columns one polarity needs: output j's slice s sits at column j*n_slices + s."""
        return self.m * self.n_slices

    @property
    def mapped_cols(self) -> int:
        """Physical bit lines used in all, both polarities; each is converted every input cycle."""
        return self.cols_per_polarity * self.polarities

    @property
    def row_parts(self) -> int:
        return math.ceil(self.k / self.xbar_rows)

    @property
    def col_parts(self) -> int:
        """Crossbar columns-partitions per polarity."""
        return math.ceil(self.cols_per_polarity / self.xbar_cols)

    @property
    def crossbars(self) -> int:
        return self.row_parts * self.col_parts * self.polarities

    @property
    def cell_utilisation(self) -> float:
        """Fraction of the allocated crossbar cells that hold a weight slice."""
        return (self.k * self.mapped_cols) / (self.crossbars * self.xbar_rows * self.xbar_cols)

    # ---- inputs
    @property
    def input_cycles(self) -> int:
        """Bit-serial cycles per input vector, RDA bits each, LSB first.

        Unsigned: ceil(Ki / RDA). Signed (two's complement): the Ki-1 magnitude bits in
        ceil((Ki-1) / RDA) cycles, then the sign bit alone in a last cycle whose result is
        subtracted. A multi-bit DAC cannot apply a chunk that mixes the negative-weight sign
        bit with positive bits, so the sign bit gets its own cycle.
        """
        if self.input_signed:
            return math.ceil((self.input_bits - 1) / self.dac_bits) + 1
        return math.ceil(self.input_bits / self.dac_bits)

    def conversions(self, n_vectors: int) -> int:
        """The TRQ paper's Eq. 3: input vectors x row partitions x mapped columns x input cycles."""
        return n_vectors * self.row_parts * self.mapped_cols * self.input_cycles

    @property
    def max_sample(self) -> int:
        """Largest bit-line sample: rows x max DAC level x max cell level; with the column flip, a
        column's cells sum to at most half their maximum, floor(rows x max cell level / 2)."""
        cells = self.xbar_rows * (2**self.cell_bits - 1)
        return (2**self.dac_bits - 1) * (cells // 2 if self.column_flip else cells)

    # ---- crossbars and ADC lanes (docs/datapath.md, "ADC operation traces")
    def crossbar_index(self, row_part: int, col_part: int, polarity: int) -> int:
        """Crossbar t of one group's matrix: (col_part, row_part, polarity), polarity fastest.

        The order of `LayerPlacement.crossbar_index` for copy 0, group 0.
        """
        return (col_part * self.row_parts + row_part) * self.polarities + polarity

    def lanes(self, adcs: int) -> int:
        """ADC lanes per crossbar: column j is converted by lane j % adcs; min(adcs, xbar_cols)."""
        if adcs < 1:
            raise ValueError(f"adcs must be >= 1, got {adcs}")
        return min(adcs, self.xbar_cols)

    def column_lanes(self, adcs: int) -> np.ndarray:
        """Where each kernel column's samples are converted: int64 (row_parts, mapped_cols) of
        t * lanes + lane, t the crossbar (`crossbar_index`), lane = (column within crossbar) % adcs.

        Kernel column q * cols_per_polarity + c (polarity q) sits in column-partition
        c // xbar_cols, at column c % xbar_cols of that crossbar.
        """
        lanes = self.lanes(adcs)
        col = np.arange(self.mapped_cols, dtype=np.int64)
        q, c = np.divmod(col, self.cols_per_polarity)
        part, j = np.divmod(c, self.xbar_cols)
        p = np.arange(self.row_parts, dtype=np.int64)[:, None]
        t = (part[None, :] * self.row_parts + p) * self.polarities + q[None, :]
        return t * lanes + (j % lanes)[None, :]



def layer_bits_problem(weight_bits: int, input_bits: int, input_signed: bool, arch: Arch) -> str | None:
    """Why a layer of these widths does not fit the arch's datapath, or None when it fits.

    The arch's `datapath.weight_bits` and `input_bits` are the widest the hardware supports:
    weights need 2 <= bits <= Kw (signed symmetric). Inputs need 1 <= bits; a signed b-bit
    input needs signed inputs (`datapath.input_signed`) and b <= Ki; an unsigned b-bit input
    needs b <= Ki on unsigned hardware and b <= Ki - 1 on signed hardware (it must fit the
    hardware's signed register as a non-negative number), and then runs as unsigned b-bit.
    """
    for v, what in ((weight_bits, "weight bits"), (input_bits, "input bits")):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            return f"{what} must be an integer, got {v!r}"
    d = arch.datapath
    if not 2 <= weight_bits <= d.weight_bits:
        return (f"{weight_bits}-bit weights do not fit the arch's datapath.weight_bits={d.weight_bits} "
                f"(the widest weights it supports; at least 2)")
    if not input_fits(input_bits, input_signed, arch):
        return (f"{'signed' if input_signed else 'unsigned'} {input_bits}-bit inputs do not fit the arch's "
                f"{input_format(arch)} inputs (datapath.input_bits, the widest it supports; datapath.input_signed)")
    return None


def input_fits(bits: int, signed: bool, arch: Arch) -> bool:
    """Whether a b-bit input (signed or not) fits the arch's inputs (`layer_bits_problem`)."""
    d = arch.datapath
    if bits < 1 or (signed and not d.input_signed):
        return False
    return bits <= d.input_bits - (1 if d.input_signed and not signed else 0)


def input_format(arch: Arch) -> str:
    """The arch's widest inputs in words: 'unsigned 8-bit'."""
    d = arch.datapath
    return f"{'signed' if d.input_signed else 'unsigned'} {d.input_bits}-bit"
