"""A corpus build: render the catalogue's pieces into a folder and write the manifests that make it
a dataset (`manifest.csv` by composer, `eras.csv` by era, `varied.csv` and `piano-varied.csv` with
renditions).

Each build records its options and `CORPUS_VERSION` in `build.json`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, replace
from pathlib import Path

from classicfy import atomic
from classicfy.config import BuildOptions
from classicfy.data import scores
from classicfy.data.corpus import Piece, corpus_root, labelled_composers, labelled_eras, list_pieces
from classicfy.data.rendering import BuildResult, render_all

# Bumped whenever a build renders the same options differently, so that no cache of an older
# rendering is reused: 2 draws every piece's tempo and groups chorales by tune.
CORPUS_VERSION = 2
# Bumped whenever the manifests change for the same audio: a build with older ones writes them again
# (rendering nothing). 2: an era needs five works to be a label of `eras.csv`, as a composer does.
MANIFESTS_VERSION = 2
MANIFEST_COLUMNS = ["path", "label", "group", "composer", "era", "title", "duration_s", "source"]
RENDITION_MANIFESTS = {"mixed": "varied.csv", "piano": "piano-varied.csv"}  # by the renditions' timbre


def write_manifests(
    result: BuildResult, out: str | Path, labelled: set[str], labelled_eras: set[str]
) -> tuple[Path, Path]:
    """`manifest.csv` (label = composer for the `labelled` composers, else empty), `eras.csv` (label =
    era for the `labelled_eras`, else empty), and with renditions `varied.csv` (piano renditions:
    `piano-varied.csv`): the labelled rows of `manifest.csv` and their renditions."""
    out = Path(out)
    originals = [p for p in result.rendered if not p.rendition]
    groups = tune_groups(originals, out)
    rows = [_row(piece, piece.composer if piece.composer in labelled else "", groups, out) for piece in originals]
    manifest, eras = out / "manifest.csv", out / "eras.csv"
    atomic.write_text(manifest, _csv_text(MANIFEST_COLUMNS, rows))
    era_rows = [[r[0], r[4] if r[4] in labelled_eras else "", *r[2:]] for r in rows]
    atomic.write_text(eras, _csv_text(MANIFEST_COLUMNS, era_rows))
    _write_rendition_manifests(result, out, rows, groups, labelled)
    failures = [[piece.name, reason] for piece, reason in result.failures]
    atomic.write_text(out / "failures.csv", _csv_text(["source", "reason"], failures))
    return manifest, eras


def _write_rendition_manifests(
    result: BuildResult, out: Path, rows: list[list[str]], groups: dict[str, str], labelled: set[str]
) -> None:
    """For each timbre of renditions the build has: the labelled `rows` and those renditions."""
    rendered = {p.audio_path(out) for p in result.rendered if not p.rendition}
    for timbre, name in RENDITION_MANIFESTS.items():
        renditions = [p for p in result.rendered if p.rendition and p.rendition_timbre == timbre]
        renditions = [p for p in renditions if p.composer in labelled]
        if not renditions:
            continue
        of = [replace(p, rendition=0).audio_path(out) for p in renditions]
        varied = [[*row, ""] for row in rows if row[1]] + [
            [*_row(p, p.composer, groups, out), original.relative_to(out).as_posix()]
            for p, original in zip(renditions, of, strict=True)
            if original in rendered
        ]
        atomic.write_text(out / name, _csv_text([*MANIFEST_COLUMNS, "rendition_of"], varied))


def _row(piece: Piece, label: str, groups: dict[str, str], out: Path) -> list[str]:
    import soundfile

    path = piece.audio_path(out)
    duration = soundfile.info(path).duration
    rel = path.relative_to(out).as_posix()
    return [rel, label, groups[piece.work], piece.composer, piece.era, piece.title, f"{duration:.2f}", piece.source]


def tune_groups(pieces: list[Piece], out: str | Path) -> dict[str, str]:
    """The group of each work: works of one composer whose pieces open with the same tune share one.

    Two harmonisations of a chorale tune (or two encodings of one madrigal) are one piece of music:
    apart, they could land on both sides of a split. The group is named by its first work.
    """
    out = Path(out)
    parent = {piece.work: piece.work for piece in pieces}

    def root(work: str) -> str:
        while parent[work] != work:
            work = parent[work]
        return work

    first_with: dict[tuple[str, str], str] = {}
    for piece in sorted(pieces, key=lambda p: p.source):
        try:
            tune = piece.tune_path(out).read_text().strip()
        except OSError:
            continue  # rendered by an older build: no signature, its own group
        if len(tune.split()) < scores.TUNE_INTERVALS:
            continue  # too short an opening to name a tune
        other = first_with.setdefault((piece.composer, tune), piece.work)
        a, b = sorted((root(piece.work), root(other)))
        parent[b] = a
    return {work: root(work) for work in parent}


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def build_corpus(out: str | Path, options: BuildOptions, jobs: int = 2, progress: bool = True) -> BuildResult:
    """Render the corpus into `out` (only what is missing) and write its manifests."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pieces = list_pieces(options)
    mixed = [replace(p, rendition=k) for k in range(1, options.renditions + 1) for p in pieces]
    on_piano = range(1, options.piano_renditions + 1)
    piano = [replace(p, rendition=k, rendition_timbre="piano") for k in on_piano for p in pieces]
    pieces += mixed + piano
    root = corpus_root()
    sizes = {p.source: (root / p.source).stat().st_size for p in pieces}
    result = render_all(pieces, sizes, out, options, jobs, progress)
    # The five-works rule counts the works the corpus has, not those a cap let in: a capped build is
    # a small labelled dataset, not an unlabelled one.
    available = list_pieces(replace(options, max_pieces_per_composer=10**6))
    write_manifests(result, out, set(labelled_composers(available)), set(labelled_eras(available)))
    record = {**asdict(options), "version": CORPUS_VERSION, "manifests": MANIFESTS_VERSION}
    atomic.write_text(out / "build.json", json.dumps(record, indent=2))
    return result
