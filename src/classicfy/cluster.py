"""Where a command's tasks run: worker processes of this machine (`classicfy.workers`), or a Dask
cluster, a `LocalCluster` of `--jobs` processes (`--cluster dask`) or workers already running
elsewhere (`--cluster tcp://scheduler:8786`) that see the same cache folder.

Tasks write their results to the content-addressed cache themselves, atomically, and send back
only a small status, as the local pool's do: a cache filled on a cluster is the one filled locally,
and a worker lost mid-task leaves no partial entry, so Dask runs its task again elsewhere.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from classicfy.errors import ClassicfyError
from classicfy.workers import exit_with_parent, map_in_pool
from classicfy.workspace import Workspace

LOCAL = "dask"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _one_thread(function: Callable[..., Any], *task: Any) -> Any:
    """A task as the local pool runs it: its libraries on one thread each, so results are bit for
    bit those of `--jobs 1`."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return function(*task)


@contextmanager
def connect(address: str, jobs: int) -> Iterator[Any]:
    """A client of the cluster `address` names: `dask` starts a local one of `jobs` processes (ended
    with this command, or within half a second of its being killed)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ClassicfyError("--cluster needs Dask: pip install 'classicfy[cluster]'") from None
    if address != LOCAL:
        try:
            client = Client(address, timeout="10s")
        except OSError as error:  # only the connection: a task's own errors pass through as they are
            raise ClassicfyError(f"--cluster {address}: no Dask scheduler answers there ({error})") from None
        with client:
            yield client
        return
    environment = dict.fromkeys(THREAD_VARIABLES, "1")
    with (
        LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            env=environment,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(exit_with_parent, os.getpid())
        yield client


def map_tasks(function: Callable[..., Any], tasks: list[tuple], work: Workspace, description: str) -> list:
    """`function(*task)` for every task, results in task order: on the workspace's Dask cluster when
    it names one, else in a pool of `work.jobs` processes."""
    if work.cluster:
        return map_on_cluster(function, tasks, work.cluster, work.jobs, description, work.progress)
    return map_in_pool(function, tasks, work.jobs, description, work.progress)


def map_on_cluster(
    function: Callable[..., Any], tasks: list[tuple], address: str, jobs: int, description: str, progress: bool
) -> list:
    """`function(*task)` for every task on the cluster, results in task order."""
    from dask.distributed import as_completed
    from tqdm import tqdm

    results: list = [None] * len(tasks)
    with connect(address, jobs) as client:
        futures = [client.submit(_one_thread, function, *task, pure=False) for task in tasks]
        where = {future.key: index for index, future in enumerate(futures)}
        bar = tqdm(total=len(tasks), desc=description, unit="rec", disable=not progress, leave=False)
        for future in as_completed(futures):
            results[where[future.key]] = future.result()
            future.release()  # nothing of a finished task stays in the cluster's memory
            bar.update()
        bar.close()
    return results
