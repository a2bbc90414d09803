from __future__ import annotations

import shutil

import pytest

from classicfy.cli import main
from classicfy.errors import RunError
from classicfy.rundir import RunFolder
from helpers import name_models


def _crafted(run, tmp_path):
    """A copy of a trained run whose config.toml names a model by a path out of the run."""
    copy = tmp_path / "deep" / "er" / "RUN"
    shutil.copytree(run, copy)
    name_models(copy, '["cnn", "x/../../../../ESCAPED"]')
    return copy


@pytest.mark.parametrize("command", ["evaluate", "predict", "export"])
def test_a_model_name_that_is_a_path_is_refused_and_nothing_is_written_outside(trained, tmp_path, capsys, command):
    """Issue 23, defect 4: names from a crafted config.toml were joined into paths unchecked."""
    data, run, cache = trained
    copy = _crafted(run, tmp_path)
    before = {p for p in tmp_path.rglob("*")}
    args = {
        "evaluate": ["evaluate", str(copy), "--cache", str(cache), "--no-progress"],
        "predict": ["predict", str(copy), str(data / "low" / "work00" / "00.flac")],
        "export": ["export", str(copy), "--out", str(tmp_path / "exported")],
    }[command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "is not a model name" in err and err.count("\n") == 1 and "Traceback" not in err
    assert not [p for p in tmp_path.rglob("*") if p not in before and copy not in p.parents]


def test_run_folder_paths_never_leave_the_run(tmp_path):
    run = RunFolder(tmp_path / "RUN")
    assert run.weights_path("vgg-pretrained") == tmp_path / "RUN" / "models" / "vgg-pretrained.safetensors"
    for name in ("../x", "a/b", "", "..", "C:x", "Cnn"):
        with pytest.raises(RunError, match="is not a model name"):
            run.card_path(name)


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text.replace("path,label,group,split", "path,label,group"),
        lambda text: text.replace(",test\n", ",elsewhere\n", 1),
        lambda text: text.replace(",low,", ",nobody,", 1),
        lambda text: text.replace("\n", "\n\x00,,,\n", 1),
        lambda text: "",
        lambda text: text + "just one field\n",
    ],
    ids=["no split column", "unknown side", "unknown label", "empty row", "empty file", "short row"],
)
def test_a_damaged_split_csv_is_a_one_line_error(trained, tmp_path, capsys, damage):
    """Issue 23, defect 6: a damaged split.csv made `evaluate` raise a KeyError with a traceback."""
    _, run, cache = trained
    copy = tmp_path / "RUN"
    shutil.copytree(run, copy)
    split = copy / "split.csv"
    split.write_text(damage(split.read_text()))
    assert main(["evaluate", str(copy), "--cache", str(cache), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "split.csv" in err and err.count("\n") == 1 and "Traceback" not in err


def test_train_and_evaluate_never_write_over_files_they_did_not_write(trained, tmp_path, capsys):
    """Issue 23, defect 2: `train --out` / `evaluate --out` into a user's folder overwrote report.html."""
    data, run, cache = trained
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.html").write_text("my own report")
    common = ["--cache", str(cache), "--no-progress"]
    train = ["train", str(data), "--out", str(mine), "--models", "gru", "--epochs", "1", "--window", "2", *common]
    assert main(train) == 2
    assert "is not empty and holds no classicfy run" in capsys.readouterr().err
    assert main([*train, "--force"]) == 2  # beside other files, yes; over them, never
    assert "report.html was not written by classicfy" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--out", str(mine), *common]) == 2
    assert main(["evaluate", str(run), "--out", str(mine), "--force", *common]) == 2
    assert (mine / "report.html").read_text() == "my own report"
    assert sorted(p.name for p in mine.iterdir()) == ["report.html"]
    (mine / "report.html").rename(mine / "notes.html")
    assert main(["evaluate", str(run), "--out", str(mine), "--force", *common]) == 0
    assert main(["evaluate", str(run), "--out", str(mine), *common]) == 0  # its own evaluation: written again
    assert (mine / "notes.html").read_text() == "my own report"
