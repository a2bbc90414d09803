"""The built-in corpus: real scores from music21's corpus, rendered to audio with a SoundFont.

Each score is parsed, its repeats expanded (when music21 can), exported to MIDI and rendered by
TinySoundFont at 22.05 kHz mono into `OUT/<composer>/<piece>.flac`. Work groups, composers and eras
come from the corpus layout, so a split keeps all movements of a work together. Each piece is
rendered in its own process with a time limit: a score that hangs or fails is named in
`failures.csv` and never stops the build. Outputs are written atomically and skipped when present.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import multiprocessing
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classicfy import atomic
from classicfy.config import TEMPI, TIMBRES, BuildOptions
from classicfy.data import scores
from classicfy.errors import DatasetError

log = logging.getLogger(__name__)

SAMPLE_RATE = 22050
# Bumped whenever a build renders the same options differently, so that no cache of an older
# rendering is reused: 2 draws every piece's tempo and groups chorales by tune.
CORPUS_VERSION = 2
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

# General MIDI programs of the `mixed` timbre's ensembles; channel i plays program[i % len].
ENSEMBLES = {
    "strings": (40, 41, 42, 43),
    "woodwinds": (73, 68, 71, 70),
    "brass": (56, 60, 57, 58),
    "organ": (19,),
    "choir": (52, 53),
    "harpsichord": (6,),
    "guitars": (24, 25),
}


@dataclass(frozen=True)
class Piece:
    """One score of the corpus to render, with everything the manifest says about it."""

    source: str  # corpus path, e.g. "beethoven/opus59no1/movement1.mxl"
    composer: str
    work: str
    title: str

    @property
    def era(self) -> str:
        return ERAS[self.composer]

    @property
    def slug(self) -> str:
        stem = Path(self.source).with_suffix("").as_posix().split("/", 1)[1]
        return re.sub(r"[^A-Za-z0-9._-]+", "_", stem.replace("/", "__"))

    def audio_path(self, out: str | Path) -> Path:
        out = Path(out)
        return out / self.composer / f"{self.slug}.flac"

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


def labelled_composers(pieces: list[Piece]) -> tuple[str, ...]:
    """The composers with enough works among `pieces` to be a label of a composer dataset."""
    works: dict[str, set[str]] = {}
    for piece in pieces:
        if piece.composer not in COLLECTIONS:
            works.setdefault(piece.composer, set()).add(piece.work)
    return tuple(c for c in ERAS if len(works.get(c, ())) >= MIN_WORKS_FOR_LABEL)


def default_soundfont() -> Path:
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def _programs_for(piece: Piece, options: BuildOptions) -> tuple[int, ...] | None:
    """The General MIDI program of each channel, or None to keep the score's own."""
    if options.timbre == "piano":
        return (0,)
    if options.timbre == "mixed":
        names = sorted(ENSEMBLES)
        digest = hashlib.sha256(f"{options.seed}:{piece.source}".encode()).digest()
        return ENSEMBLES[names[digest[0] % len(names)]]
    return None


def score_to_midi(source: str, options: BuildOptions) -> tuple[bytes, str]:
    """A corpus score as this build plays it, in MIDI bytes, and the signature of its tune."""
    score = scores.parse(source)
    if options.tempo == "drawn":
        scores.set_tempo(score, scores.drawn_tempo(source, options.seed))
    return scores.to_midi(score), scores.tune_signature(score)


def render_midi(data: bytes, soundfont: str | Path, programs: tuple[int, ...] | None) -> np.ndarray:
    """Render MIDI bytes to mono float32 at 22.05 kHz, peak-normalised to 0.9."""
    soundfont = Path(soundfont)
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=SAMPLE_RATE)
    synth.sfload(str(soundfont))

    def set_program(event) -> bool:
        action = event.action
        if programs is not None and isinstance(action, tinysoundfont.midi.ProgramChange) and event.channel != 9:
            action.program = programs[event.channel % len(programs)]
        return False

    # Non-persistent events are dropped once played; persistent ones are rescanned on every step.
    events = tinysoundfont.midi.load_memory(data, filter=set_program, persistent=False)
    if not any(isinstance(e.action, tinysoundfont.midi.NoteOn) for e in events):
        raise ValueError("the score has no notes")
    if programs is not None:  # channels without a program change play program 0 otherwise
        first = min(e.t for e in events)
        for channel in {e.channel for e in events} - {9}:
            events.insert(
                0,
                tinysoundfont.midi.Event(
                    tinysoundfont.midi.ProgramChange(programs[channel % len(programs)]), first, channel, False
                ),
            )
    sequencer = tinysoundfont.Sequencer(synth)
    sequencer.add(events)
    seconds = max(e.t for e in events) + 2.0  # let the last notes ring out
    stereo = np.frombuffer(synth.generate(int(seconds * SAMPLE_RATE)), dtype=np.float32)
    mono = stereo.reshape(-1, 2).mean(axis=1)
    return (0.9 * mono / max(float(np.abs(mono).max()), 1e-9)).astype(np.float32)


def render_piece(piece: Piece, out: str | Path, options: BuildOptions) -> None:
    """Render one piece to its FLAC file, atomically (runs in a child process)."""
    out = Path(out)
    import soundfile

    midi, tune = score_to_midi(piece.source, options)
    samples = render_midi(midi, Path(options.soundfont or default_soundfont()), _programs_for(piece, options))
    atomic.write_text(piece.tune_path(out), tune + "\n")  # before the audio, whose presence marks the piece done
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    atomic.write_bytes(piece.audio_path(out), buffer.getvalue())


