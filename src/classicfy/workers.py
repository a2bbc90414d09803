"""Worker processes that end with their parent: a pool for the work of one command.

Stopped any way (an error, Ctrl-C, SIGTERM), the pool ends its workers at once instead of waiting
for their tasks; killed outright (kill -9), it cannot, so each worker watches its parent and exits
within half a second of it.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

PARENT_CHECK_S = 0.5


def _exit_when_gone(parent: int) -> None:
    while True:
        time.sleep(PARENT_CHECK_S)
        try:
            os.kill(parent, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            os._exit(1)  # no clean-up to do: a task's outputs are written atomically or not at all
        except PermissionError:
            pass  # it exists, under another user (a reused pid cannot be ours to signal)


def exit_with_parent(parent: int) -> None:
    """Make this (child) process exit within half a second of `parent`, however the parent ended."""
    threading.Thread(target=_exit_when_gone, args=(parent,), daemon=True, name="parent-watch").start()


def _init_worker(parent: int) -> None:
    # Each worker is one of `jobs` processes: let it use one core, not all of them. The thread pools
    # of libraries loaded later read the environment; those loaded already are limited now (numpy's
    # BLAS first, which threadpoolctl could not limit before it is loaded).
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    import numpy  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    exit_with_parent(parent)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """End the workers now: shutting down alone would wait for every running task to finish."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public handle before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)


def map_in_pool(function: Callable[..., Any], tasks: list[tuple], jobs: int, description: str, progress: bool) -> list:
    """`function(*task)` for every task, in `jobs` worker processes, results in task order."""
    from tqdm import tqdm

    results: list = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc=description, unit="rec", disable=not progress, leave=False)
    if jobs == 1 or len(tasks) <= 1:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # as in a worker: results bit for bit the same whatever `jobs` is
            for index, task in enumerate(tasks):
                results[index] = function(*task)
                bar.update()
        bar.close()
        return results
    context = multiprocessing.get_context("forkserver")
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(function, *task): index for index, task in enumerate(tasks)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            bar.update()
    except BaseException:
        _stop_now(pool)
        raise
    pool.shutdown()
    bar.close()
    return results
