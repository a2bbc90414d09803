"""`classicfy demo`: the main job on the built-in corpus: build it (once), train, evaluate, report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from classicfy.cli.options import add_device_option, add_work_options, positive_int, split_names, workspace
from classicfy.cli.output import print_evaluation
from classicfy.errors import ClassicfyError
from classicfy.training.recipes import demo_config


def add_parser(commands: Any) -> None:
    full, quick = demo_config(), demo_config(quick=True)  # the shipped recipes, read once for the help
    parser = commands.add_parser(
        "demo",
        help="run the main job on the built-in classical corpus",
        description="Build the built-in corpus (music21 scores rendered to audio on piano, labelled by composer) "
        "on first use, then train the CNN, GRU, VGG and pretrained-VGG models on it (classes oversampled to 300 "
        "windows per composer per epoch; training recordings augmented with pitch shifts of up to 6 semitones, "
        "one copy each, whatever the composer), evaluate them, their ensemble and a "
        "baseline on the held-out works, print the summary and write RUN/report.html.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("classicfy-demo"),
        metavar="RUN",
        help="run folder (default: %(default)s; an existing demo run is continued)",
    )
    parser.add_argument(
        "--models", default=",".join(full.models), metavar="A,B", help="models to train (default: %(default)s)"
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        help=f"most epochs per model (default: {full.train.epochs}, or {quick.train.epochs} with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few minutes instead of about half an hour: a small corpus (the shortest scores of each work, "
        "12 per composer, Beethoven's long quartets left out), 8 epochs of 100 windows per composer; for a first "
        "look, not for the figures",
    )
    add_work_options(parser)
    add_device_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The main job on the built-in corpus: build it (once), train, evaluate and report."""
    from classicfy.evaluation.pipeline import evaluate_run
    from classicfy.rundir import RunFolder
    from classicfy.training.pipeline import train_run
    from classicfy.training.recipes import demo_config

    work = workspace(args)
    try:
        config = demo_config(args.quick, split_names(args.models), args.epochs)
    except ValueError as error:
        raise ClassicfyError(str(error)) from None
    folder = RunFolder(args.out)
    resume = folder.exists()
    if resume:
        print(f"continuing the demo run in {args.out} with its own configuration (delete it to start afresh)")
        config = folder.read_config()
    result = train_run(config, args.out, work, resume=resume)
    print(
        f"built-in corpus: {len(result.recordings)} recordings of {len(result.labels)} composers "
        f"({', '.join(result.labels)})"
    )
    print_evaluation(evaluate_run(args.out, work))
    return 0