def _render_child(piece: Piece, out: Path, options: BuildOptions, errors) -> None:
    try:
        render_piece(piece, out, options)
    except Exception as error:
        errors.put((piece.source, f"{type(error).__name__}: {error}".splitlines()[0][:300]))
        raise SystemExit(1) from None


@dataclass
class BuildResult:
    """What a build produced: rendered (now or before) pieces, and failures with reasons."""

    rendered: list[Piece]
    reused: int
    failures: list[tuple[Piece, str]]
    seconds: float


def render_all(pieces: list[Piece], out: str | Path, options: BuildOptions, jobs: int, progress: bool) -> BuildResult:
    """Render what is missing, `jobs` children at a time, each killed after the time limit."""
    out = Path(out)
    from tqdm import tqdm

    if options.timbre not in TIMBRES:
        raise DatasetError(f"timbre must be one of {', '.join(TIMBRES)}, got {options.timbre!r}")
    if options.tempo not in TEMPI:
        raise DatasetError(f"tempo must be one of {', '.join(TEMPI)}, got {options.tempo!r}")
    if options.soundfont and not Path(options.soundfont).is_file():
        raise DatasetError(f"SoundFont not found: {options.soundfont}")
    _require_synth()
    start = time.perf_counter()
    # Scores that failed in an earlier build of this folder are not retried (a timeout would cost
    # minutes on every rebuild); deleting failures.csv retries them.
    failed_before = _read_failures(out / "failures.csv")
    todo = [p for p in pieces if not p.audio_path(out).exists() and p.source not in failed_before]
    # Largest scores first (longest-processing-time scheduling): a long quartet started last would
    # leave the other workers idle at the end of the build.
    root = corpus_root()
    todo.sort(key=lambda p: (-(root / p.source).stat().st_size, p.source))
    context = multiprocessing.get_context("fork")  # the children reuse the parent's music21 import
    errors = context.SimpleQueue()
    running: list[tuple[Piece, multiprocessing.process.BaseProcess, float]] = []
    failures = [(p, failed_before[p.source]) for p in pieces if p.source in failed_before]
    reasons: dict[str, str] = {}
    bar = tqdm(total=len(todo), desc="rendering scores", unit="score", disable=not progress)
    queue = list(reversed(todo))
    while queue or running:
        while queue and len(running) < jobs:
            piece = queue.pop()
            child: multiprocessing.process.BaseProcess = context.Process(
                target=_render_child, args=(piece, out, options, errors), daemon=True
            )
            child.start()
            running.append((piece, child, time.monotonic()))
        time.sleep(0.02)
        for entry in list(running):
            piece, child, started = entry
            if child.is_alive() and time.monotonic() - started < options.time_limit_s:
                continue
            if child.is_alive():
                child.kill()
                child.join()
                failures.append((piece, f"timed out after {options.time_limit_s:g} s"))
            elif child.exitcode != 0:
                while not errors.empty():  # messages name their score: children may fail in any order
                    source, message = errors.get()
                    reasons[source] = message
                failures.append((piece, reasons.pop(piece.source, f"renderer exited with code {child.exitcode}")))
            running.remove(entry)
            bar.update()
    bar.close()
    failed = {p.source for p, _ in failures}
    rendered = [p for p in pieces if p.source not in failed and p.audio_path(out).exists()]
    reused = len(pieces) - len(todo) - len(failed_before.keys() & {p.source for p in pieces})
    return BuildResult(rendered, reused, failures, time.perf_counter() - start)


def _read_failures(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["source"]: row["reason"] for row in csv.DictReader(handle)}


def _require_synth() -> None:
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        raise DatasetError(
            "the SoundFont synthesizer is missing: pip install --no-deps -r requirements-nodeps.txt"
        ) from None


def write_manifests(result: BuildResult, out: str | Path) -> tuple[Path, Path]:
    """`manifest.csv` (label = composer, empty for composers with too few works) and `eras.csv`."""
    out = Path(out)
    import soundfile

    works: dict[str, set[str]] = {}
    for piece in result.rendered:
        works.setdefault(piece.composer, set()).add(piece.work)
    labelled = {c for c, w in works.items() if len(w) >= MIN_WORKS_FOR_LABEL and c not in COLLECTIONS}
    groups = tune_groups(result.rendered, out)
    header = ["path", "label", "group", "composer", "era", "title", "duration_s", "source"]
    rows = []
    for piece in result.rendered:
        path = piece.audio_path(out)
        duration = soundfile.info(path).duration
        label = piece.composer if piece.composer in labelled else ""
        rel = path.relative_to(out).as_posix()
        group = groups[piece.work]
        rows.append([rel, label, group, piece.composer, piece.era, piece.title, f"{duration:.2f}", piece.source])
    manifest, eras = out / "manifest.csv", out / "eras.csv"
    atomic.write_text(manifest, _csv_text(header, rows))
    atomic.write_text(eras, _csv_text(header, [[r[0], r[4], *r[2:]] for r in rows]))
    failures = [[piece.source, reason] for piece, reason in result.failures]
    atomic.write_text(out / "failures.csv", _csv_text(["source", "reason"], failures))
    return manifest, eras


def tune_groups(pieces: list[Piece], out: Path) -> dict[str, str]:
    """The group of each work: works of one composer whose pieces open with the same tune share one.

    Two harmonisations of a chorale tune (or two encodings of one madrigal) are one piece of music:
    apart, they could land on both sides of a split. The group is named by its first work.
    """
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
    import json
    from dataclasses import asdict

    out.mkdir(parents=True, exist_ok=True)
    result = render_all(list_pieces(options), out, options, jobs, progress)
    write_manifests(result, out)
    atomic.write_text(out / "build.json", json.dumps({**asdict(options), "version": CORPUS_VERSION}, indent=2))
    return result
