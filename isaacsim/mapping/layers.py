"""Shape of one matrix layer (conv2d or linear) as the mapper sees it: im2col matrix, vector count
and the layer's own weight and input bits; `layers_of(workload)`, the shapes of a workload's
matrix layers."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Literal

from isaacsim.config.models import Arch
from isaacsim.mapping.geometry import MatrixGeometry
from isaacsim.workload.format import Conv2d, Linear
from isaacsim.workload.io import Workload, pair


def _pair(value: int | tuple[int, int] | list[int], field: str, name: str) -> tuple[int, int]:
    """Normalise an int or a 2-sequence of ints to a (h, w) tuple of Python ints."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"layer {name!r}: {field} must be an int or a pair (h, w), got {value!r}")
        pair = (value[0], value[1])
    else:
        pair = (value, value)
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise ValueError(f"layer {name!r}: {field} must hold integers, got {value!r}")
    return (int(pair[0]), int(pair[1]))


@dataclass(frozen=True)
class LayerShape:
    """A conv2d or linear layer's shape; conv2d maps through im2col to `groups` matrices of k x m.

    Build with `LayerShape.conv2d(...)` or `LayerShape.linear(...)`; kernel, stride, padding,
    dilation and input_hw accept an int or an (h, w) pair. Padding is symmetric. A linear
    layer is a 1x1 "conv" on a 1x1 input: one input vector per inference.
    """

    name: str
    kind: Literal["conv2d", "linear"]
    in_channels: int
    out_channels: int
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    input_hw: tuple[int, int] = (1, 1)
    weight_bits: int | None = None
    """The layer's weight bits (signed symmetric); None: the arch's `datapath.weight_bits`."""
    input_bits: int | None = None
    """The layer's input bits; None: the arch's `datapath.input_bits`."""
    input_signed: bool | None = None
    """Whether the layer's inputs are signed (two's complement); None: the arch's `datapath.input_signed`."""
    output_bits: int | None = None
    """The bits of the layer's output activations (what it sends on); None: the arch's
    `datapath.input_bits`."""

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name:
            raise ValueError(f"layer name must be a non-empty string, got {name!r}")
        if self.kind not in ("conv2d", "linear"):
            raise ValueError(f"layer {name!r}: kind must be 'conv2d' or 'linear', got {self.kind!r}")
        for field in ("kernel", "stride", "padding", "dilation", "input_hw"):
            object.__setattr__(self, field, _pair(getattr(self, field), field, name))
        for field in ("in_channels", "out_channels", "groups"):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"layer {name!r}: {field} must be a positive integer, got {v!r}")
            object.__setattr__(self, field, int(v))
        for field, low in (("kernel", 1), ("stride", 1), ("dilation", 1), ("input_hw", 1), ("padding", 0)):
            v = getattr(self, field)
            if min(v) < low:
                raise ValueError(f"layer {name!r}: {field} must be >= {low}, got {v}")
        if self.kind == "linear":
            if (self.kernel, self.stride, self.padding, self.dilation, self.groups, self.input_hw) != (
                (1, 1), (1, 1), (0, 0), (1, 1), 1, (1, 1)
            ):
                raise ValueError(
                    f"layer {name!r}: a linear layer takes only in/out features "
                    "(kernel 1, stride 1, padding 0, dilation 1, groups 1, input 1x1)"
                )
        g = self.groups
        if self.in_channels % g or self.out_channels % g:
            raise ValueError(
                f"layer {name!r}: in_channels={self.in_channels} and out_channels={self.out_channels} "
                f"must both be divisible by groups={g}"
            )
        oh, ow = self.output_hw
        if oh < 1 or ow < 1:
            raise ValueError(
                f"layer {name!r}: kernel {self.kernel} (dilation {self.dilation}) does not fit the "
                f"{self.input_hw[0]}x{self.input_hw[1]} input with padding {self.padding}"
            )

    # ---- constructors
    @classmethod
    def conv2d(
        cls,
        name: str,
        in_channels: int,
        out_channels: int,
        kernel: int | tuple[int, int],
        input_hw: int | tuple[int, int],
        *,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        weight_bits: int | None = None,
        input_bits: int | None = None,
        input_signed: bool | None = None,
        output_bits: int | None = None,
    ) -> LayerShape:
        return cls(name, "conv2d", in_channels, out_channels, kernel, stride, padding, dilation, groups, input_hw,
                   weight_bits, input_bits, input_signed, output_bits)

    @classmethod
    def linear(cls, name: str, in_features: int, out_features: int, *, weight_bits: int | None = None,
               input_bits: int | None = None, input_signed: bool | None = None,
               output_bits: int | None = None) -> LayerShape:
        return cls(name, "linear", in_features, out_features, weight_bits=weight_bits, input_bits=input_bits,
                   input_signed=input_signed, output_bits=output_bits)

    # ---- derived shape
    @property
    def output_hw(self) -> tuple[int, int]:
        """Output spatial size: floor((H + 2p - d(k-1) - 1) / s) + 1 per axis (PyTorch's rule)."""
        return tuple(
            (h + 2 * p - d * (k - 1) - 1) // s + 1
            for h, p, d, k, s in zip(self.input_hw, self.padding, self.dilation, self.kernel, self.stride, strict=True)
        )  # type: ignore[return-value]

    @property
    def n_vectors(self) -> int:
        """Input vectors applied to each group's matrix per inference: output pixels (1 for linear)."""
        oh, ow = self.output_hw
        return oh * ow

    @property
    def k(self) -> int:
        """Rows of each group's matrix: kh * kw * Cin / groups (im2col)."""
        return self.kernel[0] * self.kernel[1] * (self.in_channels // self.groups)

    @property
    def m(self) -> int:
        """Columns (outputs) of each group's matrix: Cout / groups."""
        return self.out_channels // self.groups

    @property
    def macs(self) -> int:
        """Multiply-accumulates per inference."""
        return self.groups * self.n_vectors * self.k * self.m

    def geometry(self, arch: Arch) -> MatrixGeometry:
        """Crossbar footprint of one group's k x m matrix at the layer's own bits (None: the arch's).

        ValueError naming the layer when its bits do not fit the arch."""
        try:
            return MatrixGeometry.of(self.k, self.m, arch, weight_bits=self.weight_bits,
                                     input_bits=self.input_bits, input_signed=self.input_signed)
        except ValueError as e:
            raise ValueError(f"layer {self.name!r}: {e}") from None

    def crossbars_per_copy(self, arch: Arch) -> int:
        """Crossbars one copy of the whole layer needs: groups x the geometry's count."""
        return self.groups * self.geometry(arch).crossbars


def layers_of(workload: Workload) -> list[LayerShape]:
    """LayerShapes of the workload's conv2d/linear nodes, in graph order, for the mapper; each
    carries its node's `weight_bits`, its input tensor's bits and signedness and its output
    tensor's bits."""
    out = []
    for n in workload.nodes:
        if not isinstance(n, (Conv2d, Linear)):
            continue
        f = workload.formats[n.inputs[0]]
        bits = {"weight_bits": n.weight_bits, "input_bits": f.bits, "input_signed": f.signed,
                "output_bits": workload.formats[n.name].bits}
        if isinstance(n, Conv2d):
            c, h, w = workload.shapes[n.inputs[0]]
            out.append(LayerShape.conv2d(n.name, c, n.out_channels, pair(n.kernel), (h, w),
                                         stride=pair(n.stride), padding=pair(n.padding),
                                         dilation=pair(n.dilation), groups=n.groups, **bits))
        else:
            out.append(LayerShape.linear(n.name, workload.shapes[n.inputs[0]][0], n.out_features, **bits))
    return out
