from __future__ import annotations

import csv
import json
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from classicfy.cli import main
from classicfy.config import BuildOptions
from classicfy.data import build, builtin, corpus
from classicfy.data.builtin import resolve_dataset
from classicfy.data.corpus import list_pieces
from classicfy.errors import DatasetError
from classicfy.workspace import Workspace


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
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


@pytest.mark.slow
def test_composers_build_renders_only_labelled_composers_and_eras_adds_the_rest(tmp_path, monkeypatch):
    small = partial(BuildOptions, composers=("bach", "trecento"), max_pieces_per_composer=5)
    monkeypatch.setattr(builtin, "BuildOptions", small)
    folder = tmp_path / "corpus" / "piano-5-v2"
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


def test_a_build_of_another_corpus_version_is_not_taken_for_this_one(tmp_path):
    options = BuildOptions(composers=("bach",))
    (tmp_path / "build.json").write_text('{"composers": ["bach"]}')  # written before versions were recorded
    assert not builtin._covers(tmp_path, options)
    current = {"composers": ["bach"], "version": build.CORPUS_VERSION, "manifests": build.MANIFESTS_VERSION}
    (tmp_path / "build.json").write_text(json.dumps(current))
    assert builtin._covers(tmp_path, options)


def test_a_build_with_older_manifests_writes_them_again(tmp_path):
    """eras.csv labelled the two modern works, which four cross-validation folds cannot hold."""
    options = BuildOptions(composers=("bach",))
    (tmp_path / "build.json").write_text(json.dumps({"composers": ["bach"], "version": build.CORPUS_VERSION}))
    assert not builtin._covers(tmp_path, options)


def test_asking_for_one_kind_of_renditions_keeps_the_others_of_the_folder(tmp_path):
    record = {"composers": ["bach"], "version": build.CORPUS_VERSION, "renditions": 2, "piano_renditions": 0}
    (tmp_path / "build.json").write_text(json.dumps({**record, "manifests": build.MANIFESTS_VERSION}))
    piano = BuildOptions(composers=("bach",), piano_renditions=2)
    assert not builtin._covers(tmp_path, piano)
    assert builtin._keeping_renditions(tmp_path, piano) == replace(piano, renditions=2)
    plain = BuildOptions(composers=("bach",))
    assert builtin._keeping_renditions(tmp_path, plain) == plain  # no renditions asked for: none rendered
    assert builtin._covers(tmp_path, plain)
