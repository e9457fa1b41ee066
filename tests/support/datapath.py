"""The slow bit-plane reference of one crossbar layer (`reference_layer`) and the hypothesis strategies
of random layers it is checked on (`layer_case`: at the arch's widths; `precision_case`: a layer
narrower than the arch, at its own bits)."""

import numpy as np
from hypothesis import strategies as st

import isaacsim
from isaacsim.adc import CLOSED_FORMS, ADCRegisters


def reference_layer(x, w, arch, regs, bits=None):
    """Obviously-correct datapath: per row partition, polarity, weight slice and input cycle, a
    sample matrix from plain numpy matmuls over (DAC bit, cell bit) planes, the closed-form ADC,
    and psum_bits-wide wrapping registers. With ISAAC's column flip, a slice column whose cells
    in the partition sum to more than half their maximum is complemented, its register
    subtracted and (2^Rc - 1) x the partition's input sum added. `bits` (dict of weight_bits,
    input_bits, input_signed; None: the arch's) are the layer's own widths: the slices and input
    cycles follow them. Returns (y, sample histogram, overflows)."""
    c, d = arch.crossbar, arch.datapath
    ki, kw, signed = layer_bits(arch, bits)
    rc, rda = c.cell_bits, c.dac_bits
    if d.weight_encoding == "differential":
        mags, nbits, off = [np.maximum(w, 0), np.maximum(-w, 0)], kw - 1, 0
    else:
        mags, nbits, off = [w + 2 ** (kw - 1)], kw, 2 ** (kw - 1)
    n_slices = -(-nbits // rc)
    u = x & (2**ki - 1)
    if signed:
        cycles = [(b, min(rda, ki - 1 - b), 1) for b in range(0, ki - 1, rda)] + [(ki - 1, 1, -1)]
    else:
        cycles = [(b, min(rda, ki - b), 1) for b in range(0, ki, rda)]
    top = 2**rc - 1
    max_sample = arch.max_sample
    hist = np.zeros(max_sample + 1, np.int64)
    lim = 2 ** min(d.psum_bits - 1, 62)
    y = np.zeros((x.shape[0], w.shape[1]), np.int64)
    fix = np.zeros_like(y)  # the flip's digital correction, in value units
    ovf = 0
    for r0 in range(0, x.shape[1], c.rows):
        rows = slice(r0, r0 + c.rows)
        for sign_q, mag in zip([1, -1], mags, strict=False):
            for s in range(n_slices):
                cell = (mag[rows] >> (s * rc)) & top
                flip = (2 * cell.sum(axis=0) > cell.shape[0] * top) if d.column_flip else np.zeros(cell.shape[1], bool)
                cell = np.where(flip, top - cell, cell)
                fix += sign_q * np.outer(x[:, rows].sum(axis=1), flip * top) << (s * rc)
                psum = np.zeros_like(y)
                for first, count, sign in cycles:
                    chunk = (u[:, rows] >> first) & (2**count - 1)
                    samp = np.zeros_like(y)
                    for a in range(count):
                        for b in range(rc):
                            samp += (((chunk >> a) & 1) @ ((cell >> b) & 1)) << (a + b)
                    hist += np.bincount(samp.ravel(), minlength=hist.size)
                    units = CLOSED_FORMS[regs.mode](samp, regs)[2]
                    psum = psum + sign * (units << first)
                    if d.psum_bits < 64:
                        ovf += int(((psum >= lim) | (psum < -lim)).sum())
                        psum = (psum + lim) % (2 * lim) - lim
                y += sign_q * (np.where(flip, -psum, psum) << (s * rc))
    step = regs.step
    y = y * int(step) if float(step).is_integer() else y * step
    return y + fix - off * x.sum(axis=1, keepdims=True), hist, ovf


@st.composite
def adc_registers(draw, max_resolution: int, deltas: tuple[float, ...]):
    """A register dict of any ADC kind: resolution 3..max_resolution, uniform steps from `deltas`."""
    r = draw(st.integers(3, max_resolution))
    mode = draw(st.sampled_from(["ideal", "uniform", "trq"]))
    if mode == "ideal":
        return {"mode": "ideal", "resolution": r}
    if mode == "uniform":
        return {"mode": "uniform", "resolution": r, "bits": draw(st.integers(1, r)),
                "delta": draw(st.sampled_from(deltas))}
    n2 = draw(st.integers(1, r))
    return {"mode": "trq", "resolution": r, "n_r1": draw(st.integers(0, r)), "n_r2": n2,
            "m": draw(st.integers(0, r - n2)), "delta_r1": draw(st.sampled_from([1, 2, 0.5])),
            "bias": draw(st.integers(0, 2))}


@st.composite
def layer_case(draw):
    rows = draw(st.sampled_from([2, 5, 16, 64, 100, 128, 130]))
    rc = draw(st.sampled_from([1, 2, 4]))
    rda = draw(st.sampled_from([1, 2]))
    signed = draw(st.booleans())
    ki = draw(st.integers(2 if signed else 1, 6))
    kw = draw(st.integers(2, 7))
    arch = isaacsim.load_arch("trq", overrides={
        "crossbar.rows": rows, "crossbar.cols": draw(st.sampled_from([3, 16, 128])),
        "crossbar.cell_bits": rc, "crossbar.dac_bits": rda, "datapath.input_bits": ki,
        "datapath.input_signed": signed, "datapath.weight_bits": kw,
        "datapath.weight_encoding": draw(st.sampled_from(["differential", "offset"])),
        "datapath.psum_bits": draw(st.sampled_from([4, 8, 12, 32, 64])),
        "adc.mode": "ideal", "adc.resolution": 16,
    })
    regs = draw(adc_registers(12, (1, 2, 3, 0.5, 4)))
    x, w = _operands(draw, rows, ki, kw, signed, low_edge=False)
    return arch, ADCRegisters.of(regs), x, w


def layer_bits(arch, bits=None) -> tuple[int, int, bool]:
    """(input bits, weight bits, input signed) of a layer: `bits` (a dict as `MatrixGeometry.bits`)
    over the arch's widths."""
    d = arch.datapath
    b = {"weight_bits": d.weight_bits, "input_bits": d.input_bits, "input_signed": d.input_signed, **(bits or {})}
    return b["input_bits"], b["weight_bits"], b["input_signed"]


@st.composite
def precision_case(draw, flip: bool = True):
    """(arch, regs, x, w, bits): a random layer whose own widths (1..8-bit inputs, signed or not,
    2..8-bit weights) are at most the arch's, which may be wider; any cell and DAC width, both
    encodings, with and without the column flip (`flip`), any ADC kind."""
    rows = draw(st.sampled_from([2, 5, 16, 64, 128, 130]))
    rc = draw(st.sampled_from([1, 2, 3, 4]))
    rda = draw(st.sampled_from([1, 2, 3]))
    arch_signed = draw(st.booleans())
    signed = arch_signed and draw(st.booleans())
    ki = draw(st.integers(1, 8))
    kw = draw(st.integers(2, 8))
    encoding = draw(st.sampled_from(["differential", "offset"]))
    arch = isaacsim.load_arch("trq", overrides={
        "crossbar.rows": rows, "crossbar.cols": draw(st.sampled_from([3, 16, 128])),
        "crossbar.cell_bits": rc, "crossbar.dac_bits": rda,
        "datapath.input_bits": ki + (1 if arch_signed and not signed else 0) + draw(st.integers(0, 8)),
        "datapath.input_signed": arch_signed, "datapath.weight_bits": kw + draw(st.integers(0, 8)),
        "datapath.weight_encoding": encoding,
        "datapath.column_flip": flip and encoding == "offset" and draw(st.booleans()),
        "datapath.psum_bits": draw(st.sampled_from([4, 8, 12, 32, 64])),
        "adc.mode": "ideal", "adc.resolution": 16,
    })
    regs = draw(adc_registers(12, (1, 2, 3, 0.5, 4)))
    x, w = _operands(draw, rows, ki, kw, signed, low_edge=True)
    return arch, ADCRegisters.of(regs), x, w, {"weight_bits": kw, "input_bits": ki, "input_signed": signed}


def _operands(draw, rows: int, ki: int, kw: int, signed: bool, low_edge: bool):
    """Random (x, w) of a layer with ki-bit inputs and kw-bit weights over up to two row
    partitions and a bit; sometimes a row and a column at the edge values (the input's highest,
    or with `low_edge` its lowest when signed)."""
    n = draw(st.integers(1, 5))
    k = draw(st.integers(1, 2 * rows + 3))
    m = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lo, hi = (-(2 ** (ki - 1)), 2 ** (ki - 1) - 1) if signed else (0, 2**ki - 1)
    x = rng.integers(lo, hi + 1, (n, k))
    lim = 2 ** (kw - 1) - 1
    w = rng.integers(-lim, lim + 1, (k, m))
    if draw(st.booleans()):  # edge values
        x[0] = lo if low_edge and signed and draw(st.booleans()) else hi
        w[:, 0] = lim
    return x, w
