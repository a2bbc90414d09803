from __future__ import annotations

from pathlib import Path

from classicfy.cli import main


def test_default_cache_follows_the_environment(tone_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLASSICFY_CACHE", str(tmp_path / "envcache"))
    assert main(["features", str(tone_dataset), "--jobs", "1", "--window", "2", "--no-progress"]) == 0
    assert list(Path(tmp_path / "envcache" / "features").iterdir())
