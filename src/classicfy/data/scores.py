"""Scores of music21's corpus as the built-in corpus renders them: parsed, retimed, exported to MIDI.

Two things of a score are not left to its encoding, because encodings differ by composer:
- its tempo: the scores of some composers carry tempo marks and others none (music21 then plays
  120 bpm), so a model could name a composer by tempo alone. `set_tempo` replaces every mark with
  one beat rate drawn per piece from a range that is the same for every composer;
- its tune: chorales that harmonise one melody are different works but the same music, so
  `tune_signature` names the melody for the build to group them.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging

import numpy as np

log = logging.getLogger(__name__)

# Beats per minute of the notated beat (the time signature's: a half note in 2/2 and 4/2, a dotted
# quarter in 6/8): one range for every composer, so the beat rate says nothing about who wrote it.
BEATS_PER_MINUTE = (60.0, 120.0)
HUMAN_ONSET_S = 0.015  # spread of a humanised onset (seconds)
HUMAN_VELOCITY = 10.0  # spread of a humanised velocity (MIDI steps)
LONGEST_MIDI_TICKS = 10**10
TUNE_INTERVALS = 6  # a melody's opening intervals that name its tune (Bach varies later phrases)


def parse(source: str):
    """A corpus score as one `music21.stream.Score`, whatever its encoding."""
    from music21 import corpus, stream

    score = corpus.parse(source)
    if isinstance(score, stream.Opus):
        # ABC files of polyphony (Josquin) hold one tune per voice: the voices sound together.
        score = stream.Score([part for tune in score.scores for part in (tune.parts or [tune])])
    return score


def _hash64(key: str) -> int:
    """64 bits drawn by a hash of `key`: the same for the same key on every machine."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def _uniform(key: str) -> float:
    """A number in [0, 1) drawn by a hash of `key`."""
    return _hash64(key) / 2**64


def drawn_tempo(source: str, seed: int) -> float:
    """The beat rate of one piece, drawn uniformly from BEATS_PER_MINUTE by a hash of its name."""
    low, high = BEATS_PER_MINUTE
    return low + (high - low) * _uniform(f"tempo:{seed}:{source}")


def drawn_factor(key: str, seed: int, spread: float) -> float:
    """A factor drawn uniformly from [1 - spread, 1 + spread] by a hash of `key`."""
    return 1.0 + spread * (2.0 * _uniform(f"factor:{seed}:{key}") - 1.0)


def humanised(midi: bytes, key: str) -> bytes:
    """The MIDI played by a person: each note's velocity moved by about 10 and its onset by about
    15 ms (its length kept), drawn by a hash of `key`."""
    import pretty_midi

    # pretty_midi takes a file of more than 10^7 ticks for a corrupt one; a quartet's are that long.
    pretty_midi.pretty_midi.MAX_TICK = max(pretty_midi.pretty_midi.MAX_TICK, LONGEST_MIDI_TICKS)
    music = pretty_midi.PrettyMIDI(io.BytesIO(midi))
    rng = np.random.default_rng(_hash64(key))
    for instrument in music.instruments:
        for note in instrument.notes:
            shift = float(np.clip(rng.normal(0.0, HUMAN_ONSET_S), -3 * HUMAN_ONSET_S, 3 * HUMAN_ONSET_S))
            length = note.end - note.start
            note.start = max(0.0, note.start + shift)
            note.end = note.start + length
            note.velocity = int(np.clip(note.velocity + rng.normal(0.0, HUMAN_VELOCITY), 20, 127))
    buffer = io.BytesIO()
    music.write(buffer)
    return buffer.getvalue()


def beat_quarters(score) -> float:
    """The notated beat in quarter notes, from the first time signature (a quarter without one)."""
    from music21 import meter

    signature = score.recurse().getElementsByClass(meter.TimeSignature).first()
    return float(signature.beatDuration.quarterLength) if signature is not None else 1.0


def set_tempo(score, beats_per_minute: float) -> None:
    """Replace every tempo mark of `score` with one: `beats_per_minute` of its notated beat."""
    from music21 import duration, tempo

    for mark in list(score.recurse().getElementsByClass(tempo.TempoIndication)):
        if mark.activeSite is not None:
            mark.activeSite.remove(mark)
    beat = duration.Duration(beat_quarters(score))
    for part in score.parts or [score]:
        part.insert(0, tempo.MetronomeMark(number=beats_per_minute, referent=beat))


def tune_signature(score) -> str:
    """The top voice's opening melody as intervals in semitones, repeated notes merged.

    It does not depend on key, rhythm or harmony, so two harmonisations of one chorale tune share it.
    """
    top = score.parts[0] if score.parts else score
    pitches: list[int] = []
    for note in top.flatten().notes:
        pitch = max(p.midi for p in note.pitches)
        if not pitches or pitches[-1] != pitch:
            pitches.append(pitch)
        if len(pitches) > TUNE_INTERVALS:
            break
    return " ".join(f"{b - a:+d}" for a, b in itertools.pairwise(pitches))


def to_midi(score) -> bytes:
    """Standard MIDI bytes of a score, with repeats expanded when possible.

    music21 expands repeats while exporting; for a score whose repeats it cannot expand, the
    repeat marks are dropped (the music is played once through), and if that still fails each
    part is exported flattened, without measures.
    """
    from music21 import bar, midi, repeat, spanner, stream

    try:
        return midi.translate.streamToMidiFile(score).writestr()
    except repeat.ExpanderException:
        log.debug("repeats cannot be expanded; rendering without them")
    for measure in score.recurse().getElementsByClass(stream.Measure):
        if isinstance(measure.leftBarline, bar.Repeat):
            measure.leftBarline = None
        if isinstance(measure.rightBarline, bar.Repeat):
            measure.rightBarline = None
    for mark in list(score.recurse().getElementsByClass((repeat.RepeatMark, spanner.RepeatBracket))):
        if mark.activeSite is not None:
            mark.activeSite.remove(mark)
    try:
        return midi.translate.streamToMidiFile(score).writestr()
    except repeat.ExpanderException:
        flat = stream.Score([part.flatten() for part in score.parts] or [score.flatten()])
        return midi.translate.streamToMidiFile(flat).writestr()
