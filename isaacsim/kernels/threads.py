"""Work sharing for the datapath kernels: ranges of items (input vectors) dealt to Python threads.

The heavy kernels are plain `@njit(nogil=True)` functions over a range lo..hi of items; numba
releases the GIL while one runs, so threads of one persistent `ThreadPoolExecutor` run them in
parallel with no parfor pass to compile. `run_chunks` splits the items into chunks and hands them
out from a shared counter (a work queue): a thread takes the next chunk when it is free, so a
thread slowed by another process on its core takes fewer chunks instead of holding everyone up,
and the calling thread works too. Each call knows which worker ran a chunk (0 is the caller), so
kernels keep statistics per worker and reduce them afterwards; integer sums do not depend on the
order, so results are the same for any thread count or chunking.

Small jobs run in the calling thread alone (no thread hand-off). The "static" schedule, one fixed
chunk per worker as numba's parfor deals them, is kept for comparison (`scheduling`).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numba

MIN_CHUNK_WORK = 100_000
"""Least work (in the caller's units, bit-line samples for the layer kernel) per chunk: about
0.1 ms, far above the cost of handing a chunk out; a job below two chunks runs in the caller."""
CHUNKS_PER_WORKER = 8
"""Chunks per worker of a large job: enough that a slowed thread costs at most a small share."""

_state = {"mode": "dynamic"}
_lock = threading.Lock()
_pool: list = [None, 0, 0]  # [executor, its threads, the process that started it]


def scheduling() -> str:
    """The current schedule: "dynamic" (a work queue of small chunks) or "static"."""
    return _state["mode"]


@contextmanager
def schedule(mode: str) -> Iterator[None]:
    """Run the block under `mode` ("dynamic" or "static": one chunk per worker, fixed to it)."""
    if mode not in ("dynamic", "static"):
        raise ValueError(f"scheduling must be 'dynamic' or 'static', got {mode!r}")
    old = _state["mode"]
    _state["mode"] = mode
    try:
        yield
    finally:
        _state["mode"] = old


def default_workers() -> int:
    """Workers a kernel call uses by default: numba's thread count (`numba.set_num_threads`)."""
    return numba.get_num_threads()


def _executor(helpers: int) -> ThreadPoolExecutor:
    """The shared pool, grown to at least `helpers` threads (the old one finishes its work); a new
    one in a forked child, where the parent's threads do not exist."""
    with _lock:
        forked = _pool[2] != os.getpid()
        if _pool[0] is None or _pool[1] < helpers or forked:
            old = None if forked else _pool[0]
            _pool[:] = [ThreadPoolExecutor(max_workers=helpers, thread_name_prefix="isaacsim-kernel"), helpers,
                        os.getpid()]
            if old is not None:
                old.shutdown(wait=False)
        return _pool[0]


def split(n_items: int, n_workers: int, work_per_item: int, mode: str | None = None) -> list[tuple[int, int]]:
    """The chunks (lo, hi) that cover 0..n_items under `mode` (default: the current schedule)."""
    if n_items <= 0:
        return []
    n_workers = max(1, int(n_workers))
    total = n_items * max(1, int(work_per_item))
    if (mode or scheduling()) == "static":
        n_chunks = min(n_items, n_workers)
    else:
        n_chunks = min(n_items, n_workers * CHUNKS_PER_WORKER, max(1, total // MIN_CHUNK_WORK))
        if n_chunks < 2:
            n_chunks = 1
    return [(i * n_items // n_chunks, (i + 1) * n_items // n_chunks) for i in range(n_chunks)]


def workers_for(chunks: list[tuple[int, int]], n_workers: int) -> int:
    """Workers a job of these chunks uses: no more than chunks, at least 1."""
    return max(1, min(len(chunks), int(n_workers)))


def run_chunks(fn: Callable[[int, int, int], None], chunks: list[tuple[int, int]], n_workers: int) -> None:
    """Call fn(worker, lo, hi) for every chunk, on `workers_for(chunks, n_workers)` workers
    (worker 0 is the calling thread); returns when every chunk is done, re-raising the first error.

    Dynamic: workers take chunks from a shared counter in order; a helper that has not started
    when the caller runs out of chunks is cancelled, not waited for. Static: chunk i runs on
    worker i (as many chunks as workers), and the caller waits for each.
    """
    n_w = workers_for(chunks, n_workers)
    if n_w == 1:
        for lo, hi in chunks:
            fn(0, lo, hi)
        return
    static = scheduling() == "static" and len(chunks) == n_w
    counter = itertools.count()

    def work(w: int) -> None:
        if static:
            fn(w, *chunks[w])
            return
        while (i := next(counter)) < len(chunks):
            fn(w, *chunks[i])

    futures = [_executor(n_w - 1).submit(work, w) for w in range(1, n_w)]
    try:
        work(0)
    finally:
        for f in futures:
            if static or not f.cancel():
                f.result()


__all__ = ["CHUNKS_PER_WORKER", "MIN_CHUNK_WORK", "default_workers", "run_chunks", "schedule", "scheduling", "split",
           "workers_for"]
