"""`classicfy evaluate RUN`: score every model of a run, the ensemble and the baseline."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from classicfy.cli.options import (
    add_cluster_option,
    add_device_option,
    add_ensemble_option,
    add_work_options,
    workspace,
)
from classicfy.cli.output import print_evaluation


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a trained run: every model, the ensemble and the baseline",
        description="Evaluate every model of RUN, their ensemble (as the run saved it: the default weights, or weights "
        "fitted on the validation split; --fit-ensemble fits them now and saves them as the run's) and a "
        "logistic-regression baseline, at window and recording level, on the run's test split or on another "
        "labelled dataset (recordings with labels the run does not know, or that the run trained or validated on, "
        "are reported and skipped). Writes metrics.json, predictions.csv (every model's answer and probabilities "
        "for each recording), plots/ and report.html.",
    )
    parser.add_argument("run", type=Path, metavar="RUN", help="run folder written by classicfy train")
    parser.add_argument("--data", metavar="DATA", help="labelled dataset to evaluate on (default: the test split)")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to write the results (default: RUN, or RUN/evaluation-<DATA> with --data)",
    )
    parser.add_argument(
        "--force", action="store_true", help="write into a --out that holds other files (never over them)"
    )
    add_ensemble_option(parser)
    add_work_options(parser)
    add_cluster_option(parser)
    add_device_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Re-evaluate a run on its test split, or on another labelled dataset."""
    from classicfy.evaluation.pipeline import evaluate_run

    evaluation = evaluate_run(
        args.run,
        workspace(args),
        data=args.data,
        out=args.out,
        fitted_ensemble=True if args.fit_ensemble else None,
        force=args.force,
    )
    print_evaluation(evaluation)
    return 0
