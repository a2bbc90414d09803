from __future__ import annotations

import csv
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

from classicfy.config import BuildOptions
from classicfy.data import build, corpus, rendering
from classicfy.data.build import build_corpus
from classicfy.data.corpus import list_pieces
from classicfy.data.manifest import content_hash, list_dataset
from classicfy.errors import DatasetError

BACH_2 = BuildOptions(composers=("bach",), max_pieces_per_composer=2)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def small_build(tmp_path_factory) -> tuple[Path, rendering.BuildResult]:
    out = tmp_path_factory.mktemp("corpus")
    return out, build_corpus(out, BACH_2, jobs=2, progress=False)


def test_each_piece_is_listed_once_whatever_its_encodings():
    pieces = list_pieces(BuildOptions(composers=("bach", "cpebach"), max_pieces_per_composer=10_000))
    keys = [p.source.replace("-sc", "").rsplit(".", 1)[0] for p in pieces]
    assert len(keys) == len(set(keys))
    assert "bach/bwv112.5.mxl" in {p.source for p in pieces}  # preferred over bwv112.5-sc
    assert [p.source for p in pieces if p.composer == "cpebach"] == ["cpebach/h186.mxl"]
    songs = list_pieces(BuildOptions(composers=("schumann_robert",), max_pieces_per_composer=100))
    assert "schumann_robert/dichterliebe_no2.xml" not in {p.source for p in songs}  # = opus48no2.mxl


def test_movements_and_pieces_of_one_opus_share_a_work():
    pieces = {p.source: p for p in list_pieces(BuildOptions(max_pieces_per_composer=10_000))}
    assert pieces["beethoven/opus18no1/movement1.mxl"].work == pieces["beethoven/opus18no3.mxl"].work
    assert pieces["mozart/k80/movement1.mxl"].work == pieces["mozart/k80/movement4.mxl"].work
    assert pieces["mozart/k80/movement1.mxl"].work != pieces["mozart/k155/movement1.mxl"].work
    assert pieces["palestrina/Agnus_01.krn"].work.startswith("palestrina/Missa")
    assert pieces["bach/bwv1.6.mxl"].work == "bach/bwv1"
    assert pieces["schumann_clara/polonaise_op1n1.mxl"].work == pieces["schumann_clara/polonaise_op1n3.mxl"].work


def test_sampling_is_seeded_and_capped_per_composer():
    first = list_pieces(BuildOptions(composers=("bach", "monteverdi"), max_pieces_per_composer=7))
    assert first == list_pieces(BuildOptions(composers=("bach", "monteverdi"), max_pieces_per_composer=7))
    assert [p.composer for p in first].count("bach") == 7
    assert first != list_pieces(BuildOptions(composers=("bach", "monteverdi"), max_pieces_per_composer=7, seed=1))


def test_unknown_composer_is_refused():
    with pytest.raises(DatasetError, match="unknown composer"):
        list_pieces(BuildOptions(composers=("salieri",)))


def test_build_writes_mono_flac_and_both_manifests(small_build):
    out, result = small_build
    assert len(result.rendered) == 2 and not result.failures
    rows = read_rows(out / "manifest.csv")
    assert list(rows[0]) == ["path", "label", "group", "composer", "era", "title", "duration_s", "source"]
    for row in rows:
        info = soundfile.info(out / row["path"])
        assert (info.samplerate, info.channels, info.format) == (22050, 1, "FLAC")
        assert abs(info.duration - float(row["duration_s"])) < 0.01
        assert row["label"] == "bach"  # the corpus has enough of his works, whatever the cap
    assert {r["label"] for r in read_rows(out / "eras.csv")} == {"baroque"}
    assert read_rows(out / "failures.csv") == []


def test_a_capped_corpus_build_labels_its_composers(tmp_path):
    """Issue 23, defect 11: a build capped below five pieces per composer labelled nothing."""
    options = BuildOptions(composers=("bach", "trecento"), max_pieces_per_composer=1)
    build_corpus(tmp_path, options, jobs=2, progress=False)
    assert sorted((r["composer"], r["label"]) for r in read_rows(tmp_path / "manifest.csv")) == [
        ("bach", "bach"),
        ("trecento", ""),  # a collection of several composers: never a composer label
    ]


