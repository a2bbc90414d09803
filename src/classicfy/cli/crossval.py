"""`classicfy crossval DATA --out CV`: cross-validate a recipe; `classicfy crossval compare CV_A CV_B`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from classicfy.cli.options import add_device_option, add_feature_options, int_at_least, split_names, workspace
from classicfy.cli.recipe_options import add_recipe_options, run_config
from classicfy.config import RunConfig
from classicfy.errors import ClassicfyError

RECIPES = ("demo", "demo-quick")
USAGE = """classicfy crossval DATA --out CV [--folds K] [--seeds 0,1,2] [--fold-seeds 0] [--config RECIPE]
                          [--resume] [--jobs N] [training options of classicfy train]
       classicfy crossval compare CV_A CV_B [--ensemble-a M,M] [--ensemble-b M,M]"""


def _seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"a comma-separated list of seeds, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"distinct seeds of 0 or more, got {text!r}")
    return seeds


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "crossval",
        help="cross-validate a recipe over folds grouped by work, and compare two recipes",
        usage=USAGE,
        description="Deal the works of each label into K folds (stratified by label, grouped by work); train the "
        "recipe once per fold and seed, with the fold's works as the test side, and score every recording once per "
        "seed by models that never heard its work. Writes CV/summary.json and CV/report.html (pooled metrics per "
        "seed, their mean and spread, the range over folds, bootstrap intervals over works, per-class recall) and "
        "prints the table. `crossval compare CV_A CV_B` pairs two recipes scored on the same folds: each model's "
        "difference in recording macro-F1 with a 95% interval over resampled works, and whether it is within the "
        "noise.",
    )
    parser.add_argument("targets", nargs="+", metavar="DATA", help="dataset (or: compare CV_A CV_B)")
    parser.add_argument("--out", type=Path, metavar="CV", help="cross-validation folder to write")
    parser.add_argument("--folds", type=int_at_least(2), default=4, metavar="K", help="folds (default: %(default)s)")
    parser.add_argument(
        "--seeds", type=_seed_list, default=(0,), metavar="S,S", help="seeds of the models' randomness (default: 0)"
    )
    parser.add_argument(
        "--fold-seeds", type=_seed_list, default=(0,), metavar="S,S", help="seeds that deal the folds (default: 0)"
    )
    parser.add_argument(
        "--config",
        choices=RECIPES,
        help="a named recipe (demo: the demo's; demo-quick: its quick one), the options given here override it "
        "(default: the options of classicfy train)",
    )
    parser.add_argument("--resume", action="store_true", help="continue a killed cross-validation in CV")
    for side in ("a", "b"):
        parser.add_argument(
            f"--ensemble-{side}",
            type=split_names,
            metavar="M,M",
            help=f"compare: rebuild {side.upper()}'s ensemble from these of its models (CV_A may be CV_B)",
        )
    add_recipe_options(parser)
    add_feature_options(parser)
    add_device_option(parser)
    parser.set_defaults(handler=run, parser=parser)


def _recipe(args: argparse.Namespace, data: str) -> RunConfig:
    """The recipe: a named one with the options given on the command line over it, or the options alone."""
    from dataclasses import replace

    from classicfy.training.recipes import demo_config

    config = run_config(args, data)
    if args.config is None:
        return config
    recipe = replace(demo_config(args.config == "demo-quick"), data=data)
    return _override(recipe, config, args)


def _override(recipe: RunConfig, given: RunConfig, args: argparse.Namespace) -> RunConfig:
    """`recipe` with every option that differs from its command-line default taken from `given`."""
    from dataclasses import fields, replace

    parser = args.parser
    changed = {dest for dest, value in vars(args).items() if dest != "parser" and value != parser.get_default(dest)}
    updates: dict[str, Any] = {}
    for section in ("train", "augment", "features"):
        base, mine = getattr(recipe, section), getattr(given, section)
        differing = {
            f.name: getattr(mine, f.name) for f in fields(mine) if getattr(mine, f.name) != getattr(base, f.name)
        }
        updates[section] = replace(base, **{k: v for k, v in differing.items() if _given(k, changed)})
    top = {name: getattr(given, name) for name in ("models", "val_fraction", "test_fraction", "rotate_validation")}
    return replace(recipe, **updates, **{k: v for k, v in top.items() if _given(k, changed)})


# Config fields named otherwise on the command line.
_OPTION_OF = {"learning_rate": "lr", "ema_epochs": "ema", "copies": "augment_copies", "fill_to": "augment_fill",
              "max_semitones": "pitch_shift", "audio": "window"}  # fmt: skip


def _given(field: str, changed: set[str]) -> bool:
    return _OPTION_OF.get(field, field) in changed or (field == "audio" and bool({"sr", "hop"} & changed))


def run(args: argparse.Namespace) -> int:
    if args.targets[0] == "compare":
        return _compare(args)
    if len(args.targets) != 1:
        raise ClassicfyError("crossval takes one dataset (or: crossval compare CV_A CV_B)")
    if args.out is None:
        raise ClassicfyError("crossval needs --out CV, the folder to write")
    from classicfy.devices import resolve_device
    from classicfy.evaluation.crossval import CrossvalPlan, run_crossval
    from classicfy.evaluation.crossval_report import print_summary

    work = workspace(args)
    resolve_device(work.device)  # an absent device is refused before the folds are planned
    data = args.targets[0]
    data = data if data.startswith("builtin:") else str(Path(data).resolve())
    try:
        plan = CrossvalPlan(_recipe(args, data), args.folds, args.seeds, args.fold_seeds)
    except ValueError as error:
        raise ClassicfyError(str(error)) from None
    summary = run_crossval(plan, args.out, work, resume=args.resume)
    print_summary(summary)
    print(f"summary: {args.out / 'summary.json'}  report: {args.out / 'report.html'}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from classicfy.evaluation.compare import compare_crossvals

    if len(args.targets) != 3:
        raise ClassicfyError("crossval compare takes two cross-validation folders: compare CV_A CV_B")
    a, b = args.targets[1:]
    comparisons = compare_crossvals(a, b, members=(args.ensemble_a, args.ensemble_b))
    print(f"A = {a}, B = {b}: recording macro-F1, paired on the same recordings (95% interval over works)")
    for side, members in (("A", args.ensemble_a), ("B", args.ensemble_b)):
        if members:
            print(f"ensemble of {side}: {', '.join(members)}")
    rows = [["model", "A", "B", "A - B [95% CI]", "verdict"]]
    for c in comparisons:
        low, high = c.interval
        rows.append([c.model, f"{c.a:.3f}", f"{c.b:.3f}", f"{c.difference:+.3f} [{low:+.3f}, {high:+.3f}]", c.verdict])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))).rstrip())
    return 0
