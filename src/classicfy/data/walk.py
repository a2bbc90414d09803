"""The files under a folder, as every command lists them: symbolic links followed, loops cut, each
real file once, and whatever was left out named with the reason."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def files_under(root: str | Path) -> list[Path]:
    """Every file under `root`, sorted, following links to files and folders alike; a broken link, a
    link back into a folder already listed, or a second path to a file already listed is skipped
    with a warning naming it."""
    root = Path(root)
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    folders_seen: set[str] = set()
    files_seen: dict[str, Path] = {}
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in folders_seen:
            skipped.append((Path(folder), "a link back into a folder already listed"))
            subfolders[:] = []
            continue
        folders_seen.add(real)
        subfolders.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if not path.exists():
                skipped.append((path, "a broken link"))
                continue
            real_file = os.path.realpath(path)
            if real_file in files_seen:
                skipped.append((path, f"the same file as {files_seen[real_file]}"))
                continue
            files_seen[real_file] = path
            files.append(path)
    for path, reason in skipped:
        log.warning("skipped %s: %s", path, reason)
    return sorted(files)