def test_rebuild_renders_nothing_and_rendering_is_deterministic(small_build, tmp_path):
    out, _ = small_build
    before = {p: content_hash(p) for p in out.rglob("*.flac")}
    again = build_corpus(out, BACH_2, jobs=1, progress=False)
    assert again.reused == 2 and len(again.rendered) == 2
    elsewhere = build_corpus(tmp_path, BACH_2, jobs=1, progress=False)
    assert sorted(before.values()) == sorted(content_hash(p.audio_path(tmp_path)) for p in elsewhere.rendered)


def test_piano_and_mixed_timbres_differ_and_mixed_is_seeded(tmp_path):
    piece = BuildOptions(composers=("bach",), max_pieces_per_composer=1)
    paths = {}
    for name, options in {
        "piano": piece,
        "mixed": BuildOptions(composers=("bach",), max_pieces_per_composer=1, timbre="mixed"),
        "mixed2": BuildOptions(composers=("bach",), max_pieces_per_composer=1, timbre="mixed"),
    }.items():
        [rendered] = build_corpus(tmp_path / name, options, jobs=1, progress=False).rendered
        paths[name] = rendered.audio_path(tmp_path / name)
    assert content_hash(paths["mixed"]) == content_hash(paths["mixed2"])
    piano, mixed = soundfile.read(paths["piano"])[0], soundfile.read(paths["mixed"])[0]
    assert piano.shape != mixed.shape or not np.allclose(piano, mixed, atol=1e-3)


def test_a_failing_score_is_named_and_the_build_goes_on(tmp_path, monkeypatch):
    real = rendering.score_to_midi

    def broken_for_one(source: str, options: BuildOptions, rendition: int = 0) -> tuple[bytes, str]:
        if source == first.source:
            raise ValueError("cannot read this score")
        return real(source, options, rendition)

    first = list_pieces(BACH_2)[0]
    monkeypatch.setattr(rendering, "score_to_midi", broken_for_one)  # the forked children see it too
    result = build_corpus(tmp_path, BACH_2, jobs=2, progress=False)
    assert len(result.rendered) == 1
    assert read_rows(tmp_path / "failures.csv") == [
        {"source": first.source, "reason": "ValueError: cannot read this score"}
    ]

    monkeypatch.setattr(rendering, "score_to_midi", real)
    again = build_corpus(tmp_path, BACH_2, jobs=1, progress=False)  # a failed score is not retried...
    assert len(again.rendered) == 1 and again.failures[0][0] == first
    (tmp_path / "failures.csv").unlink()
    assert len(build_corpus(tmp_path, BACH_2, jobs=1, progress=False).rendered) == 2  # ...until asked to


def test_voices_written_as_separate_abc_tunes_sound_together():
    midi, _ = rendering.score_to_midi("josquin/milleRegrets.abc", BuildOptions())
    samples = rendering.render_midi(midi, rendering.default_soundfont(), (0,))
    assert len(samples) / rendering.SAMPLE_RATE < 240  # its four voices one after another last over 10 minutes


def test_a_score_over_the_time_limit_is_killed_and_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(rendering, "score_to_midi", lambda source, options, rendition=0: time.sleep(60))
    options = BuildOptions(composers=("bach",), max_pieces_per_composer=1, time_limit_s=1.0)
    start = time.monotonic()
    result = build_corpus(tmp_path, options, jobs=1, progress=False)
    assert time.monotonic() - start < 20
    assert [reason for _, reason in result.failures] == ["timed out after 1 s"]
    assert not list(tmp_path.rglob("*.flac")) and not list(tmp_path.rglob("*.tmp"))


def test_each_failure_is_reported_with_its_own_reason(tmp_path, monkeypatch):
    def fail_with_source(source: str, options: BuildOptions, rendition: int = 0) -> tuple[bytes, str]:
        raise ValueError(f"broken {source}")

    monkeypatch.setattr(rendering, "score_to_midi", fail_with_source)
    options = BuildOptions(composers=("bach",), max_pieces_per_composer=4)
    result = build_corpus(tmp_path, options, jobs=2, progress=False)
    assert len(result.failures) == 4
    assert all(reason == f"ValueError: broken {piece.source}" for piece, reason in result.failures)


