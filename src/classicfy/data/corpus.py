"""The built-in corpus's catalogue: which of music21's scores are classical music, and the composer,
era and work of each, read from the corpus layout, so that a split keeps all movements of a work
together. `rendering.py` plays them; `build.py` makes a dataset folder of them.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from classicfy.config import BuildOptions
from classicfy.errors import DatasetError

log = logging.getLogger(__name__)

MIN_WORKS_FOR_LABEL = 5  # a composer needs this many works for a work-grouped train/val/test split
SCORE_SUFFIXES = (".mxl", ".musicxml", ".xml", ".krn", ".abc")  # in order of preference

# The composers of the corpus that are classical music, with their era. Folk collections,
# exercises and popular songs in the corpus are left out.
ERAS = {
    "trecento": "medieval",
    "ciconia": "medieval",
    "luca": "medieval",
    "palestrina": "renaissance",
    "josquin": "renaissance",
    "lusitano": "renaissance",
    "monteverdi": "renaissance",  # the corpus holds his madrigal books 3-5 (1592-1605)
    "bach": "baroque",
    "handel": "baroque",
    "corelli": "baroque",
    "cpebach": "classical",
    "haydn": "classical",
    "mozart": "classical",
    "beethoven": "classical",
    "schubert": "romantic",
    "schumann_robert": "romantic",
    "schumann_clara": "romantic",
    "chopin": "romantic",
    "weber": "romantic",
    "verdi": "romantic",
    "beach": "romantic",
    "schoenberg": "modern",
    "webern": "modern",
}

# Collections of several composers: their pieces get an era but never a composer label.
COLLECTIONS = frozenset({"trecento"})
# Scores that are another encoding of a piece the corpus already holds under another name.
DUPLICATE_SCORES = frozenset({"schumann_robert/dichterliebe_no2.xml"})  # = opus48no2.mxl
# Scores music21 cannot turn into MIDI within the time limit (five minutes on this machine for the
# quartet op. 18 no. 4): left out rather than holding a build's worker for the whole limit.
TOO_SLOW_SCORES = frozenset({"beethoven/opus18no4.mxl"})


@dataclass(frozen=True)
class Piece:
    """One score of the corpus to render, with everything the manifest says about it."""

    source: str  # corpus path, e.g. "beethoven/opus59no1/movement1.mxl"
    composer: str
    work: str
    title: str
    rendition: int = 0  # above 0: another rendering of the piece, for training only
    rendition_timbre: str = "mixed"  # a rendition's: "mixed" draws an ensemble, "piano" keeps the piano

    @property
    def name(self) -> str:
        return self.source if not self.rendition else f"{self.source} ({self._rendition_name} {self.rendition})"

    @property
    def _rendition_name(self) -> str:
        return "piano rendition" if self.rendition_timbre == "piano" else "rendition"

    @property
    def era(self) -> str:
        return ERAS[self.composer]

    @property
    def slug(self) -> str:
        stem = Path(self.source).with_suffix("").as_posix().split("/", 1)[1]
        return re.sub(r"[^A-Za-z0-9._-]+", "_", stem.replace("/", "__"))

    def audio_path(self, out: str | Path) -> Path:
        out = Path(out)
        suffix = f"-{self._rendition_name.replace(' ', '-')}{self.rendition}" if self.rendition else ""
        return out / self.composer / f"{self.slug}{suffix}.flac"

    def tune_path(self, out: str | Path) -> Path:
        return self.audio_path(out).with_suffix(".tune")


def corpus_root() -> Path:
    from music21 import corpus

    return Path(corpus.getComposer("bach")[0]).parent.parent


def _header_value(path: Path, key: str) -> str | None:
    """A Humdrum reference record (e.g. `!!!OPR:` the parent work) without parsing the score."""
    with open(path, encoding="latin-1") as handle:
        for line in handle:
            if line.startswith(f"!!!{key}:"):
                return line.split(":", 1)[1].strip()
            if not line.startswith("!"):
                return None
    return None


def _work_and_title(root: Path, path: Path, composer: str) -> tuple[str, str]:
    """The work a score belongs to (its group) and a readable title, from the corpus layout.

    All pieces of one opus are one work (op. 18 no. 1 and no. 4 share a group): the safe side
    against a model recognising a set of pieces rather than a composer.
    """
    parts = path.relative_to(root / composer).with_suffix("").parts
    stem = re.sub(r"-sc$", "", parts[0])
    title = " ".join((stem, *parts[1:]))
    if match := re.search(r"(?:^|[_-])op(?:us)?[._]?(\d+)", stem, re.IGNORECASE):
        return f"opus{match.group(1)}", title
    if composer == "bach" and (match := re.match(r"(bwv\d+)", stem)):
        return match.group(1), title  # chorales of one cantata are one work
    if path.suffix == ".krn" and (parent := _header_value(path, "OPR")):
        return parent, f"{parent}: {_header_value(path, 'OTL') or stem}"
    return stem, title


def list_pieces(options: BuildOptions) -> list[Piece]:
    """Every piece to render: one encoding per piece, at most N pieces per composer (seeded)."""
    root = corpus_root()
    composers = options.composers or tuple(ERAS)
    unknown = sorted(set(composers) - set(ERAS))
    if unknown:
        raise DatasetError(f"unknown composer(s): {', '.join(unknown)}; known: {', '.join(sorted(ERAS))}")
    pieces = []
    for composer in composers:
        chosen: dict[str, Path] = {}  # one file per piece, whatever its encodings
        for path in sorted((root / composer).rglob("*")):
            if (
                path.suffix not in SCORE_SUFFIXES
                or path.relative_to(root).as_posix() in DUPLICATE_SCORES | TOO_SLOW_SCORES
            ):
                continue
            key = re.sub(r"-sc$", "", path.relative_to(root).with_suffix("").as_posix())
            best = chosen.get(key)
            rank = SCORE_SUFFIXES.index(path.suffix) + (1 if path.stem.endswith("-sc") else 0) * 10
            if best is None or rank < SCORE_SUFFIXES.index(best.suffix) + (10 if best.stem.endswith("-sc") else 0):
                chosen[key] = path
        found = []
        for path in chosen.values():
            if options.max_score_kb is not None and path.stat().st_size > options.max_score_kb * 1024:
                continue
            work, title = _work_and_title(root, path, composer)
            found.append(Piece(path.relative_to(root).as_posix(), composer, f"{composer}/{work}", title))
        if options.prefer_short:
            found = _shortest_of_each_work_first(found, root)
        else:  # a seeded shuffle spreads the N pieces over many works instead of the first few
            found.sort(key=lambda p: hashlib.sha256(f"{options.seed}:{p.source}".encode()).hexdigest())
        pieces.extend(found[: options.max_pieces_per_composer])
    return sorted(pieces, key=lambda p: p.source)


def _shortest_of_each_work_first(pieces: list[Piece], root: Path) -> list[Piece]:
    """The shortest score of every work, then the second shortest of every work, and so on.

    Score size stands in for parsing and rendering time, so a capped build covers as many works
    (the unit a split needs) as it can, as fast as it can.
    """
    works: dict[str, list[Piece]] = {}
    for piece in sorted(pieces, key=lambda p: ((root / p.source).stat().st_size, p.source)):
        works.setdefault(piece.work, []).append(piece)
    ordered = list(works.values())
    return [work[rank] for rank in range(max(map(len, ordered), default=0)) for work in ordered if rank < len(work)]


def _with_enough_works(names: list[str], pieces: list[Piece]) -> set[str]:
    """The names (each piece's composer, or era) that `MIN_WORKS_FOR_LABEL` works or more among `pieces` share."""
    works: dict[str, set[str]] = {}
    for name, piece in zip(names, pieces, strict=True):
        works.setdefault(name, set()).add(piece.work)
    return {name for name, its_works in works.items() if len(its_works) >= MIN_WORKS_FOR_LABEL}


def labelled_eras(pieces: list[Piece]) -> tuple[str, ...]:
    """The eras with enough works among `pieces` to be a label of the era dataset (a thinner one,
    such as the two modern works, could not be dealt into four cross-validation folds)."""
    return tuple(sorted(_with_enough_works([p.era for p in pieces], pieces)))


def labelled_composers(pieces: list[Piece]) -> tuple[str, ...]:
    """The composers with enough works among `pieces` to be a label of a composer dataset."""
    composed = [p for p in pieces if p.composer not in COLLECTIONS]
    enough = _with_enough_works([p.composer for p in composed], composed)
    return tuple(c for c in ERAS if c in enough)
