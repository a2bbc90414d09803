from __future__ import annotations

from functools import partial

import pytest

from classicfy.cli import main
from classicfy.config import BuildOptions
from classicfy.data import builtin


@pytest.mark.slow
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


def test_demo_refuses_an_empty_model_list(tmp_path, capsys):
    assert main(["demo", "--models", ",", "--out", str(tmp_path / "d"), "--cache", str(tmp_path)]) == 2
    assert "at least one model" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_demo_builds_its_own_small_corpus_and_reports_ensemble_and_baseline(tmp_path, monkeypatch, capsys):
    import json

    small = partial(BuildOptions, composers=("bach", "monteverdi"), max_pieces_per_composer=5, prefer_short=True)
    monkeypatch.setattr(builtin, "quick_options", small)
    run = tmp_path / "RUN"
    args = ["demo", "--quick", "--out", str(run), "--models", "cnn,gru", "--epochs", "1",
            "--cache", str(tmp_path / "cache"), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert "2 composers (bach, monteverdi)" in capsys.readouterr().out
    assert (tmp_path / "cache" / "corpus" / "piano-quick-v2" / "manifest.csv").is_file()
    assert 'data = "builtin:composers-quick"' in (run / "config.toml").read_text()
    assert "max_semitones = 6.0" in (run / "config.toml").read_text()  # every key: no composer told by key
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"cnn", "gru", "ensemble", "baseline"} <= set(metrics["models"]) and (run / "report.html").is_file()
