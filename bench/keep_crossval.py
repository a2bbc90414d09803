"""Keep a cross-validation's figures in the repository, so every reported number can be traced.

    python bench/keep_crossval.py CV docs/results/NAME

Copies CV/summary.json and CV/crossval.json (the plan and recipe), and gathers every fold's
predictions.csv into one predictions.csv with `fold_seed,seed,fold` columns first: each
recording's answer from every model of every run. `python bench/results_table.py` makes the README
and docs tables from these files.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
from pathlib import Path

from classicfy import atomic
from classicfy.crossval.runner import run_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cv", type=Path, help="a finished classicfy crossval folder")
    parser.add_argument("dest", type=Path, help="folder to keep its figures in, e.g. docs/results/NAME")
    args = parser.parse_args()
    plan = json.loads((args.cv / "crossval.json").read_text())
    args.dest.mkdir(parents=True, exist_ok=True)
    for name in ("summary.json", "crossval.json"):
        shutil.copyfile(args.cv / name, args.dest / name)
    buffer, writer = io.StringIO(), None
    for fold_seed in plan["fold_seeds"]:
        for seed in plan["seeds"]:
            for fold in range(1, plan["folds"] + 1):
                with open(run_folder(args.cv, fold_seed, seed, fold) / "predictions.csv", newline="") as handle:
                    for row in csv.DictReader(handle):
                        row = {"fold_seed": fold_seed, "seed": seed, "fold": fold, **row}
                        if writer is None:
                            writer = csv.DictWriter(buffer, fieldnames=list(row), lineterminator="\n")
                            writer.writeheader()
                        writer.writerow(row)
    atomic.write_text(args.dest / "predictions.csv", buffer.getvalue())
    print(f"kept {args.cv} in {args.dest}")


if __name__ == "__main__":
    main()
