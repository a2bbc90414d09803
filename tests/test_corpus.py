from __future__ import annotations

import csv
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import soundfile

from classicfy.cli import main
from classicfy.config import BuildOptions
from classicfy.data import builtin, corpus
from classicfy.data.builtin import resolve_dataset
from classicfy.data.corpus import build_corpus, list_pieces
from classicfy.data.manifest import content_hash
from classicfy.errors import DatasetError
from classicfy.training.recipes import demo_config
from classicfy.workspace import Workspace

BACH_2 = BuildOptions(composers=("bach",), max_pieces_per_composer=2)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def small_build(tmp_path_factory) -> tuple[Path, corpus.BuildResult]:
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
        assert row["label"] == ""  # bach has only 2 works here: too few for a composer label
    assert {r["label"] for r in read_rows(out / "eras.csv")} == {"baroque"}
    assert read_rows(out / "failures.csv") == []


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
    real = corpus.score_to_midi

    def broken_for_one(source: str) -> bytes:
        if source == first.source:
            raise ValueError("cannot read this score")
        return real(source)

    first = list_pieces(BACH_2)[0]
    monkeypatch.setattr(corpus, "score_to_midi", broken_for_one)  # the forked children see it too
    result = build_corpus(tmp_path, BACH_2, jobs=2, progress=False)
    assert len(result.rendered) == 1
    assert read_rows(tmp_path / "failures.csv") == [
        {"source": first.source, "reason": "ValueError: cannot read this score"}
    ]

    monkeypatch.setattr(corpus, "score_to_midi", real)
    again = build_corpus(tmp_path, BACH_2, jobs=1, progress=False)  # a failed score is not retried...
    assert len(again.rendered) == 1 and again.failures[0][0] == first
    (tmp_path / "failures.csv").unlink()
    assert len(build_corpus(tmp_path, BACH_2, jobs=1, progress=False).rendered) == 2  # ...until asked to


def test_voices_written_as_separate_abc_tunes_sound_together():
    samples = corpus.render_midi(corpus.score_to_midi("josquin/milleRegrets.abc"), corpus.default_soundfont(), (0,))
    assert len(samples) / corpus.SAMPLE_RATE < 240  # its four voices one after another last over 10 minutes


def test_a_score_over_the_time_limit_is_killed_and_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "score_to_midi", lambda source: time.sleep(60))
    options = BuildOptions(composers=("bach",), max_pieces_per_composer=1, time_limit_s=1.0)
    start = time.monotonic()
    result = build_corpus(tmp_path, options, jobs=1, progress=False)
    assert time.monotonic() - start < 20
    assert [reason for _, reason in result.failures] == ["timed out after 1 s"]
    assert not list(tmp_path.rglob("*.flac")) and not list(tmp_path.rglob("*.tmp"))


def test_builtin_dataset_is_built_on_first_use(tmp_path, monkeypatch, capsys):
    small = partial(BuildOptions, composers=("bach",), max_pieces_per_composer=5)
    monkeypatch.setattr(builtin, "BuildOptions", small)
    args = ["features", "builtin:composers", "--cache", str(tmp_path), "--jobs", "2", "--no-progress"]
    assert main(args) == 0
    assert "recordings: 5 usable of 5 (0 from cache), 1 labels" in capsys.readouterr().out
    manifest = resolve_dataset("builtin:composers", Workspace(tmp_path))
    assert {r["label"] for r in read_rows(manifest)} == {"bach"}
    assert resolve_dataset("builtin:eras", Workspace(tmp_path)).name == "eras.csv"


def test_unknown_builtin_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="unknown built-in dataset"):
        resolve_dataset("builtin:folk", Workspace(tmp_path))


