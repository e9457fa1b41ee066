"""Benchmarks must not rot: every script in benchmarks/ runs to the end in its `--smoke` mode (the
smallest inputs that still go through every step it times, with its own assertions) and prints its
key line. Each runs as a subprocess from the repository root, as a user would run it.

bench_cold_start.py compiles every kernel into an empty numba cache (about 12 s of CPU however small
the job, twice that on a busy machine), so its check is marked slow: `python -m pytest -m slow`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# script: (optional packages it imports, lines (regular expressions) its output must contain)
BENCHMARKS = {
    "bench_datapath.py": ((), [r"outputs and per-column R2 counts identical: True", r"speed-up    : [\d.]+x"]),
    "bench_network.py": ((), [r"simulated executor +: +[\d.]+ s .* BL samples/s",
                              r"subset: .* speed-up [\d.]+x", r"peak RSS \(end\)"]),
    "bench_timing.py": ((), [r"network pipeline \(simulate_network", r"identical report: numba is [\d.]+x faster",
                             r"timing / functional datapath .*: [\d.]+", r"fine / default: [\d.]+x wall",
                             r"plain Python, exact Fractions", r"speed-up [\d.]+x"]),
    "bench_whole_run.py": ((), [r"timing's cost \(with - without\) / without: -?[\d.]+",
                                r"whole run \(timing \+ energy\) +: [\d.]+ s",
                                r"peak RSS \(timing \+ energy\) +: \d+ MB"]),
    "bench_noise.py": ((), [r"exact : [\d.]+ s, [\d.e+]+ BL samples/s", r"noisy : [\d.]+ s, [\d.e+]+ BL samples/s",
                            r"noisy / exact samples/s: [\d.]+", r"4 copies: .* kept / drawn time: [\d.]+"]),
    "bench_peak.py": ((), [r"\| isaac \| differential \| 16,128 \|", r"ISAAC-CE published"]),
    "bench_sweep.py": ((), [r"metrics identical in all three runs: True", r"speed-up 1 -> 2 workers: [\d.]+x",
                            r"per-point overhead of the sweep vs direct simulate"]),
    "bench_load.py": ((), [r"dynamic: idle .* loaded / idle +[\d.]+x", r"static : idle .* loaded / idle +[\d.]+x",
                           r"results identical across schedules and load: True"]),
    "bench_cold_start.py": ((), [r"cold \(empty cache\): .* notice: True", r"warm \(cached\): .* notice: False",
                                 r"cold / warm: +[\d.]+ x wall"]),
    "bench_import.py": (("torch", "onnx", "onnxruntime"),
                        [r"\| resnet18 32x32 \| .* \| (\d+) of \1 \| 1 of 1 \|"]),
    "bench_brevitas.py": (("brevitas", "onnx", "onnxruntime"),
                          [r"\| 8 \| .* \| (\d+) of \1 \| \1 of \1 \|", r"\| 4 \| .* \| (\d+) of \1 \| \1 of \1 \|"]),
}


def test_every_benchmark_is_listed():
    assert sorted(p.name for p in (ROOT / "benchmarks").glob("bench_*.py")) == sorted(BENCHMARKS)


SLOW = {"bench_cold_start.py"}


@pytest.mark.parametrize("script", [pytest.param(s, marks=pytest.mark.slow) if s in SLOW else s
                                    for s in sorted(BENCHMARKS)])
def test_benchmark_smoke(script):
    needs, lines = BENCHMARKS[script]
    for mod in needs:
        pytest.importorskip(mod)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--smoke"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{script} --smoke exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    for line in lines:
        assert re.search(line, proc.stdout), f"{script} --smoke did not print /{line}/:\n{proc.stdout}"
