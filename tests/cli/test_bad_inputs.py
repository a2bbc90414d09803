# ruff: noqa: E501  (a table of cases reads best one case to a line)
"""Hostile input to every command: each case exits 2 with one error line naming the culprit, never a
traceback, and changes no file outside the folders the command may write (its cache and output)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from classicfy.cli import main
from helpers import edit_json, flip_a_byte, name_models, sine, write


@dataclass
class Sandbox:
    root: Path  # every path a case makes lies in here
    data: Path  # a healthy labelled dataset
    run: Path  # a healthy trained run (cnn, gru)
    cache: Path  # the run's cache

    def copy_run(self, damage: Callable[[Path], object] | None = None) -> Path:
        copy = self.root / "RUN"
        shutil.copytree(self.run, copy)
        if damage is not None:
            damage(copy)
        return copy

    def file(self, name: str, content: bytes | str = b"x") -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def recording(self) -> Path:
        return self.data / "low" / "work00" / "00.flac"

    def run_args(self, run: Path) -> list[str]:
        return [str(run), "--cache", str(self.cache), "--no-progress"]


def _csv(s: Sandbox, text: str) -> str:
    return str(s.file("bad.csv", text.replace("REC", str(s.recording()))))


def _one_label(s: Sandbox) -> str:
    return str(s.file("one.csv", f"path,label,group\n{s.recording()},low,w\n"))


def _corrupt_folder(s: Sandbox) -> str:
    s.file("corrupt/a/x.wav", b"RIFF" + bytes(200))
    s.file("corrupt/b/y.flac", b"fLaC" + bytes(200))
    return str(s.root / "corrupt")


def _foreign_folder(s: Sandbox) -> str:
    s.file("mine/notes.txt", "my notes")
    s.file("mine/report.html", "my report")
    return str(s.root / "mine")


def _empty(s: Sandbox) -> str:
    (s.root / "empty").mkdir()
    return str(s.root / "empty")


def _silent(s: Sandbox) -> str:
    return str(write(s.root / "silent.flac", np.zeros(44100, np.float32)))


def _truncated_mp3(s: Sandbox) -> str:
    whole = write(s.root / "whole.mp3", sine(14.0))
    cut = s.root / "cut.mp3"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    return str(cut)


# (id, argv from the sandbox, the words the error line must hold)
CASES: list[tuple[str, Callable[[Sandbox], list[str]], str]] = [
    ("features: missing dataset", lambda s: ["features", str(s.root / "nowhere")], "dataset not found"),
    ("features: empty folder", lambda s: ["features", _empty(s)], "no recordings found"),
    ("features: csv without label", lambda s: ["features", _csv(s, "path,group\nREC,w\n")], "needs columns 'path' and 'label'"),
    ("features: csv bad split", lambda s: ["features", _csv(s, "path,label,split\nREC,low,later\n")], "split must be one of"),
    ("features: csv binary", lambda s: ["features", str(s.file("bin.csv", bytes(range(256)) * 4))], "bin.csv"),
    ("features: csv empty path", lambda s: ["features", _csv(s, "path,label\n,low\n")], "empty path"),
    ("features: csv rendition of nothing", lambda s: ["features", _csv(s, "path,label,group,rendition_of\nREC,low,w,zz.wav\n")], "is a rendition of zz.wav"),
    ("features: cache is a file", lambda s: ["features", str(s.data), "--cache", str(s.file("cachefile"))], "cachefile"),
    ("features: nothing usable", lambda s: ["features", _corrupt_folder(s), "--cache", str(s.root / "c")], "no usable recordings"),
    ("features: unknown builtin", lambda s: ["features", "builtin:folk"], "unknown built-in dataset"),
    ("features: window below minimum", lambda s: ["features", str(s.data), "--window", "0.5"], "window_s must be at least 1.0 s"),
    ("features: jobs zero", lambda s: ["features", str(s.data), "--jobs", "0"], "--jobs"),
    ("train: unknown model", lambda s: ["train", str(s.data), "--out", str(s.root / "r"), "--models", "transformer"], "transformer"),
    ("train: model name is a path", lambda s: ["train", str(s.data), "--out", str(s.root / "r"), "--models", "../x"], "../x"),
    ("train: out is a file", lambda s: ["train", str(s.data), "--out", str(s.file("outfile")), "--cache", str(s.cache)], "outfile"),
    ("train: out is someone's folder", lambda s: ["train", str(s.data), "--out", _foreign_folder(s), "--cache", str(s.cache)], "holds no classicfy run"),
    ("train: one label", lambda s: ["train", _one_label(s), "--out", str(s.root / "r"), "--cache", str(s.cache)], "at least two labels"),
    ("train: out holds a run", lambda s: ["train", str(s.data), "--out", str(s.copy_run()), "--cache", str(s.cache)], "already holds a run"),
    ("train: resume another dataset", lambda s: ["train", _one_label(s), "--out", str(s.copy_run()), "--resume", "--cache", str(s.cache)], "was trained on"),
    ("train: split fractions", lambda s: ["train", str(s.data), "--out", str(s.root / "r"), "--val-fraction", "0.6", "--test-fraction", "0.6"], "fraction"),
    ("evaluate: no run", lambda s: ["evaluate", *s.run_args(s.root / "norun")], "not a complete classicfy run"),
    ("evaluate: config.toml garbage", lambda s: ["evaluate", *s.run_args(s.copy_run(lambda r: (r / "config.toml").write_text("models = [")))], "config.toml"),
    ("evaluate: labels not a list", lambda s: ["evaluate", *s.run_args(s.copy_run(lambda r: (r / "labels.json").write_text('{"a": 1}')))], "labels.json is damaged"),
    ("evaluate: split.csv unknown side", lambda s: ["evaluate", *s.run_args(s.copy_run(lambda r: (r / "split.csv").write_text((r / "split.csv").read_text().replace(",test", ",later"))))], "split.csv"),
    ("evaluate: split.csv empty", lambda s: ["evaluate", *s.run_args(s.copy_run(lambda r: (r / "split.csv").write_text("")))], "split.csv"),
    ("evaluate: model name escapes", lambda s: ["evaluate", *s.run_args(s.copy_run(lambda r: name_models(r, '["cnn", "x/../../../E"]')))], "is not a model name"),
    ("evaluate: weights flipped", lambda s: ["evaluate", *s.run_args(s.copy_run(lambda r: flip_a_byte(r / "models" / "gru.safetensors")))], "gru.safetensors is damaged"),
    ("evaluate: card format 99", lambda s: ["evaluate", *s.run_args(s.copy_run(lambda r: edit_json(r / "models" / "cnn.json", format=99)))], "cnn.json has model format 99"),
    ("evaluate: card missing", lambda s: ["evaluate", *s.run_args(s.copy_run(lambda r: (r / "models" / "cnn.json").unlink()))], "cnn.json"),
    ("evaluate: data of other labels", lambda s: ["evaluate", *s.run_args(s.run), "--data", _csv(s, "path,label\nREC,elsewhere\n")], "has a label the run knows"),
    ("evaluate: out is a file", lambda s: ["evaluate", *s.run_args(s.run), "--out", str(s.file("evalfile"))], "evalfile"),
    ("evaluate: out is someone's folder", lambda s: ["evaluate", *s.run_args(s.run), "--out", _foreign_folder(s)], "holds no classicfy run"),
    ("predict: no run", lambda s: ["predict", str(s.root / "norun"), str(s.recording())], "not a complete classicfy run"),
    ("predict: unknown model", lambda s: ["predict", str(s.run), str(s.recording()), "--model", "vgg"], "has no model 'vgg'"),
    ("predict: nothing usable", lambda s: ["predict", str(s.run), _corrupt_folder(s)], "no recording could"),
    ("predict: silent file", lambda s: ["predict", str(s.run), _silent(s)], "silent.flac"),
    ("predict: truncated mp3", lambda s: ["predict", str(s.run), _truncated_mp3(s)], "cut.mp3"),
    ("predict: missing file", lambda s: ["predict", str(s.run), str(s.root / "nofile.wav")], "nofile.wav"),
    ("predict: nan weights in ensemble", lambda s: ["predict", str(s.copy_run(lambda r: edit_json(r / "models" / "ensemble.json", weights=[float("nan"), 1.0]))), str(s.recording())], "ensemble.json is damaged"),
    ("predict: absurd card", lambda s: ["predict", str(s.copy_run(lambda r: edit_json(r / "models" / "cnn.json", input_shape=[1, 10**9, 87]))), str(s.recording())], "describes an input of shape"),
    ("predict: timeline is a file", lambda s: ["predict", str(s.run), str(s.recording()), "--timeline", str(s.file("tlfile"))], "tlfile"),
    ("predict: top-k zero", lambda s: ["predict", str(s.run), str(s.recording()), "--top-k", "0"], "--top-k"),
    ("tag: nothing usable", lambda s: ["tag", _corrupt_folder(s)], "no recording could be tagged"),
    ("tag: missing file", lambda s: ["tag", str(s.root / "nofile.wav")], "nofile.wav"),
    ("tag: unknown tagger", lambda s: ["tag", str(s.recording()), "--model", "gpt"], "--model"),
    ("export: no run", lambda s: ["export", str(s.root / "norun"), "--out", str(s.root / "e")], "not a complete classicfy run"),
    ("export: out is a file", lambda s: ["export", str(s.run), "--out", str(s.file("exportfile"))], "exportfile"),
    ("export: model name escapes", lambda s: ["export", str(s.copy_run(lambda r: name_models(r, '["../../E"]'))), "--out", str(s.root / "e")], "is not a model name"),
    ("transcribe: missing file", lambda s: ["transcribe", str(s.root / "nofile.wav"), "--out", str(s.root / "m")], "no recording could be transcribed"),
    ("transcribe: out is a file", lambda s: ["transcribe", str(s.recording()), "--out", str(s.file("midifile"))], "midifile"),
    ("crossval compare: not a cross-validation", lambda s: ["crossval", "compare", str(s.run), str(s.run)], "is not a cross-validation folder"),
    ("crossval compare: one folder", lambda s: ["crossval", "compare", str(s.run)], "takes two cross-validation folders"),
    ("crossval: out is someone's folder", lambda s: ["crossval", str(s.data), "--out", _foreign_folder(s)], "holds no cross-validation"),
    ("corpus build: out is a file", lambda s: ["corpus", "build", "--out", str(s.file("corpusfile")), "--composers", "bach"], "corpusfile"),
    ("corpus build: unknown composer", lambda s: ["corpus", "build", "--out", str(s.root / "r"), "--composers", "salieri"], "salieri"),
]  # fmt: skip


def _snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def sandbox(trained, tmp_path, monkeypatch) -> Sandbox:
    data, run, cache = trained
    monkeypatch.setenv("CLASSICFY_CACHE", str(tmp_path / "c"))  # a command given no --cache writes here
    return Sandbox(tmp_path, data, run, cache)


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "words"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_inputs_exit_2_with_one_line_naming_the_culprit(sandbox, capsys, argv, words):
    args = argv(sandbox)
    capsys.readouterr()
    trained_before = _snapshot(sandbox.run.parent)
    before = _snapshot(sandbox.root)
    try:
        code = main(args)
    except SystemExit as stop:  # refused by the option parser, as from the shell
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert "Traceback" not in err and len(errors) == 1, err
    assert words in err, err
    changed = {p for p, stamp in _snapshot(sandbox.root).items() if before.get(p) != stamp}
    allowed = (sandbox.root / "c", sandbox.root / "RUN", sandbox.root / "r")
    assert not [p for p in changed if not any(a == p or a in p.parents for a in allowed)]
    trained_after = _snapshot(sandbox.run.parent)
    assert {p for p in trained_after if trained_after[p] != trained_before.get(p) and "cache" not in p.parts} == set()