def test_demo_trains_evaluates_and_continues_on_a_small_builtin_corpus(tmp_path, monkeypatch, capsys):
    small = partial(BuildOptions, composers=("bach", "monteverdi"), max_pieces_per_composer=5)
    monkeypatch.setattr(builtin, "BuildOptions", small)
    args = ["demo", "--out", str(tmp_path / "demo"), "--models", "gru", "--epochs", "1",
            "--cache", str(tmp_path / "cache"), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 composers (bach, monteverdi)" in out and "report:" in out
    assert (tmp_path / "demo" / "report.html").is_file()
    assert main([*args[:6], "3", *args[7:]]) == 0  # a second demo continues the first, with its configuration
    assert "continuing the demo run" in capsys.readouterr().out
    assert len((tmp_path / "demo" / "history" / "gru.csv").read_text().splitlines()) == 2


def test_each_failure_is_reported_with_its_own_reason(tmp_path, monkeypatch):
    def fail_with_source(source: str) -> bytes:
        raise ValueError(f"broken {source}")

    monkeypatch.setattr(corpus, "score_to_midi", fail_with_source)
    options = BuildOptions(composers=("bach",), max_pieces_per_composer=4)
    result = build_corpus(tmp_path, options, jobs=2, progress=False)
    assert len(result.failures) == 4
    assert all(reason == f"ValueError: broken {piece.source}" for piece, reason in result.failures)


def test_demo_refuses_an_empty_model_list(tmp_path, capsys):
    assert main(["demo", "--models", ",", "--out", str(tmp_path / "d"), "--cache", str(tmp_path)]) == 2
    assert "at least one model" in capsys.readouterr().err


def test_a_quick_build_takes_the_shortest_score_of_every_work_first():
    root = corpus.corpus_root()
    every = list_pieces(BuildOptions(composers=("beethoven",), max_pieces_per_composer=10**6))
    quick = list_pieces(BuildOptions(composers=("beethoven",), max_pieces_per_composer=5, prefer_short=True))
    works = {p.work for p in every}
    assert len(works) == 5 and {p.work for p in quick} == works  # five pieces: one of each work
    assert "beethoven/opus18no4.mxl" not in {p.source for p in every}  # never renders within the time limit

    def size(piece) -> int:
        return (root / piece.source).stat().st_size

    for piece in quick:
        assert size(piece) == min(size(p) for p in every if p.work == piece.work)


def test_the_labelled_composers_are_those_with_five_works():
    every = list_pieces(BuildOptions(max_pieces_per_composer=10**6))
    labelled = {"bach", "beethoven", "josquin", "monteverdi", "mozart", "palestrina"}
    assert set(corpus.labelled_composers(every)) == labelled
    quick = builtin.quick_options()  # Beethoven's works are all long quartets: too slow for a quick build
    assert set(quick.composers) == labelled - {"beethoven"}
    assert all((corpus.corpus_root() / p.source).stat().st_size <= 64 * 1024 for p in list_pieces(quick))


def test_quick_demo_builds_its_own_small_corpus_and_reports_ensemble_and_baseline(tmp_path, monkeypatch, capsys):
    import json

    small = partial(BuildOptions, composers=("bach", "monteverdi"), max_pieces_per_composer=5, prefer_short=True)
    monkeypatch.setattr(builtin, "quick_options", small)
    run = tmp_path / "RUN"
    args = ["demo", "--quick", "--out", str(run), "--models", "cnn,gru", "--epochs", "1",
            "--cache", str(tmp_path / "cache"), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert "2 composers (bach, monteverdi)" in capsys.readouterr().out
    assert (tmp_path / "cache" / "corpus" / "piano-quick" / "manifest.csv").is_file()
    assert 'data = "builtin:composers-quick"' in (run / "config.toml").read_text()
    assert "max_semitones = 6.0" in (run / "config.toml").read_text()  # every key: no composer told by key
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"cnn", "gru", "ensemble", "baseline"} <= set(metrics["models"]) and (run / "report.html").is_file()


def test_the_demo_gives_every_composer_as_many_augmented_copies():
    windows = {"bach": 150, "beethoven": 900}  # more copies for Bach would make "processed" a cue for him
    for quick in (False, True):
        assert demo_config(quick).augment.copies_per_label(windows) == {"bach": 1, "beethoven": 1}


def test_composers_build_renders_only_labelled_composers_and_eras_adds_the_rest(tmp_path, monkeypatch):
    small = partial(BuildOptions, composers=("bach", "trecento"), max_pieces_per_composer=5)
    monkeypatch.setattr(builtin, "BuildOptions", small)
    folder = tmp_path / "corpus" / "piano-5"
    manifest = resolve_dataset("builtin:composers", Workspace(tmp_path, 2, False))
    assert {r["composer"] for r in read_rows(manifest)} == {"bach"}  # trecento is a collection: never a label
    assert not (folder / "trecento").exists()
    bach_files = {p: p.stat().st_mtime_ns for p in (folder / "bach").iterdir()}
    eras = resolve_dataset("builtin:eras", Workspace(tmp_path, 2, False))
    assert {r["composer"] for r in read_rows(eras)} == {"bach", "trecento"}
    assert {p: p.stat().st_mtime_ns for p in (folder / "bach").iterdir()} == bach_files  # not rendered again
    assert {r["label"] for r in read_rows(manifest)} == {"bach", ""}
    resolve_dataset("builtin:composers", Workspace(tmp_path, 2, False))  # the full build covers it: nothing rendered
    assert {p: p.stat().st_mtime_ns for p in (folder / "bach").iterdir()} == bach_files
