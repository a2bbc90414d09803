"""Fixtures shared across the test folders: a small tone dataset and one trained run (made once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from classicfy.data.synthetic import write_tone_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Three labels x four works x two recordings of 6 s, made once per test module."""
    root = tmp_path_factory.mktemp("tones")
    write_tone_dataset(root, works_per_label=4, recordings_per_work=2, seconds=6.0)
    return root


@pytest.fixture
def tone_dataset(tmp_path: Path) -> Path:
    """Three labels x three works x two recordings of 3 s: `DATA/<label>/<work>/<n>.flac`."""
    root = tmp_path / "data"
    write_tone_dataset(root, works_per_label=3, recordings_per_work=2, seconds=3.0)
    return root


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> tuple[Path, Path, Path]:
    """The acceptance run of evaluation: `classicfy train DATA --out RUN --models cnn,gru --epochs 2` on
    three generated classes (2 s windows to keep it quick). Returns (DATA, RUN, cache)."""
    from classicfy.cli import main

    root = tmp_path_factory.mktemp("trained")
    data = root / "DATA"
    write_tone_dataset(data, works_per_label=5, recordings_per_work=2, seconds=8.0)
    args = ["train", str(data), "--out", str(root / "RUN"), "--models", "cnn,gru", "--epochs", "2",
            "--cache", str(root / "cache"), "--window", "2", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    return data, root / "RUN", root / "cache"
