"""Two models of one kept cross-validation, paired on the same recordings, seed by seed.

    python bench/paired_models.py docs/results/NAME [--a ensemble] [--b baseline]

Reads the kept predictions.csv (`bench/keep_crossval.py`) and prints, for each run (fold seed,
seed), model A's recording macro-F1 minus model B's with a 95% interval over works resampled
within each class: what `classicfy crossval compare` gives for two recipes, here for two models
of one recipe.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from classicfy.evaluation.bootstrap import paired_difference
from classicfy.evaluation.metrics import macro_f1


def _paired(
    truth: np.ndarray, works: np.ndarray, a: np.ndarray, b: np.ndarray, n_labels: int
) -> tuple[float, tuple[float, float]]:
    """A's macro-F1 minus B's on the same recordings, and its interval over resampled works."""
    return paired_difference(
        lambda s: macro_f1(truth[s], a[s], n_labels), lambda s: macro_f1(truth[s], b[s], n_labels), truth, works
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="kept results, with a predictions.csv")
    parser.add_argument("--a", default="ensemble")
    parser.add_argument("--b", default="baseline")
    args = parser.parse_args()
    with open(args.folder / "predictions.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["model"] in (args.a, args.b)]
    labels = sorted({row["label"] for row in rows})
    index = {label: i for i, label in enumerate(labels)}
    print(f"| run | {args.a} - {args.b}, recording macro-F1 [95% CI] | recordings |\n|---|---|---:|")
    for run in sorted({(row["fold_seed"], row["seed"]) for row in rows}):
        answers: dict[str, dict[str, dict]] = {args.a: {}, args.b: {}}
        for row in rows:
            if (row["fold_seed"], row["seed"]) == run:
                answers[row["model"]][row["path"]] = row
        paths = sorted(answers[args.a])
        truth = np.array([index[answers[args.a][p]["label"]] for p in paths])
        works = np.array([answers[args.a][p]["group"] for p in paths])
        a, b = (np.array([index[answers[m][p]["predicted"]] for p in paths]) for m in (args.a, args.b))
        difference, (low, high) = _paired(truth, works, a, b, len(labels))
        print(f"| fold seed {run[0]}, seed {run[1]} | {difference:+.3f} [{low:+.3f}, {high:+.3f}] | {len(paths)} |")


if __name__ == "__main__":
    main()
