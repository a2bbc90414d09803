"""Where heavy work happens: the cache folder, how many worker processes, the device models run
on, whether progress shows.

One `Workspace` travels from the command line (or a Python caller) to every step that extracts,
builds, trains or predicts, instead of the same four arguments passed by hand.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

DEVICE_HELP = "auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N or mps"
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def default_cache_dir() -> Path:
    """`$CLASSICFY_CACHE`, else the user cache folder (e.g. ~/.cache/classicfy)."""
    if env := os.environ.get("CLASSICFY_CACHE"):
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("classicfy"))


def default_jobs() -> int:
    """The CPUs this process may use: its affinity mask, within its cgroup's CPU quota (a container's
    limit), not every CPU of the machine."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(allowed, quota)) if quota else allowed


def _cgroup_cpu_quota() -> int | None:
    """The CPUs a cgroup v2 quota (`cpu.max`, "max 100000" when unlimited) allows, rounded up; None
    without one."""
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        return None if quota == "max" else -(-int(quota) // int(period))
    except (OSError, ValueError):
        return None


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


@dataclass(frozen=True)
class Workspace:
    """The cache folder (features and the built-in corpus), worker processes, the device models run
    on (`classicfy.devices.resolve_device` reads it), a Dask cluster, and progress bars.

    Progress shows by default only when stderr is a terminal, so logs and pipes stay quiet.
    """

    cache: Path = field(default_factory=default_cache_dir)
    jobs: int = field(default_factory=default_jobs)
    progress: bool = field(default_factory=_stderr_is_terminal)
    device: str = "auto"
    cluster: str | None = None  # "dask": a local Dask cluster of `jobs` processes; "tcp://host:port": a running one

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache", Path(self.cache))
        if self.jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {self.jobs}")

    @classmethod
    def create(
        cls,
        cache: str | Path | None = None,
        jobs: int | None = None,
        progress: bool | None = None,
        device: str = "auto",
        cluster: str | None = None,
    ) -> Workspace:
        """A workspace where each `None` takes its default."""
        return cls(
            cache=Path(cache) if cache is not None else default_cache_dir(),
            jobs=jobs if jobs is not None else default_jobs(),
            progress=progress if progress is not None else _stderr_is_terminal(),
            device=device,
            cluster=cluster,
        )
