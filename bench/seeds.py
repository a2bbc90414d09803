"""How far the models' own randomness moves the cross-validated figures: several `crossval.py` seeds side by side.

    python bench/crossval.py --seed 0 --out bench/out/crossval
    python bench/crossval.py --seed 1 --out bench/out/crossval-seed1
    python bench/seeds.py bench/out/crossval bench/out/crossval-seed1

Every run holds the same test folds (those of seed 0); only the initial weights, batch order, masks
and augmented copies differ. Per model and level: the pooled macro-F1 of each seed, their mean and
spread, and the ensemble's margin over the model in each seed. A recipe change smaller than the
spread is not told apart by one cross-validation.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

LEVELS = {"segment": "window", "recording": "recording"}


def read_summaries(folders: list[Path]) -> list[dict]:
    """Each folder's `summary.json`; all of one recipe and fold count, else the comparison means nothing."""
    summaries = [json.loads((folder / "summary.json").read_text()) for folder in folders]
    kinds = {(s["recipe"], s["folds"]) for s in summaries}
    if len(kinds) != 1:
        raise SystemExit(f"the runs differ in recipe or folds: {sorted(kinds)}")
    return summaries


def table(summaries: list[dict]) -> str:
    seeds = [str(s.get("seed", 0)) for s in summaries]
    header = ["model", "level", *(f"seed {seed}" for seed in seeds), "mean", "spread", "ensemble minus model"]
    rows = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for name in summaries[0]["models"]:
        for level, level_name in LEVELS.items():
            scores = np.array([s["models"][name][level]["pooled"] for s in summaries])
            ensemble = np.array([s["models"]["ensemble"][level]["pooled"] for s in summaries])
            margins = "" if name == "ensemble" else " ".join(f"{m:+.3f}" for m in ensemble - scores)
            cells = [name, level_name, *(f"{x:.3f}" for x in scores), f"{scores.mean():.3f}"]
            cells += [f"{scores.max() - scores.min():.3f}", margins]
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="output folders of bench/crossval.py, one per seed")
    args = parser.parse_args()
    print(table(read_summaries(args.runs)))
    print("\nPooled macro-F1 over each run's folds; spread: highest seed minus lowest.")


if __name__ == "__main__":
    main()
