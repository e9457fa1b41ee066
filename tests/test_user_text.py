"""What users read (README, docs, help, messages in the package, presets, workload notes) cites
papers by name and never points at documents users don't have: no "paper 000", "DESIGN 5",
"issue 8" or dated working notes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INTERNAL = re.compile(r"[Pp]aper 00\d|DESIGN( section| sec\.)? ?\d|\bDESIGN\b|[Ii]ssue \d+"
                      r"|[Mm]easured on 20\d\d-\d\d-\d\d")
TEXT = (".md", ".py", ".yaml", ".yml", ".txt")


def _user_files() -> list[Path]:
    out = [ROOT / "README.md"]
    for folder in ("docs", "isaacsim", "arch_configs", "workloads"):
        out += [p for p in (ROOT / folder).rglob("*") if p.suffix in TEXT and "__pycache__" not in p.parts]
    return out


def internal_references(text: str) -> list[str]:
    return [m.group(0) for m in INTERNAL.finditer(text)]


def test_the_pattern_sees_internal_references():
    assert internal_references("see paper 000 sec. V and DESIGN 5; issue 8 item 3; Measured on 2026-11-23") == [
        "paper 000", "DESIGN 5", "issue 8", "Measured on 2026-11-23"]
    assert internal_references("the TRQ paper's Eq. 6 (Twin Range Quantization)") == []


def test_no_internal_references_in_what_users_read():
    hits = []
    for p in _user_files():
        for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            hits += [f"{p.relative_to(ROOT)}:{n}: {ref}" for ref in internal_references(line)]
    assert not hits, "\n".join(hits[:30])


@pytest.mark.parametrize("command", ["run", "describe", "calibrate", "report", "sweep", "zoo", "train", "import",
                                     "schema"])
def test_help_cites_no_internal_document(command):
    out = subprocess.run([sys.executable, "-m", "isaacsim.cli", command, "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert not internal_references(out) and "Eq. 6 window" not in out
