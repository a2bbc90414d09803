from __future__ import annotations

from pathlib import Path

from classicfy.cli import main


def _commands(parser, prefix=()) -> dict[tuple[str, ...], object]:
    """Every command path of the parser and its own parser, nested ones (corpus build) included."""
    import argparse

    found = {}
    for action in parser._actions:  # argparse keeps its subcommands there, and nowhere public
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= {(*prefix, name): sub} | _commands(sub, (*prefix, name))
    return found


def test_default_cache_follows_the_environment(tone_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLASSICFY_CACHE", str(tmp_path / "envcache"))
    assert main(["features", str(tone_dataset), "--jobs", "1", "--window", "2", "--no-progress"]) == 0
    assert list(Path(tmp_path / "envcache" / "features").iterdir())
