from __future__ import annotations

import json

import numpy as np
import pytest

from classicfy.cli import main
from classicfy.data.folds import fold_splits
from classicfy.data.manifest import list_dataset
from classicfy.evaluation.bootstrap import paired_difference, work_resamples


def _cv_args(data, out, *extra: str) -> list[str]:
    return ["crossval", str(data), "--out", str(out), "--folds", "2", "--models", "gru", "--epochs", "1",
            "--window", "2", "--augment-copies", "0", "--no-progress", "--jobs", "1", *extra]  # fmt: skip


def test_folds_test_every_recording_once_and_keep_each_work_on_one_side(tone_dataset):
    recordings = list_dataset(tone_dataset)
    splits = fold_splits(recordings, {r.path: 1 for r in recordings}, 3, 0.15, fold_seed=0)
    tested = [r.path for split in splits for r in split if r.split == "test"]
    assert sorted(tested) == sorted(r.path for r in recordings)
    for split in splits:
        sides = {}
        for r in split:
            sides.setdefault(r.group, set()).add(r.split)
        assert all(len(s) == 1 for s in sides.values())  # no work on two sides
        assert {r.label for r in split if r.split == "test"} == {"high", "low", "mid"}  # stratified
    assert fold_splits(recordings, {r.path: 1 for r in recordings}, 3, 0.15, fold_seed=1) != splits


def test_work_resamples_draw_whole_works_and_keep_every_class():
    labels = np.array([0, 0, 0, 1, 1, 1])
    works = np.array(["a", "a", "b", "c", "d", "d"])
    for sample in work_resamples(labels, works, 50, seed=0):
        assert set(labels[sample]) == {0, 1}
        drawn = works[sample]
        for work in set(drawn):  # a work comes whole, as often as it was drawn
            assert np.sum(drawn == work) % np.sum(works == work) == 0
    same = lambda at: float(len(at))  # noqa: E731
    assert paired_difference(same, same, labels, works, n=20) == (0.0, (0.0, 0.0))


def test_an_ensemble_rebuilt_from_members_averages_the_windows_they_share():
    from classicfy.crossval.compare import member_ensemble

    one = {"probs": np.array([[0.8, 0.2], [0.6, 0.4], [0.2, 0.8]]), "recording": np.array([0, 0, 1])}
    other = {"probs": np.array([[0.4, 0.6], [0.0, 1.0]]), "recording": np.array([0, 1])}  # one window fewer
    rebuilt = member_ensemble({"one": one, "other": other}, ("one", "other"))
    assert rebuilt["recording"].tolist() == [0, 1]
    assert rebuilt["probs"] == pytest.approx(np.array([[0.6, 0.4], [0.1, 0.9]]))
    assert member_ensemble({"one": one}, ("one",))["probs"] == pytest.approx(one["probs"])
    weighted = member_ensemble({"one": one, "other": other}, ("one", "other"), weights=(3.0, 1.0))
    assert weighted["probs"] == pytest.approx(np.array([[0.7, 0.3], [0.15, 0.85]]))


@pytest.mark.slow
def test_crossval_pools_every_recording_once_per_seed_and_resumes_without_redoing_folds(
    data, tmp_path, monkeypatch, capsys
):
    from classicfy.crossval import runner

    out = tmp_path / "CV"
    real = runner.evaluate_run
    calls = []

    def killed_after_the_first_fold(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt  # as a kill would stop it
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "evaluate_run", killed_after_the_first_fold)
    assert main(_cv_args(data, out, "--seeds", "0,1")) == 130
    first = out / "fold-seed-0" / "seed-0" / "fold-1"
    finished = {p: p.stat().st_mtime_ns for p in first.rglob("*") if p.is_file()}
    monkeypatch.setattr(runner, "evaluate_run", real)
    assert main(_cv_args(data, out, "--seeds", "0,1")) == 2  # an existing CV needs --resume
    assert "--resume" in capsys.readouterr().err
    assert main(_cv_args(data, out, "--seeds", "0,1", "--resume")) == 0
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # the finished fold was not touched
    printed = capsys.readouterr().out
    assert "gru" in printed and "ensemble" in printed and "baseline" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert [(r["fold_seed"], r["seed"]) for r in summary["runs"]] == [(0, 0), (0, 1)]
    n_recordings = len(list_dataset(data))
    for run in summary["runs"]:
        assert run["models"]["gru"]["recording"]["n"] == n_recordings  # each recording scored once per run
        assert len(run["models"]["gru"]["per_fold_macro_f1"]["recording"]) == 2
    spread = summary["models"]["ensemble"]["recording"]["macro_f1"]
    assert spread["min"] <= spread["mean"] <= spread["max"]
    assert (out / "report.html").read_text().count("<table>") == 3
    assert main(_cv_args(data, out, "--seeds", "0", "--resume")) == 2  # another plan in the same folder


@pytest.mark.slow
def test_compare_pairs_two_recipes_on_the_same_folds_and_refuses_other_folds(data, tmp_path, capsys):
    assert main(_cv_args(data, tmp_path / "A")) == 0
    assert main(_cv_args(data, tmp_path / "B", "--seed", "3", "--epochs", "2")) == 0
    capsys.readouterr()
    assert main(["crossval", "compare", str(tmp_path / "A"), str(tmp_path / "B")]) == 0
    out = capsys.readouterr().out
    assert "A - B [95% CI]" in out and all(name in out for name in ("gru", "ensemble", "baseline"))
    assert "within the noise" in out.split("baseline", 1)[1]  # the same baseline on both sides: no difference
    assert main(["crossval", "compare", str(tmp_path / "A"), str(tmp_path / "A"), "--ensemble-a", "gru"]) == 0
    assert "ensemble of A: gru" in capsys.readouterr().out
    assert main(["crossval", "compare", str(tmp_path / "A"), str(tmp_path / "A"), "--ensemble-b", "vgg"]) == 2
    assert "no model vgg" in capsys.readouterr().err
    assert main(_cv_args(data, tmp_path / "C", "--fold-seeds", "5")) == 0
    assert main(["crossval", "compare", str(tmp_path / "A"), str(tmp_path / "C")]) == 2
    assert "same folds" in capsys.readouterr().err


def test_crossval_never_writes_into_a_folder_that_is_not_its_own(data, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "summary.json").write_text("my summary")
    assert main(_cv_args(data, mine)) == 2
    assert "holds no cross-validation" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["summary.json"]
    damaged = tmp_path / "CV"
    damaged.mkdir()
    (damaged / "crossval.json").write_text("{")
    assert main(_cv_args(data, damaged, "--resume")) == 2
    assert "crossval.json is damaged" in capsys.readouterr().err
