"""Training throughput per model: ten-second windows per second on this machine's 2 cores.

    python bench/train.py [--epochs 3] [--models cnn,gru,vgg]

Trains each model on generated recordings (three labels, 10 s windows of real cached features,
SpecAugment on, no augmented copies) and reports the median over epochs of training windows per
second (forward, backward and optimiser step, batch 32, data read from the feature cache).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import torch

from classicfy.augment import AugmentConfig
from classicfy.run import RunConfig, train_run
from classicfy.synthetic import write_tone_dataset
from classicfy.train import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--models", default="cnn,gru,vgg")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "train.json")
    args = parser.parse_args()
    models = tuple(args.models.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_tone_dataset(data, works_per_label=6, recordings_per_work=2, seconds=60.0)
        config = RunConfig(
            data=str(data),
            models=models,
            train=TrainConfig(epochs=args.epochs, patience=args.epochs),
            augment=AugmentConfig(copies=0),
        )
        result = train_run(config, Path(tmp) / "run", Path(tmp) / "cache", jobs=2, progress=False)
    figures = {
        name: statistics.median(row["windows_per_s"] for row in state.history) for name, state in result.states.items()
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"threads": torch.get_num_threads(), "windows_per_s": figures}, indent=2))
    print(f"| model | training windows/s (10 s windows, {torch.get_num_threads()} threads) |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value:.0f} |")


if __name__ == "__main__":
    main()
