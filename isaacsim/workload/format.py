"""Workload manifest schema (format_version 1): frozen pydantic models of the input and the graph nodes."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from isaacsim.config.loader import format_validation_error
from isaacsim.errors import WorkloadError

FORMAT_VERSION = 1
MANIFEST = "workload.yaml"
ARRAYS = "arrays.npz"
CALIB = "calib.npz"
EVAL = "eval.npz"

OPS = ("conv2d", "linear", "relu", "maxpool", "avgpool", "global_avgpool", "add", "concat", "flatten")

Pair = int | tuple[int, int]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TensorFormat(_Model):
    """Integer format of a tensor: real = scale * (code - zero_point), code in lo..hi."""

    bits: int = Field(ge=1, le=16)
    signed: bool
    scale: float = Field(gt=0)
    zero_point: int = 0

    @property
    def lo(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @model_validator(mode="after")
    def _zp_in_range(self):
        if not self.lo <= self.zero_point <= self.hi:
            raise ValueError(f"zero_point {self.zero_point} outside the code range {self.lo}..{self.hi}")
        return self

    def fmt(self) -> TensorFormat:
        """This format alone (drops subclass fields)."""
        return TensorFormat(bits=self.bits, signed=self.signed, scale=self.scale, zero_point=self.zero_point)


class InputSpec(TensorFormat):
    """The network input: shape (C, H, W) or (features,) and its integer format."""

    shape: tuple[int, int, int] | tuple[int]

    @field_validator("shape")
    @classmethod
    def _positive(cls, v):
        if min(v) < 1:
            raise ValueError(f"shape entries must be >= 1, got {list(v)}")
        return v


REQUANT_MODES = ("dyadic", "float32", "float32_fma")
"""How an integer result is rescaled into the output format: `dyadic` (integer multiplier and shift,
round half up) or `float32` (a float32 multiply, round half to even: onnxruntime's integer kernels)."""


def _check_mode(mode: str, multipliers, shift: int | None) -> None:
    """dyadic: int multipliers and a shift; float32: finite multipliers > 0 (or array keys) and no shift."""
    nums = [m for m in multipliers if not isinstance(m, str)]
    if mode == "dyadic":
        if shift is None:
            raise ValueError("mode dyadic needs a shift")
        if any(isinstance(m, float) for m in nums):
            raise ValueError("mode dyadic needs integer multipliers (float multipliers need mode: float32)")
    else:
        if shift is not None:
            raise ValueError("mode float32 takes no shift (the multiplier is the real rescale factor)")
        if any(not math.isfinite(m) or not 0 < m < 2.0**31 for m in nums):
            raise ValueError(f"float32 multipliers must be finite and in (0, 2^31), got {nums}")


def _check_clip(fmt: TensorFormat, clip) -> None:
    """A clip [lo, hi] of output codes must satisfy fmt.lo <= lo <= hi <= fmt.hi."""
    if clip is not None and not fmt.lo <= clip[0] <= clip[1] <= fmt.hi:
        raise ValueError(f"clip {list(clip)} must satisfy {fmt.lo} <= lo <= hi <= {fmt.hi} (codes of the format)")


class Requant(TensorFormat):
    """conv2d/linear requantization of v = acc + bias into this format.

    mode dyadic (default): out = clamp(round_half_up(v * multiplier / 2^shift) + zero_point, lo, hi);
    `multiplier` an int (per tensor) or the key of an int32 array of one per output channel.
    mode float32: out = clamp(round_half_even(float32(v) * float32(multiplier)) + zero_point, lo, hi);
    `multiplier` a float or the key of a float32 array of one per output channel; no shift.
    `clip` [lo, hi] (optional): the result is then clamped to lo..hi as well (a ReLU6 / Clip whose
    bounds fall inside the format's range, in codes).
    """

    mode: Literal["dyadic", "float32"] = "dyadic"
    multiplier: int | float | str
    shift: int | None = Field(None, ge=0, le=62)
    clip: tuple[int, int] | None = None

    @field_validator("multiplier")
    @classmethod
    def _mult(cls, v):
        if isinstance(v, int) and not 0 <= v < 2**31:
            raise ValueError(f"multiplier must lie in 0..2^31-1, got {v}")
        return v

    @model_validator(mode="after")
    def _mode(self):
        _check_mode(self.mode, [self.multiplier], self.shift)
        _check_clip(self, self.clip)
        return self


class MixRequant(TensorFormat):
    """add/concat: input i's term is (x_i - zp_i) * multipliers[i]; sum (add) or each (concat) is
    rescaled, zero_point added, clamped. mode dyadic (default): int multipliers, rounded half up by
    2^shift; mode float32: float32 terms float32(multipliers[i]) * float32(x_i - zp_i), summed in
    input order in float32, rounded half to even, no shift; mode float32_fma (add of two inputs):
    c = float32(zero_point) - (float32(m_0 * zp_0) + float32(m_1 * zp_1)), then
    round_half_even(fma(x_0, m_0, fma(x_1, m_1, c))) on the raw codes, each fma rounded once to
    float32 (onnxruntime's QLinearAdd on x86 with AVX2). `clip` [lo, hi] (optional) clamps the
    output codes to lo..hi as well, as for conv2d."""

    mode: Literal["dyadic", "float32", "float32_fma"] = "dyadic"
    multipliers: tuple[int | float, ...]
    shift: int | None = Field(None, ge=0, le=62)
    clip: tuple[int, int] | None = None

    @field_validator("multipliers")
    @classmethod
    def _mults(cls, v):
        for m in v:
            if isinstance(m, int) and not -(2**31) <= m < 2**31:
                raise ValueError(f"multipliers must be int32, got {m}")
        return v

    @model_validator(mode="after")
    def _mode(self):
        _check_mode(self.mode, self.multipliers, self.shift)
        _check_clip(self, self.clip)
        return self


class PoolRequant(TensorFormat):
    """avgpool/global_avgpool into a new format, n cells per window, two modes (both onnxruntime's):

    float32: s the window's code sum, out = clamp(round_half_even(float32(s - n * zp_in) *
    float32(multiplier)) + zero_point) (QLinearGlobalAveragePool).
    float32_mean: each cell dequantized in float32, scale_in * (x - zp_in), summed in float32 in
    row-major window order, divided by n, then out = clamp(round_half_even(mean / scale +
    zero_point)) in float32 (QLinearAveragePool); no multiplier.
    """

    mode: Literal["float32", "float32_mean"]
    multiplier: float | None = Field(None, gt=0, lt=2.0**31)

    @model_validator(mode="after")
    def _mult(self):
        if (self.multiplier is None) != (self.mode == "float32_mean"):
            raise ValueError("mode float32 needs a multiplier; mode float32_mean takes none")
        return self


class _Node(_Model):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
    inputs: tuple[str, ...] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _not_input(cls, v):
        if v == "input":
            raise ValueError("'input' is reserved for the network input")
        return v


class _Unary(_Node):
    inputs: tuple[str] = Field(description="exactly one input")


class _Matrix(_Unary):
    weight: str
    bias: str | None = None
    weight_bits: int = Field(8, ge=2, le=16)
    weight_scale: float | tuple[float, ...] = 1.0
    requant: Requant
    activation: Literal["relu"] | None = None


class Conv2d(_Matrix):
    """Conv: weight (Cout, Cin/groups, kh, kw); acc over raw input codes, padding filled with the input zero point."""

    op: Literal["conv2d"]
    out_channels: int = Field(ge=1)
    kernel: Pair
    stride: Pair = 1
    padding: Pair = 0
    dilation: Pair = 1
    groups: int = Field(1, ge=1)


class Linear(_Matrix):
    """Fully connected: weight (out_features, in_features)."""

    op: Literal["linear"]
    out_features: int = Field(ge=1)


class Relu(_Unary):
    """max(x, zero_point) in the input's format; with `clip` [lo, hi] (codes of the input's format)
    clamp(x, lo, hi) instead (ReLU6, Hardtanh, Clip)."""

    op: Literal["relu"]
    clip: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if self.clip is not None and self.clip[0] > self.clip[1]:
            raise ValueError(f"clip {list(self.clip)} needs lo <= hi")
        return self


class Pool(_Unary):
    """maxpool (padding never wins) or avgpool (count includes padding filled with the zero point;
    rounded half up in the input's format, or with `requant` rescaled into its format). maxpool with
    `ceil_mode` rounds the output size up (the last window may hang over the bottom / right edge)."""

    op: Literal["maxpool", "avgpool"]
    kernel: Pair
    stride: Pair | None = None
    padding: Pair = 0
    ceil_mode: bool = False
    requant: PoolRequant | None = Field(None, description="avgpool only: rescale into a new format")

    @model_validator(mode="after")
    def _avg_only(self):
        if self.requant is not None and self.op != "avgpool":
            raise ValueError("requant applies to avgpool only")
        if self.ceil_mode and self.op != "maxpool":
            raise ValueError("ceil_mode applies to maxpool only")
        return self


class GlobalAvgPool(_Unary):
    """(C, H, W) -> (C, 1, 1), rounded half up (or with `requant`, as for avgpool)."""

    op: Literal["global_avgpool"]
    requant: PoolRequant | None = None


class Flatten(_Unary):
    """(C, H, W) -> (C*H*W,) in C order."""

    op: Literal["flatten"]


class Add(_Node):
    """Residual add of same-shape inputs, requantized to a common output format."""

    op: Literal["add"]
    requant: MixRequant
    activation: Literal["relu"] | None = None


class Concat(_Node):
    """Channel concat (axis 0 of (C, H, W) or (features,)), each input requantized to the output format."""

    op: Literal["concat"]
    requant: MixRequant


Node = Conv2d | Linear | Relu | Pool | GlobalAvgPool | Flatten | Add | Concat
NODE_MODELS: dict[str, type[_Node]] = {
    "conv2d": Conv2d, "linear": Linear, "relu": Relu, "maxpool": Pool, "avgpool": Pool,
    "global_avgpool": GlobalAvgPool, "flatten": Flatten, "add": Add, "concat": Concat,
}


class Manifest(_Model):
    """workload.yaml: format_version, name, input, graph (last node is the output)."""

    format_version: Literal[1]
    name: str = Field(min_length=1)
    description: str = ""
    input: InputSpec
    graph: tuple[Annotated[Node, Field(discriminator="op")], ...] = Field(min_length=1)


def parse_manifest(raw: object, where: str = MANIFEST) -> Manifest:
    """Validate a manifest dict; WorkloadError with one line naming the file and the layer."""
    if not isinstance(raw, dict):
        raise WorkloadError(f"{where}: expected a mapping of keys at the top level")
    if "format_version" not in raw:
        raise WorkloadError(f"{where}: format_version missing (this isaacsim reads format_version {FORMAT_VERSION})")
    if raw["format_version"] != FORMAT_VERSION:
        raise WorkloadError(
            f"{where}: unsupported format_version {raw['format_version']!r} "
            f"(this isaacsim reads format_version {FORMAT_VERSION})")
    graph = raw.get("graph")
    if not isinstance(graph, list) or not graph:
        raise WorkloadError(f"{where}: graph must be a non-empty list of nodes")
    nodes = []
    for i, d in enumerate(graph):
        label = f"graph[{i}]"
        if not isinstance(d, dict):
            raise WorkloadError(f"{where}: {label}: expected a mapping of keys")
        if isinstance(d.get("name"), str):
            label = f"layer {d['name']!r}"
        op = d.get("op")
        if op not in NODE_MODELS:
            raise WorkloadError(f"{where}: {label}: unknown op {op!r}; valid ops: {', '.join(OPS)}")
        try:
            nodes.append(NODE_MODELS[op].model_validate(d))
        except ValidationError as e:
            msg = format_validation_error(e, NODE_MODELS[op]).replace("valid keys at the top level",
                                                                      f"valid keys for {op}")
            raise WorkloadError(f"{where}: {label} ({op}): {msg}") from None
    try:
        return Manifest.model_validate({**raw, "graph": nodes})
    except ValidationError as e:
        raise WorkloadError(f"{where}: {format_validation_error(e, Manifest)}") from None
