"""Training throughput per model and precision: ten-second windows per second on this machine's 2 cores.

    python bench/train.py [--epochs 3] [--models cnn,gru,vgg] [--finetune]

Trains each model on generated recordings (three labels, 10 s windows of real cached features,
SpecAugment on, no augmented copies), in float32 and under bfloat16 autocast, in one process, and
reports the median over epochs of training windows per second (forward, backward and optimiser
step, batch 32, data read from the feature cache) and the ratio of the two. `--precision auto`
picks bf16 for the models whose ratio is above 1 on CPUs with native bfloat16. `--finetune` trains
the backbones of pretrained models too (`--models musicnn-pretrained,vgg-pretrained --finetune`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import torch

from classicfy.config import AugmentConfig, RunConfig, TrainConfig
from classicfy.data.synthetic import write_tone_dataset
from classicfy.devices import training_precision
from classicfy.models import MODELS
from classicfy.training.pipeline import train_run
from classicfy.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--models", default="cnn,gru,vgg")
    parser.add_argument("--finetune", action="store_true", help="train pretrained models' backbones too")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "train.json")
    args = parser.parse_args()
    models = tuple(args.models.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_tone_dataset(data, works_per_label=6, recordings_per_work=2, seconds=60.0)
        figures: dict[str, dict[str, float]] = {}
        for precision in ("fp32", "bf16"):
            config = RunConfig(
                data=str(data),
                models=models,
                train=TrainConfig(
                    epochs=args.epochs, patience=args.epochs, precision=precision, finetune=args.finetune
                ),
                augment=AugmentConfig(copies=0),
            )
            result = train_run(config, Path(tmp) / precision, Workspace(Path(tmp) / "cache", 2, False))
            for name, state in result.states.items():
                figures.setdefault(name, {})[precision] = statistics.median(
                    row["windows_per_s"] for row in state.history
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"threads": torch.get_num_threads(), "windows_per_s": figures}, indent=2))
    print(
        f"| model | fp32 windows/s | bf16 windows/s | bf16 / fp32 | auto picks |  ({torch.get_num_threads()} threads)"
    )
    print("|---|---|---|---|---|")
    for name, value in figures.items():
        ratio = value["bf16"] / value["fp32"]
        chosen = training_precision("auto", torch.device("cpu"), MODELS[name].prefers_bf16).name
        print(f"| {name} | {value['fp32']:.0f} | {value['bf16']:.0f} | {ratio:.2f} | {chosen} |")


if __name__ == "__main__":
    main()
