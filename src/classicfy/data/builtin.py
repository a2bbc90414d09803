"""The built-in datasets (`builtin:composers`, `builtin:eras`, `builtin:composers-quick`, and the
composers with renditions for training): which corpus build each comes from, built into the
workspace's cache on first use."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

from classicfy.config import BUILTIN_DATASETS, BuildOptions
from classicfy.data.build import CORPUS_VERSION, MANIFESTS_VERSION, build_corpus
from classicfy.data.corpus import labelled_composers, list_pieces
from classicfy.errors import DatasetError
from classicfy.workspace import Workspace

log = logging.getLogger(__name__)

# The manifest of its build that each built-in dataset reads.
MANIFESTS = dict(
    zip(BUILTIN_DATASETS, ("manifest.csv", "eras.csv", "manifest.csv", "varied.csv", "piano-varied.csv"), strict=True)
)
VARIED_RENDITIONS = 2
RENDITION_COUNTS = ("renditions", "piano_renditions")  # fields of BuildOptions
QUICK_PIECES_PER_COMPOSER = 12
QUICK_MAX_SCORE_KB = 64  # Beethoven's quartets (up to 360 kB, one to two minutes of parsing each) are left out


def composer_options() -> BuildOptions:
    """`builtin:composers`: the default build, of the composers that have enough works to be a label.

    The others only serve `builtin:eras`, which renders them into the same folder when it is first
    asked for: the labelled composers alone take about half as long as the whole build.
    """
    every = BuildOptions()
    return replace(every, composers=labelled_composers(list_pieces(every)))


def varied_options() -> BuildOptions:
    """`builtin:composers-varied`: `builtin:composers` and two renditions of every piece, for training
    only (another ensemble, tempo within 10%, humanised), in the same folder."""
    return replace(composer_options(), renditions=VARIED_RENDITIONS)


def piano_varied_options() -> BuildOptions:
    """`builtin:composers-piano-varied`: `builtin:composers` and two renditions of every piece kept on
    the piano (tempo within 10%, humanised), for training only, in the same folder."""
    return replace(composer_options(), piano_renditions=VARIED_RENDITIONS)


def quick_options() -> BuildOptions:
    """`builtin:composers-quick`: short scores only, of the composers that still have five works among
    them, the shortest of each work first."""
    small = BuildOptions(max_pieces_per_composer=10**6, max_score_kb=QUICK_MAX_SCORE_KB)
    return BuildOptions(
        composers=labelled_composers(list_pieces(small)),
        max_pieces_per_composer=QUICK_PIECES_PER_COMPOSER,
        prefer_short=True,
        max_score_kb=QUICK_MAX_SCORE_KB,
        time_limit_s=60.0,
    )


def _build_record(out: Path) -> dict:
    """The build's `build.json`, or an empty record where there is none (or it cannot be read)."""
    try:
        record = json.loads((out / "build.json").read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _asks_for_renditions(options: BuildOptions) -> bool:
    return any(getattr(options, k) for k in RENDITION_COUNTS)


def _covers(out: Path, options: BuildOptions) -> bool:
    """Whether the build in `out` rendered every composer `options` asks for."""
    record = _build_record(out)
    try:
        built, version = record["composers"], record.get("version")
        enough_renditions = all(int(record.get(k, 0)) >= getattr(options, k) for k in RENDITION_COUNTS)
        manifests_current = int(record.get("manifests", 1)) >= MANIFESTS_VERSION
    except (ValueError, KeyError, TypeError):
        return False
    if version != CORPUS_VERSION or not enough_renditions or not manifests_current:
        return False
    return not built or (bool(options.composers) and set(options.composers) <= set(built))


def _keeping_renditions(out: Path, options: BuildOptions) -> BuildOptions:
    """`options` that ask for renditions, with at least those of the build in `out`: asking for one
    kind of renditions does not forget the other's in the build's record. (Without renditions asked
    for, a build, e.g. `builtin:eras`'s extra composers, renders none.)"""
    if not _asks_for_renditions(options):
        return options
    record = _build_record(out)
    try:
        kept = {k: max(getattr(options, k), int(record.get(k, 0))) for k in RENDITION_COUNTS}
    except (ValueError, TypeError):
        return options
    return replace(options, **kept)


def resolve_dataset(source: str | Path, work: Workspace | None = None) -> Path:
    """A dataset path for `source`; the built-in datasets are built on first use.

    `builtin:composers` and `builtin:eras` come from the default build (piano timbre, 40 pieces per
    composer) in `cache/corpus/piano-40-v2`, which renders the labelled composers first and the
    rest when `builtin:eras` is asked for, and the renditions when `builtin:composers-varied` or
    `builtin:composers-piano-varied` is (a build keeps the renditions the folder has);
    `builtin:composers-quick` comes from a small build in `cache/corpus/piano-quick-v2`. Later uses
    only check the build's record (`build.json`).
    """
    source = str(source)
    if not source.startswith("builtin:"):
        return Path(source)
    work = work or Workspace()
    if source not in BUILTIN_DATASETS:
        raise DatasetError(f"unknown built-in dataset {source!r}; known: {', '.join(BUILTIN_DATASETS)}")
    manifest = MANIFESTS[source]
    quick = source == "builtin:composers-quick"
    options = {
        "builtin:composers-quick": quick_options,
        "builtin:composers": composer_options,
        "builtin:composers-varied": varied_options,
        "builtin:composers-piano-varied": piano_varied_options,
    }.get(source, BuildOptions)()
    size = "quick" if quick else options.max_pieces_per_composer
    out = work.cache / "corpus" / f"{options.timbre}-{size}-v{CORPUS_VERSION}"
    options = _keeping_renditions(out, options)
    if not _covers(out, options) or not (out / manifest).exists():
        how_long = "about a minute" if quick else "once; about 4 minutes on 2 cores"
        if _asks_for_renditions(options):
            how_long = "once; about 15 minutes on 2 cores with two renditions of every piece"
        log.info("building the built-in corpus in %s (%s)", out, how_long)
        build_corpus(out, options, jobs=work.jobs, progress=work.progress)
    return out / manifest
