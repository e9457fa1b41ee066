"""Where points run: a local process pool (the default, nothing to start) or a Dask distributed
cluster (`--scheduler ADDRESS`). Both take point payloads and yield (payload, row, summary) as
points finish, in completion order.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from isaacsim.errors import ConfigError, IsaacsimError
from isaacsim.sweep.execute import row_base, run_point


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _watch_parent(parent: int) -> None:
    """Exit this worker when the sweep process that started it is gone (killed with -9)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _init_worker(parent: int) -> None:
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


CONNECT_TIMEOUT = "10s"
"""How long `--scheduler` waits for the Dask scheduler to answer."""


class WorkerDied(IsaacsimError):
    """A worker process ended without returning its point (killed, out of memory, a crash)."""


def run_local(payloads: list[dict[str, Any]], workers: int,
              threads: int | None) -> Iterator[tuple[dict, dict, dict | None]]:
    """Run payloads on `workers` spawned processes, `threads` numba threads each; at most
    `workers` points are in flight, so an interrupted sweep has little to throw away."""
    if not payloads:
        return
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(os.getpid(),))
    todo = list(reversed(payloads))
    running: dict[Any, dict] = {}
    try:
        while todo or running:
            while todo and len(running) < 2 * workers:  # keep each worker fed without queueing all
                p = todo.pop()
                running[pool.submit(run_point, p, threads)] = p
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                p = running.pop(fut)
                try:
                    row, summary = fut.result()
                except BrokenProcessPool:
                    raise WorkerDied(
                        f"a worker process died while running point {p['point']} or a point beside it "
                        "(out of memory? killed?); finished points are kept, rerun the sweep to resume") from None
                yield p, row, summary
    finally:
        for fut in running:
            fut.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


def run_dask(payloads: list[dict[str, Any]], scheduler: str,
             threads: int | None) -> Iterator[tuple[dict, dict, dict | None]]:
    """Submit payloads to the Dask scheduler at `scheduler` (an address such as
    tcp://host:8786, or a scheduler JSON file) and yield them as they finish."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ConfigError("--scheduler needs Dask distributed: pip install 'dask[distributed]' "
                          "(or the project's [dask] extra)") from None
    if not payloads:
        return
    try:
        if Path(scheduler).is_file():
            client = Client(scheduler_file=scheduler, timeout=CONNECT_TIMEOUT)
        else:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except OSError as e:
        raise ConfigError(f"--scheduler {scheduler}: cannot connect ({e})") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"--scheduler {scheduler}: not a scheduler address or file ({e})") from None
    try:
        futs = {client.submit(run_point, p, threads, pure=False, key=f"isaacsim-point-{p['point']}-{p['hash']}"): p
                for p in payloads}
        for fut in as_completed(futs):
            p = futs[fut]
            try:
                row, summary = fut.result()
            except Exception as e:  # the worker was lost, or the task could not be run there
                row = {**row_base(p), "status": "failed", "error": f"dask: {type(e).__name__}: {e}"}
                summary = None
            yield p, row, summary
    finally:
        for fut in futs if "futs" in locals() else ():
            fut.cancel()
        client.close()
