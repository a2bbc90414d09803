"""Rendering the built-in corpus: each score to MIDI, each MIDI to 22.05 kHz mono FLAC with a SoundFont.

Each piece is rendered in its own process with a time limit: a score that hangs or fails is named
in `failures.csv` and never stops the build. Outputs are written atomically and skipped when present.
A rendition (rendition 1, 2, ... of a piece) plays the same score another way, for training only: an
ensemble drawn as `--timbre mixed` draws one, its tempo within 10% of the piece's, its velocities
and onsets humanised. A piano rendition plays the same performance as the rendition of its number,
on the piano.
"""

from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from classicfy import atomic
from classicfy.config import TEMPI, TIMBRES, BuildOptions
from classicfy.data import scores
from classicfy.errors import DatasetError
from classicfy.workers import exit_with_parent

if TYPE_CHECKING:
    from classicfy.data.corpus import Piece

SAMPLE_RATE = 22050
RENDITION_TEMPO = 0.1  # a rendition's tempo is within this fraction of its piece's

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


def default_soundfont() -> Path:
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def _programs_for(piece: Piece, options: BuildOptions) -> tuple[int, ...] | None:
    """The General MIDI program of each channel, or None to keep the score's own."""
    if piece.rendition and piece.rendition_timbre == "piano":
        return (0,)
    if options.timbre == "mixed" or piece.rendition:
        names = sorted(ENSEMBLES)
        drawn_for = f"{options.seed}:{piece.source}" + (f":{piece.rendition}" if piece.rendition else "")
        digest = hashlib.sha256(drawn_for.encode()).digest()
        return ENSEMBLES[names[digest[0] % len(names)]]
    return (0,) if options.timbre == "piano" else None


def score_to_midi(source: str, options: BuildOptions, rendition: int = 0) -> tuple[bytes, str]:
    """A corpus score as this build plays it (as `rendition` when above 0), in MIDI bytes, and the
    signature of its tune."""
    score = scores.parse(source)
    if options.tempo == "drawn":
        factor = scores.drawn_factor(f"{source}:{rendition}", options.seed, RENDITION_TEMPO) if rendition else 1.0
        scores.set_tempo(score, scores.drawn_tempo(source, options.seed) * factor)
    midi = scores.to_midi(score)
    if rendition:
        midi = scores.humanised(midi, f"{options.seed}:{source}:{rendition}")
    return midi, scores.tune_signature(score)


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

    midi, tune = score_to_midi(piece.source, options, piece.rendition)
    samples = render_midi(midi, Path(options.soundfont or default_soundfont()), _programs_for(piece, options))
    if not piece.rendition:  # before the audio, whose presence marks the piece done
        atomic.write_text(piece.tune_path(out), tune + "\n")
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    atomic.write_bytes(piece.audio_path(out), buffer.getvalue())


def _render_child(piece: Piece, out: Path, options: BuildOptions, errors) -> None:
    exit_with_parent(os.getppid())  # a quartet takes minutes: not for a build that is gone
    try:
        render_piece(piece, out, options)
    except Exception as error:
        errors.put((piece.name, f"{type(error).__name__}: {error}".splitlines()[0][:300]))
        raise SystemExit(1) from None


@dataclass
class BuildResult:
    """What a build produced: rendered (now or before) pieces, and failures with reasons."""

    rendered: list[Piece]
    reused: int
    failures: list[tuple[Piece, str]]
    seconds: float


def render_all(
    pieces: list[Piece], sizes: dict[str, int], out: str | Path, options: BuildOptions, jobs: int, progress: bool
) -> BuildResult:
    """Render what is missing, `jobs` children at a time, each killed after the time limit, the
    largest scores (by `sizes`, bytes per source) first."""
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
    todo = [p for p in pieces if not p.audio_path(out).exists() and p.name not in failed_before]
    # Largest scores first (longest-processing-time scheduling): a long quartet started last would
    # leave the other workers idle at the end of the build.
    todo.sort(key=lambda p: (-sizes[p.source], p.name))
    context = multiprocessing.get_context("fork")  # the children reuse the parent's music21 import
    errors = context.SimpleQueue()
    running: list[tuple[Piece, multiprocessing.process.BaseProcess, float]] = []
    failures = [(p, failed_before[p.name]) for p in pieces if p.name in failed_before]
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
                    name, message = errors.get()
                    reasons[name] = message
                failures.append((piece, reasons.pop(piece.name, f"renderer exited with code {child.exitcode}")))
            running.remove(entry)
            bar.update()
    bar.close()
    failed = {p.name for p, _ in failures}
    rendered = [p for p in pieces if p.name not in failed and p.audio_path(out).exists()]
    reused = len(pieces) - len(todo) - len(failed_before.keys() & {p.name for p in pieces})
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
