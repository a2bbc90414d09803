"""`classicfy train DATA --out RUN`: train classifiers on a labelled dataset."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classicfy.cli.options import (
    add_device_option,
    add_ensemble_option,
    add_feature_options,
    positive_int,
    workspace,
)
from classicfy.cli.output import print_evaluation
from classicfy.cli.recipe_options import add_recipe_options, recipe_config
from classicfy.config import (
    RunConfig,
)
from classicfy.errors import ClassicfyError

if TYPE_CHECKING:
    from classicfy.training.pipeline import RunResult


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "train",
        help="train classifiers on a labelled dataset",
        description="Extract features, split by work (no work on two sides), augment and balance the training "
        "data, and train each model with early stopping on validation macro-F1. Writes the run folder RUN: "
        "config.toml, labels.json, split.csv, models/, history/, checkpoints/.",
    )
    parser.add_argument("data", metavar="DATA", help="dataset folder, CSV, builtin:composers or builtin:eras")
    parser.add_argument("--out", type=Path, required=True, metavar="RUN", help="run folder to write")
    add_recipe_options(parser)
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in RUN")
    parser.add_argument(
        "--force", action="store_true", help="write the run into a RUN that holds other files (never over them)"
    )
    add_ensemble_option(parser)
    add_feature_options(parser)
    add_device_option(parser)
    parser.add_argument(
        "--nproc",
        type=positive_int,
        default=1,
        metavar="N",
        help="train on N processes with DistributedDataParallel, launched as `torchrun --nproc-per-node N -m "
        "classicfy train ...` (default: 1, this process)",
    )
    parser.set_defaults(handler=run)


def _resumed_config(args: argparse.Namespace, data: str) -> RunConfig:
    from classicfy.rundir import RunFolder

    config = RunFolder(args.out).read_config()
    if config.data != data:
        raise ClassicfyError(f"{args.out} was trained on {config.data}, not {data}")
    if os.environ.get("RANK", "0") == "0":  # once, not once per torchrun rank
        print(f"resuming {args.out} with the options it began with (its config.toml); training options given now "
              "are not used", file=sys.stderr)  # fmt: skip
    return config


def run(args: argparse.Namespace) -> int:
    """Train the chosen models on DATA into the run folder RUN, then evaluate them if it has a test side."""
    from classicfy.devices import resolve_device
    from classicfy.evaluation.pipeline import evaluate_run
    from classicfy.training import distributed
    from classicfy.training.pipeline import train_run

    # A run remembers its dataset by absolute path, so that it can be resumed from anywhere.
    data = args.data if args.data.startswith("builtin:") else str(Path(args.data).resolve())
    resuming = args.resume and (args.out / "config.toml").exists()
    config = _resumed_config(args, data) if resuming else recipe_config(args, data)
    if config.rotate_validation and args.fit_ensemble:  # refused before training, not after it
        raise ClassicfyError("--fit-ensemble needs a validation side shared by every model: drop --rotate-validation")
    work = workspace(args)
    if args.nproc > 1 and not distributed.launched():
        return _launch(args.nproc, args.argv)
    if distributed.launched():
        work = replace(work, device=str(distributed.join_launched_group(resolve_device(work.device))))
    result = train_run(config, args.out, work, resume=args.resume, force=args.force)
    if distributed.launched():
        leader = distributed.ranks().leader
        distributed.leave_group()
        if not leader:
            return 0  # the leader reports and evaluates
    _print_training(result, config, args.out)
    if any(r.split == "test" for r in result.recordings):
        fitted = True if args.fit_ensemble else None  # None: a resumed run keeps the ensemble it saved
        print_evaluation(evaluate_run(args.out, work, fitted_ensemble=fitted))
    return 0


def _launch(nproc: int, argv: list[str]) -> int:
    """Run this same command as `torchrun --nproc-per-node N -m classicfy ...` and wait for its ranks."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    passed_on = [a for i, a in enumerate(argv) if a != "--nproc" and not a.startswith("--nproc=")
                 and (i == 0 or argv[i - 1] != "--nproc")]  # fmt: skip
    try:
        torchrun(["--nproc-per-node", str(nproc), "--standalone", "-m", "classicfy", *passed_on])
    except ChildFailedError:
        return 2  # the failing rank printed its own one-line error
    return 0


def _print_training(result: RunResult, config: RunConfig, out: Path) -> None:
    from classicfy.models import MODELS

    print(f"run: {out}  ({len(result.labels)} labels: {', '.join(result.labels)})")
    for name, state in result.states.items():
        if MODELS[name].answers_recordings:  # fitted once: no epochs to tell of
            print(f"  {name:<8} validation macro-F1 {state.best_score:.3f} per recording (fitted in closed form)")
            continue
        stop = "stopped early" if state.stopped_early else f"{state.epoch} epochs"
        kept = "" if config.train.keep == "best" else f", kept epoch {state.epoch}"
        print(f"  {name:<8} best validation macro-F1 {state.best_score:.3f} at epoch {state.best_epoch} ({stop}{kept})")
