"""Grouped k-fold cross-validation of the demo's recipe: every work of the built-in corpus is held out once.

    python bench/crossval.py [--folds 4] [--out bench/out/crossval] [--quick] [--balance-copies] [--keep last]
                              [--rotate-validation] [--seed 0]

The demo scores one split, whose 26 test recordings come from about a dozen works: one work can
decide a class's F1. Here the works of each composer are dealt into `--folds` folds (stratified by
composer, grouped by work); each fold is the test side of a run trained exactly as `classicfy demo`
trains, with a validation side drawn from the other folds. The summary pools the confusion matrices
of all folds (each recording is scored once, by the run that never saw its work) and gives each
model's macro-F1, per window and per recording, with the lowest and highest fold. About 75 minutes on 2 cores
for 4 folds; finished folds are kept, so a killed run continues where it stopped.

`--seed` changes what the models' own randomness draws (initial weights, batch order, masks, the
augmented copies) and nothing else: the folds and their validation sides are always those of seed 0.
Runs with several seeds show how far that randomness alone moves each model's figures, the noise
under any comparison of recipes.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from classicfy import atomic
from classicfy.config import KEEPS, RunConfig
from classicfy.data.builtin import resolve_dataset
from classicfy.data.manifest import Recording, list_dataset, split_by_group
from classicfy.evaluation.pipeline import evaluate_run
from classicfy.features.extraction import extract_dataset
from classicfy.rundir import RunFolder
from classicfy.training.pipeline import train_run
from classicfy.training.recipes import demo_config
from classicfy.workspace import Workspace

LEVELS = ("segment", "recording")
SPLIT_SEED = 0  # the folds and validation sides of every run, whatever its --seed


def fold_splits(config: RunConfig, folds: int, work: Workspace) -> list[list[Recording]]:
    """Each fold's recordings with train/val/test sides: the fold's works are the test side."""
    source = resolve_dataset(config.data, work)
    report = extract_dataset(list_dataset(source), config.features, work)
    recordings, windows = report.recordings, report.windows_per_recording()
    labels = [r.label for r in recordings]
    groups = [r.group for r in recordings]
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=SPLIT_SEED)
    val_fraction = config.val_fraction / (1 - 1 / folds)  # the demo's share of all recordings
    splits = []
    for rest, held_out in splitter.split(np.zeros(len(recordings)), labels, groups):
        sides = split_by_group(
            [recordings[i] for i in rest], val_fraction, 0.0, SPLIT_SEED, windows, config.validation_draws
        )
        test = [recordings[i] for i in held_out]
        splits.append(sides + [replace(r, split="test") for r in test])
    return splits


def macro_f1(confusion: np.ndarray) -> float:
    """Macro-F1 from a confusion matrix (rows true, columns predicted), every label counted: pooled
    over all folds, every composer has windows."""
    true_positives = np.diag(confusion).astype(float)
    denominators = confusion.sum(axis=0) + confusion.sum(axis=1)
    f1 = np.divide(2 * true_positives, denominators, out=np.zeros_like(true_positives), where=denominators > 0)
    return float(f1.mean())


def refuse_another_recipe(run_dir: Path, config: RunConfig) -> None:
    """A fold is continued or reused only under the config it started with: another seed or recipe
    in the same `--out` would otherwise report the old fold's figures under the new name."""
    saved = run_dir / "config.toml"
    if saved.exists() and saved.read_text() != config.to_toml():
        raise SystemExit(f"{run_dir} was run with another recipe or seed (its config.toml): give another --out")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="the quick demo's recipe and corpus (minutes)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "crossval")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument(
        "--balance-copies", action="store_true", help="the recipe with every class drawn with one share of copies"
    )
    parser.add_argument(
        "--keep", choices=KEEPS, default="best", help="the weights each model keeps (see classicfy train)"
    )
    parser.add_argument(
        "--rotate-validation",
        action="store_true",
        help="the recipe with each model validating on its own works (see classicfy train)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the models' initial weights, batch order and augmented copies; the folds stay those of seed 0",
    )
    args = parser.parse_args()
    config = demo_config(args.quick)
    config = replace(
        config,
        rotate_validation=config.rotate_validation or args.rotate_validation,
        train=replace(config.train, balance_copies=args.balance_copies, keep=args.keep, seed=args.seed),
        augment=replace(config.augment, seed=args.seed),
    )
    work = Workspace.create(jobs=args.jobs, progress=False if args.no_progress else None)
    metrics = []
    for fold, recordings in enumerate(fold_splits(config, args.folds, work)):
        run_dir = args.out / f"fold-{fold + 1}"
        refuse_another_recipe(run_dir, config)
        if not (run_dir / "metrics.json").exists():
            run_dir.mkdir(parents=True, exist_ok=True)
            if not (run_dir / "config.toml").exists():
                RunFolder(run_dir).write_split(recordings)
                atomic.write_text(run_dir / "config.toml", config.to_toml())
            train_run(config, run_dir, work, resume=True)
            evaluate_run(run_dir, work)
        metrics.append(json.loads((run_dir / "metrics.json").read_text())["models"])

    names = list(metrics[0])
    summary = {"folds": args.folds, "recipe": "quick" if args.quick else "full", "seed": args.seed, "models": {}}
    print(f"| model ({args.folds} folds, {summary['recipe']} recipe) | window macro-F1 | recording macro-F1 |")
    print("|---|---:|---:|")
    for name in names:
        row = {}
        for level in LEVELS:
            pooled = sum(np.asarray(m[name][level]["confusion_matrix"]) for m in metrics)
            per_fold = [m[name][level]["macro_f1"] for m in metrics]
            row[level] = {"pooled": macro_f1(pooled), "folds": per_fold}
        summary["models"][name] = row
        cells = [
            f"{row[level]['pooled']:.3f} ({min(row[level]['folds']):.2f}-{max(row[level]['folds']):.2f})"
            for level in LEVELS
        ]
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    print("\nPooled over the folds' confusion matrices; in brackets the lowest and highest fold.")
    atomic.write_text(args.out / "summary.json", json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
