"""ADC kinds as plug-ins: a kind registered by name works everywhere, and nothing outside
`isaacsim.adc` branches on the ADC mode (an AST scan with an allow-list of the sites left)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import isaacsim
from isaacsim.adc import (
    ADCConfig,
    ADCKind,
    ADCRegisters,
    convert,
    kinds,
    register,
    trace,
    unregister,
)
from isaacsim.adc.regfile import parse_registers, registers_document
from isaacsim.adc.uniform import quantize
from isaacsim.errors import ConfigError

PKG = Path(isaacsim.__file__).parent


class FlashADC(ADCKind):
    """A toy K-bit flash ADC: the uniform thresholds, decided by 2^K - 1 comparators at once."""

    name = "flash"
    registers = ("mode", "resolution", "bits")

    def check(self, cfg):
        if cfg.bits is not None and cfg.bits > min(cfg.resolution, 6):
            raise ValueError(f"adc.bits={cfg.bits}: a flash ADC keeps at most min(resolution, 6) bits")

    def normalise(self, cfg):
        return {"bits": cfg.effective_bits, "delta": float(cfg.effective_delta)}

    def step(self, regs):
        return regs.delta

    def max_ops(self, regs):
        return 2**regs.bits - 1

    def kernel_args(self, regs):
        from isaacsim.kernels.sar import UNIFORM

        return UNIFORM, regs.resolution, 0, regs.bits, 0, 0, float(regs.delta)

    def trace(self, samples, regs):
        code, msb, units, _ = super().trace(samples, regs)
        return code, msb, units, np.full_like(code, self.max_ops(regs))

    def closed_form(self, x, regs):
        code = quantize(np.clip(np.asarray(x, np.int64), 0, 2**regs.resolution - 1), regs.delta, regs.bits)
        return code, np.zeros_like(code), code, np.full_like(code, self.max_ops(regs))

    def label(self, regs):
        return f"flash {regs.bits}b"

    def describe(self, regs):
        return f"flash {regs.bits}b step {regs.delta:g}"


@pytest.fixture
def flash():
    k = register(FlashADC())
    try:
        yield k
    finally:
        unregister(k.name)


FLASH = {"mode": "flash", "resolution": 8, "bits": 3}


def test_a_registered_kind_converts(flash):
    regs = ADCRegisters.from_dict(FLASH)
    assert regs.kind is flash and regs.to_dict() == FLASH and ADCRegisters.from_dict(regs.to_dict()) == regs
    assert (regs.step, regs.max_ops, regs.has_ranges) == (32.0, 7, False)
    assert (regs.label(), regs.describe()) == ("flash 3b", "flash 3b step 32")
    x = np.arange(-3, 300)
    values, ops = convert(x, FLASH)
    want, _ = convert(x, {"mode": "uniform", "resolution": 8, "bits": 3})
    np.testing.assert_array_equal(values, want)
    assert (ops == 7).all()
    for got, closed in zip(trace(x, regs), regs.closed_form(x), strict=True):
        np.testing.assert_array_equal(got, closed)


def test_a_registered_kind_validates_and_loads(flash, tmp_path):
    with pytest.raises(ConfigError, match=r"adc\.bits=7: a flash ADC"):
        ADCRegisters.from_dict({**FLASH, "bits": 7})
    arch = isaacsim.load_arch("trq", overrides={"adc.mode": "flash", "adc.bits": 4})
    assert arch.adc.kind is flash and ADCRegisters.of(arch.adc).max_ops == 15
    doc = registers_document({"fc1": FLASH})
    assert doc["layers"] == {"fc1": FLASH}
    assert parse_registers(doc)["fc1"] == ADCRegisters.from_dict(FLASH)


def test_mvm_runs_a_registered_kind(flash):
    arch = isaacsim.load_arch("trq", overrides={"crossbar.rows": 16, "crossbar.cols": 8,
                                                "datapath.input_bits": 4, "datapath.weight_bits": 4})
    rng = np.random.default_rng(0)
    x, w = rng.integers(0, 16, (3, 40)), rng.integers(-7, 8, (40, 5))
    y, stats = isaacsim.mvm(x, w, arch, adc=FLASH)
    y_u, stats_u = isaacsim.mvm(x, w, arch, adc={"mode": "uniform", "resolution": 8, "bits": 3})
    np.testing.assert_array_equal(y, y_u)
    assert stats["conversions"] == stats_u["conversions"] and stats["ad_ops"] == 7 * stats["conversions"]
    assert stats["r1_conversions"] == stats["r2_conversions"] == 0 and stats["adc"] == FLASH


def test_unknown_and_unregistered_kinds_are_refused(flash):
    assert "'flash'" in kinds.names_text()
    unregister("flash")
    with pytest.raises(ConfigError, match=r"adc\.mode: Input should be 'ideal', 'uniform' or 'trq'"):
        ADCRegisters.from_dict(FLASH)
    with pytest.raises(ConfigError, match="valid kinds: ideal, uniform, trq"):
        kinds.kind("flash")
    register(flash)
    with pytest.raises(ValueError, match="already registered"):
        register(FlashADC())
    with pytest.raises(ValueError, match="shipped"):
        unregister("trq")


def test_shipped_kinds_answer_the_interface():
    got = {name: (k.has_ranges, k.config_registers_per_adc, k.calibrated) for name, k in kinds.KINDS.items()}
    assert got == {"ideal": (False, 0, False), "uniform": (False, 0, False), "trq": (True, 1, True)}
    cases = {
        "ideal": ({"mode": "ideal", "resolution": 7}, "ideal 7b", "ideal 7b"),
        "uniform": ({"mode": "uniform", "resolution": 8, "bits": 5}, "uniform 5b", "uniform 5b step 8"),
        "trq": ({"mode": "trq", "resolution": 8, "n_r1": 3, "n_r2": 4, "m": 4, "delta_r1": 2, "bias": 1},
                "TRQ (8b SAR)", "trq n_r1=3 n_r2=4 m=4 D1=2 b=1"),
    }
    for d, label, text in cases.values():
        regs = ADCRegisters.from_dict(d)
        assert (regs.label(), regs.describe()) == (label, text)
    note = ADCConfig(mode="uniform", resolution=8, bits=6).coarse_note
    assert note == "uniform ADC with 6 bits (step 4) is coarser than lossless"
    assert isaacsim.load_arch("trq").adc.coarse_note is None


# ---------------------------------------------------------------- no branch on the mode outside adc/
MODES = {"ideal", "uniform", "trq"}


def _is_mode_name(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in MODES


def _mentions_mode(node: ast.AST) -> bool:
    return "mode" in ast.unparse(node)


class _ModeBranches(ast.NodeVisitor):
    """(function qualname) of each comparison of a mode-like expression with an ADC kind's name,
    and of each dict literal keyed by kind names that is indexed by a mode-like expression."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.sites: list[str] = []

    def _scope(self, node) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def visit_Compare(self, node: ast.Compare) -> None:
        sides = [node.left, *node.comparators]
        names = [s for s in sides if _is_mode_name(s) or (isinstance(s, (ast.Tuple, ast.List, ast.Set))
                                                          and any(_is_mode_name(e) for e in s.elts))]
        if names and any(_mentions_mode(s) for s in sides if s not in names):
            self.sites.append(".".join(self.stack))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if (isinstance(node.value, ast.Dict) and any(k is not None and _is_mode_name(k) for k in node.value.keys)
                and _mentions_mode(node.slice)):
            self.sites.append(".".join(self.stack))
        self.generic_visit(node)


def _mode_branches() -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).as_posix()
        if rel.startswith("isaacsim/adc/"):
            continue
        v = _ModeBranches()
        v.visit(ast.parse(path.read_text(encoding="utf-8")))
        for site in v.sites:
            found[(rel, site)] = found.get((rel, site), 0) + 1
    return found


def test_the_scan_finds_a_mode_branch():
    v = _ModeBranches()
    src = "def f(regs, a):\n    return regs.mode == 'trq' or {'ideal': 1}[a['mode']] or a.case == 'ideal'\n"
    v.visit(ast.parse(src))
    assert v.sites == ["f", "f"]


def test_no_branch_on_the_adc_mode_outside_adc():
    found = _mode_branches()
    assert not found, f"branches on the ADC mode outside isaacsim/adc/ (ask the kind instead): {found}"
