from __future__ import annotations

import io

import pretty_midi
import pytest

from classicfy.data import scores


def test_drawn_tempi_are_seeded_and_fill_one_range_for_every_composer():
    low, high = scores.BEATS_PER_MINUTE
    tempi = {composer: [scores.drawn_tempo(f"{composer}/piece{i}", 0) for i in range(200)] for composer in ("a", "b")}
    assert scores.drawn_tempo("bach/bwv1.6.mxl", 0) == scores.drawn_tempo("bach/bwv1.6.mxl", 0)
    assert scores.drawn_tempo("bach/bwv1.6.mxl", 0) != scores.drawn_tempo("bach/bwv1.6.mxl", 1)
    for drawn in tempi.values():
        assert low <= min(drawn) < low + 5 and high - 5 < max(drawn) <= high
        assert abs(sum(drawn) / len(drawn) - (low + high) / 2) < 5


@pytest.mark.parametrize(("source", "beat"), [("bach/bwv120.8-a.mxl", 1.0), ("palestrina/Agnus_II_13.krn", 2.0)])
def test_set_tempo_replaces_every_mark_with_the_notated_beat_at_the_given_rate(source, beat):
    score = scores.parse(source)
    assert scores.beat_quarters(score) == beat  # 3/4 beats in quarters, Palestrina's 4/2 in halves
    scores.set_tempo(score, 90.0)
    midi = pretty_midi.PrettyMIDI(io.BytesIO(scores.to_midi(score)))
    _, rates = midi.get_tempo_changes()
    assert rates == pytest.approx([90.0 * beat], rel=1e-4)  # MIDI tempo counts quarter notes
    assert midi.get_end_time() == pytest.approx(score.highestTime / (90.0 * beat) * 60, rel=0.01)


def test_a_tune_is_named_by_its_opening_intervals_whatever_the_key_and_harmony():
    jesu_meine_freude = [scores.tune_signature(scores.parse(f"bach/{bwv}.mxl")) for bwv in ("bwv358", "bwv87.7")]
    in_e_minor = scores.tune_signature(scores.parse("bach/bwv81.7.mxl"))
    assert jesu_meine_freude[0] == jesu_meine_freude[1] == in_e_minor == "-2 -2 -1 -2 +7 +2"
    assert scores.tune_signature(scores.parse("bach/bwv1.6.mxl")) != in_e_minor


def test_a_long_score_is_humanised_too():
    """A quartet's MIDI passes 10^7 ticks, which pretty_midi took for a corrupt file."""
    long = pretty_midi.PrettyMIDI(resolution=10080)
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(80, 60 + i % 12, i * 0.5, i * 0.5 + 0.4) for i in range(1200)]
    long.instruments.append(piano)
    buffer = io.BytesIO()
    long.write(buffer)
    played = pretty_midi.PrettyMIDI(io.BytesIO(scores.humanised(buffer.getvalue(), "key")))
    assert len(played.instruments[0].notes) == 1200
    assert played.instruments[0].notes[5].start != pytest.approx(2.5, abs=1e-4)  # moved, by a little
    assert played.instruments[0].notes[5].start == pytest.approx(2.5, abs=0.05)