def test_harmonisations_of_one_tune_and_encodings_of_one_piece_share_a_group(tmp_path):
    pieces = [
        corpus.Piece("bach/bwv358.mxl", "bach", "bach/bwv358", ""),
        corpus.Piece("bach/bwv87.7.mxl", "bach", "bach/bwv87", ""),
        corpus.Piece("bach/bwv87.6.mxl", "bach", "bach/bwv87", ""),
        corpus.Piece("bach/bwv1.6.mxl", "bach", "bach/bwv1", ""),
        corpus.Piece("mozart/k1.mxl", "mozart", "mozart/k1", ""),
        corpus.Piece("mozart/k2.mxl", "mozart", "mozart/k2", ""),
    ]
    tunes = ["-2 -2 -1 -2 +7 +2", "-2 -2 -1 -2 +7 +2", "+1 +1 +1 +1 +1 +1", "+4 +3 -2 +1 +1 +1", "-2 -2 -1 -2 +7 +2"]
    for piece, tune in zip(pieces, tunes, strict=False):  # k2 has no signature: rendered by an older build
        piece.tune_path(tmp_path).parent.mkdir(parents=True, exist_ok=True)
        piece.tune_path(tmp_path).write_text(tune + "\n")
    groups = build.tune_groups(pieces, tmp_path)
    assert groups["bach/bwv358"] == groups["bach/bwv87"] == "bach/bwv358"  # one tune, two works, one group
    assert groups["bach/bwv1"] == "bach/bwv1"
    assert groups["mozart/k1"] == "mozart/k1"  # the same opening by another composer is another piece
    assert groups["mozart/k2"] == "mozart/k2"


@pytest.mark.slow
def test_renditions_play_each_piece_another_way_and_are_listed_with_their_recording(tmp_path):
    options = BuildOptions(composers=("bach",), max_pieces_per_composer=5, renditions=1)
    result = build_corpus(tmp_path, options, jobs=2, progress=False)
    assert len(result.rendered) == 10 and not result.failures
    assert len(read_rows(tmp_path / "manifest.csv")) == 5  # the plain dataset is unchanged
    varied = list_dataset(tmp_path / "varied.csv")
    renditions = [r for r in varied if r.rendition_of]
    assert len(varied) == 10 and len(renditions) == 5
    originals = {r.path: r for r in varied if not r.rendition_of}
    for rendition in renditions:
        original = originals[rendition.rendition_of]
        assert (rendition.label, rendition.group) == (original.label, original.group)
        ratio = soundfile.info(rendition.path).duration / soundfile.info(original.path).duration
        assert 0.88 < ratio < 1.14 and ratio != 1.0  # its own tempo, within 10% (plus the ring-out)
        assert content_hash(rendition.path) != content_hash(original.path)
    again = build_corpus(tmp_path, options, jobs=1, progress=False)
    assert again.reused == 10  # renditions are kept like pieces


@pytest.mark.slow
def test_piano_renditions_play_the_renditions_performance_on_the_piano(small_build, tmp_path):
    shutil.copytree(small_build[0], tmp_path, dirs_exist_ok=True)
    result = build_corpus(tmp_path, replace(BACH_2, renditions=1, piano_renditions=1), jobs=2, progress=False)
    assert result.reused == 2 and len(result.rendered) == 6 and not result.failures
    piano = list_dataset(tmp_path / "piano-varied.csv")
    assert len(piano) == 4 and len(list_dataset(tmp_path / "varied.csv")) == 4  # each lists its own renditions
    for rendition in [r for r in piano if r.rendition_of]:
        assert rendition.path.name.endswith("-piano-rendition1.flac")
        mixed = rendition.path.with_name(rendition.path.name.replace("-piano-rendition1", "-rendition1"))
        assert soundfile.info(rendition.path).frames == soundfile.info(mixed).frames  # the same performance
        played, original = _spectrum(rendition.path), _spectrum(rendition.rendition_of)
        assert np.corrcoef(played, original)[0, 1] > np.corrcoef(_spectrum(mixed), original)[0, 1]  # the piano's


def _spectrum(path: Path) -> np.ndarray:
    """The long-term log spectrum: the instrument's colour, whatever the tempo."""
    samples, _ = soundfile.read(path)
    return np.log(np.abs(np.fft.rfft(samples[: 2**18], n=2**18))[:-1].reshape(-1, 256).mean(axis=1) + 1e-9)


def test_an_era_needs_five_works_to_be_a_label():
    every = list_pieces(BuildOptions(max_pieces_per_composer=10**6))
    assert set(corpus.labelled_eras(every)) == {"medieval", "renaissance", "baroque", "classical", "romantic"}


def test_eras_without_enough_works_are_left_unlabelled(small_build, tmp_path):
    out, result = small_build
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    build.write_manifests(result, copy, {"bach"}, labelled_eras=set())
    assert {r["label"] for r in read_rows(copy / "eras.csv")} == {""}
    assert {r["label"] for r in read_rows(copy / "manifest.csv")} == {"bach"}
