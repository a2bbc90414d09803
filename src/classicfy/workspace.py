"""Where heavy work happens: the cache folder, how many worker processes, whether progress shows.

One `Workspace` travels from the command line (or a Python caller) to every step that extracts,
builds or trains, instead of the same three arguments passed by hand.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path


def default_cache_dir() -> Path:
    """`$CLASSICFY_CACHE`, else the user cache folder (e.g. ~/.cache/classicfy)."""
    if env := os.environ.get("CLASSICFY_CACHE"):
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("classicfy"))


def default_jobs() -> int:
    return os.cpu_count() or 1


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


@dataclass(frozen=True)
class Workspace:
    """The cache folder (features and the built-in corpus), worker processes, and progress bars.

    Progress shows by default only when stderr is a terminal, so logs and pipes stay quiet.
    """

    cache: Path = field(default_factory=default_cache_dir)
    jobs: int = field(default_factory=default_jobs)
    progress: bool = field(default_factory=_stderr_is_terminal)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache", Path(self.cache))
        if self.jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {self.jobs}")

    @classmethod
    def create(
        cls, cache: str | Path | None = None, jobs: int | None = None, progress: bool | None = None
    ) -> Workspace:
        """A workspace where each `None` takes its default."""
        return cls(
            cache=Path(cache) if cache is not None else default_cache_dir(),
            jobs=jobs if jobs is not None else default_jobs(),
            progress=progress if progress is not None else _stderr_is_terminal(),
        )
