from __future__ import annotations

import numpy as np
import pretty_midi

from classicfy.cli import main
from classicfy.features.notes import KEYS, transcribe
from helpers import SR, sine, write


def chord(seconds: float, pitches: tuple[int, ...]) -> np.ndarray:
    return sum(sine(seconds, 440.0 * 2 ** ((p - 69) / 12), amplitude=0.2) for p in pitches).astype(np.float32)


def test_a_chord_is_heard_as_its_notes_with_activations_per_key(tmp_path):
    path = write(tmp_path / "c_major.flac", chord(3.0, (60, 64, 67)))
    transcription = transcribe(path)
    assert transcription.note.shape[1] == transcription.onset.shape[1] == KEYS
    frames = len(transcription.note) * transcription.seconds_per_frame
    assert abs(frames - 3.0) < 0.05  # one frame per 11.6 ms of audio
    assert sorted({pitch for _, _, pitch, _ in transcription.events}) == [60, 64, 67]
    assert transcription.note[:, 60 - 21].max() > 0.5  # key 0 is A0, MIDI 21


def test_transcribe_writes_midi_that_pretty_midi_reads_and_skips_what_it_cannot_hear(tmp_path, capsys):
    write(tmp_path / "in" / "chord.wav", chord(2.0, (57, 64)))
    write(tmp_path / "in" / "silence.wav", np.zeros(SR, np.float32))
    (tmp_path / "notes.wav").write_text("not audio")  # named explicitly: a folder lists audio files only
    args = ["transcribe", str(tmp_path / "in"), str(tmp_path / "notes.wav"), "--out", str(tmp_path / "M")]
    assert main([*args, "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "chord.wav: 2 notes, MIDI 57-64" in out and "silence.wav" in err and "notes.wav" in err
    midi = pretty_midi.PrettyMIDI(str(tmp_path / "M" / "chord.mid"))
    assert sorted(note.pitch for instrument in midi.instruments for note in instrument.notes) == [57, 64]
    assert main(["transcribe", str(tmp_path / "in" / "silence.wav"), "--out", str(tmp_path / "M")]) == 2
