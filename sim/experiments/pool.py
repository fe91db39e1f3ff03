"""Where the jobs of an experiment run: here, on one local process pool, or on Dask.

:func:`execute` is the one executor of run, compare, sweep and staff. A job is a
picklable payload for a module-level function; results come back through
``on_done(index, result)`` as they finish, so a caller can record them at once (a sweep
appends each point to its points file) and keep its own order. Because every job draws
its random numbers from streams keyed by replication (see :mod:`sim.inputs`), the
results do not depend on where or in which order the jobs ran.

The local pool is interrupt-safe: workers ignore Ctrl-C (the parent handles it, cancels
what is queued and terminates what runs), stop themselves if the parent dies, and at
most two jobs per worker are queued, so little is in flight when a run stops.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from sim.errors import UsageError

P = TypeVar("P")
R = TypeVar("R")


def default_workers() -> int:
    """Every CPU of this machine (at least 1)."""
    return max(1, os.cpu_count() or 1)


def execute(func: Callable[[P], R], jobs: Sequence[P], on_done: Callable[[int, R], None],
            workers: int = 1, scheduler: Any = None,
            keys: Sequence[str] | None = None) -> None:
    """Run ``func(job)`` for every job; call ``on_done(k, result)`` as job ``k`` finishes.

    ``workers`` <= 1 (or a single job) runs in this process, in order; more runs on a
    local process pool of ``min(workers, len(jobs))``; a ``scheduler`` (a Dask address
    or a ``distributed.Client``) runs on that cluster (``keys`` name the jobs there).
    """
    if not jobs:
        return
    if scheduler is not None:
        _run_dask(scheduler, func, jobs, on_done, keys)
    elif workers <= 1 or len(jobs) == 1:
        for k, job in enumerate(jobs):
            on_done(k, func(job))
    else:
        _run_pool(func, jobs, on_done, min(workers, len(jobs)))


def _worker_init() -> None:
    # Ctrl-C is the parent's to handle: it cancels the run and stops the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a parent killed outright (SIGKILL) cannot stop its workers: they stop themselves
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="govsim-parent-watch", daemon=True).start()


def _take(it: Iterator[Any], n: int) -> list[Any]:
    out = []
    for _ in range(n):
        try:
            out.append(next(it))
        except StopIteration:
            break
    return out


def _run_pool(func: Callable[[P], R], jobs: Sequence[P], on_done: Callable[[int, R], None],
              n: int) -> None:
    # the platform's default start method (fork on Linux): workers start at once with the
    # modules already imported, and scripts need no main guard
    pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context(),
                               initializer=_worker_init)
    futures: dict[Future[R], int] = {}
    ok = False
    try:
        pending = iter(range(len(jobs)))
        for k in _take(pending, 2 * n):
            futures[pool.submit(func, jobs[k])] = k
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for f in finished:
                k = futures.pop(f)
                on_done(k, f.result())
                for j in _take(pending, 1):
                    futures[pool.submit(func, jobs[j])] = j
        ok = True
    finally:
        if ok:
            pool.shutdown(wait=True)
        else:
            for f in futures:
                f.cancel()
            for p in list(getattr(pool, "_processes", {}).values()):
                with contextlib.suppress(Exception):
                    p.terminate()
            pool.shutdown(wait=False, cancel_futures=True)


def _run_dask(scheduler: Any, func: Callable[[P], R], jobs: Sequence[P],
              on_done: Callable[[int, R], None], keys: Sequence[str] | None) -> None:
    try:
        from distributed import Client, as_completed  # optional extra: govsim[dask]
    except ImportError:
        raise UsageError("--scheduler needs dask.distributed (pip install 'govsim[dask]')") \
            from None
    own = False
    if isinstance(scheduler, Client):
        client = scheduler
    else:
        try:
            client = Client(str(scheduler), timeout="5s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                             f"({type(exc).__name__}: {exc})".replace("\n", " ")) from None
        own = True
    futures = []
    ok = False
    try:
        index = {}
        for k, job in enumerate(jobs):
            name = f"govsim-{keys[k]}" if keys is not None else None
            f = client.submit(func, job, key=name, pure=False)
            index[f.key] = k
            futures.append(f)
        for f in as_completed(futures, loop=client.loop):
            on_done(index[f.key], f.result())
        ok = True
    finally:
        if not ok:
            with contextlib.suppress(Exception):
                client.cancel(futures)
        if own:
            with contextlib.suppress(Exception):
                client.close(timeout=5)
