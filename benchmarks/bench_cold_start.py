"""Cold start: the main job with an empty numba cache (every kernel compiled), then warm (loaded).

Runs `isaacsim run arch_configs/trq.yaml workloads/lenet5_mnist5k` (or the given command) in a
subprocess with NUMBA_CACHE_DIR pointing at a new empty folder, then the same command again with
that folder now filled. Prints both wall times and the children's CPU seconds (steadier than wall
time on a busy machine), the cold / warm ratio and the compile overhead (cold - warm). The warm
run is the baseline, measured in the same invocation.

--tree DIR benchmarks another checkout (its package first on PYTHONPATH, run from its root), so
two versions can be compared: python benchmarks/bench_cold_start.py --tree ../main

Then, for the record, a third child compiles the datapath kernels into another empty cache (one
LeNet-5 zoo sample, no timing) with numba's compile events on, and the CPU seconds of each
top-level kernel compile are printed (helpers inlined into a kernel count with it).

--smoke times a smaller job instead of the main job (one LeNet-5 zoo sample); the
cold run still compiles the kernels that job uses.

Run: python benchmarks/bench_cold_start.py [--tree DIR] [--warm-repeat 1] [--smoke] [-- run ARCH WORKLOAD ...]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAIN_JOB = ["run", "arch_configs/trq.yaml", "workloads/lenet5_mnist5k"]
SMOKE_JOB = ["run", "arch_configs/trq.yaml", "zoo:lenet5", "--samples", "1"]


def timed_run(args: list[str], tree: Path, cache: str) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, its stderr) of `isaacsim ARGS` run from `tree`."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache,
               PYTHONPATH=os.pathsep.join([str(tree), *filter(None, [os.environ.get("PYTHONPATH")])]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "isaacsim.cli", *args], cwd=tree, env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"isaacsim {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stderr


COMPILE_PROBE = """
import threading, time
from numba.core import event
seen, local = {}, threading.local()
class Listener(event.Listener):
    def on_start(self, ev):
        stack = local.__dict__.setdefault("stack", [])
        stack.append(time.thread_time())
    def on_end(self, ev):
        t0 = local.stack.pop()
        if not local.stack:
            f = ev.data["dispatcher"].py_func
            key = f.__module__ + ":" + f.__name__
            seen[key] = seen.get(key, 0.0) + time.thread_time() - t0
event.register("numba:compile", Listener())
import isaacsim
from isaacsim.workload.zoo import make
isaacsim.simulate(isaacsim.load_arch("trq"), make("lenet5", samples=1), samples=1, timing=False)
for k, v in sorted(seen.items(), key=lambda kv: -kv[1]):
    print(f"{v:.2f} {k}")
"""


def compile_seconds(tree: Path) -> list[tuple[float, str]]:
    """[(CPU s, kernel)] of the datapath kernels' compiles into an empty cache."""
    with tempfile.TemporaryDirectory(prefix="numba-probe-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache,
                   PYTHONPATH=os.pathsep.join([str(tree), *filter(None, [os.environ.get("PYTHONPATH")])]))
        out = subprocess.run([sys.executable, "-c", COMPILE_PROBE], cwd=tree, env=env, capture_output=True,
                             text=True, check=True).stdout
    return [(float(t), name) for t, name in (line.split() for line in out.splitlines())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1],
                    help="checkout to benchmark (default: this one)")
    ap.add_argument("--warm-repeat", type=int, default=1, help="warm runs (the best is kept)")
    ap.add_argument("--smoke", action="store_true",
                    help="one LeNet-5 zoo sample instead of the main job (a quick check)")
    ap.add_argument("command", nargs="*", help="isaacsim arguments (default: the main job)")
    a = ap.parse_args()
    args = a.command or (SMOKE_JOB if a.smoke else MAIN_JOB)
    tree = a.tree.resolve()
    print(f"isaacsim {' '.join(args)}  (tree {tree}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
        cold_wall, cold_cpu, cold_err = timed_run(args, tree, cache)
        warm = [timed_run(args, tree, cache) for _ in range(max(1, a.warm_repeat))]
    warm_wall, warm_cpu, warm_err = min(warm)
    notice = "compiling kernels"
    print(f"cold (empty cache): {cold_wall:7.2f} s wall  {cold_cpu:7.2f} s CPU  notice: {notice in cold_err}")
    print(f"warm (cached):      {warm_wall:7.2f} s wall  {warm_cpu:7.2f} s CPU  notice: {notice in warm_err}")
    print(f"cold / warm:        {cold_wall / warm_wall:7.2f} x wall  {cold_cpu / warm_cpu:7.2f} x CPU")
    print(f"compile overhead:   {cold_wall - warm_wall:7.2f} s wall  {cold_cpu - warm_cpu:7.2f} s CPU")
    kernels = compile_seconds(tree)
    print(f"datapath kernels' compile (CPU s, one LeNet-5 sample): {sum(t for t, _ in kernels):.2f} s in all")
    for t, name in kernels:
        print(f"  {t:6.2f}  {name}")


if __name__ == "__main__":
    main()
