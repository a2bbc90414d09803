"""What several test files share: tones made on the spot, files written where asked, the CLI run as from
the shell, and a quick run configuration of the tone dataset."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from classicfy.config import AudioConfig, AugmentConfig, FeatureConfig, RunConfig, TrainConfig

SR = 22050
DATA = Path(__file__).resolve().parent / "data"  # the few real fixtures the tests ship


def sine(seconds: float, freq: float = 440.0, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path: Path, samples: np.ndarray, sr: int = SR, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, sr, **kwargs)
    return path


def edit_json(path: Path, **changes: Any) -> None:
    """A run file's JSON object with some keys changed, as a hand or a fault would change them."""
    import json

    path.write_text(json.dumps(json.loads(path.read_text()) | changes))


def flip_a_byte(path: Path) -> None:
    """One byte near the end of a file changed: a weights file still loads, and would answer differently."""
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x10
    path.write_bytes(bytes(data))


def name_models(run: Path, names: str) -> None:
    """A run's config.toml with its `models` list replaced by `names` (TOML), as a crafted run would have it."""
    import re

    config = run / "config.toml"
    config.write_text(re.sub(r"models = \[[^\]]*\]", f"models = {names}", config.read_text(), flags=re.S))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m classicfy.cli ARGS` in a child process, as from the shell."""
    return subprocess.run([sys.executable, "-m", "classicfy.cli", *args], capture_output=True, text=True, timeout=300)


def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every command path of the parser and its own parser, nested ones (corpus build) included."""
    found: dict[tuple[str, ...], Any] = {}
    for action in parser._actions:  # argparse keeps its subcommands there, and nowhere public
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= {(*prefix, name): sub} | subcommands(sub, (*prefix, name))
    return found


# Two-second windows keep the trained tests quick.
FEATURES = FeatureConfig(audio=AudioConfig(window_s=2.0, hop_s=2.0))


def config_for(data: Path, models: tuple[str, ...], epochs: int, copies: int = 0, **train: Any) -> RunConfig:
    """A run of the tone dataset: half its works held out, small batches, `copies` augmented copies."""
    return RunConfig(
        data=str(data),
        models=models,
        val_fraction=0.25,
        test_fraction=0.25,
        features=FEATURES,
        train=TrainConfig(epochs=epochs, batch_size=8, **train),
        augment=AugmentConfig(copies=copies),
    )


def free_port() -> int:
    """A loopback port nothing listens on now (the system's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
