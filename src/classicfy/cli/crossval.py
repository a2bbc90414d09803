"""`classicfy crossval DATA --out CV`: cross-validate a recipe; `classicfy crossval compare CV_A CV_B`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from classicfy.cli.options import add_device_option, add_feature_options, int_at_least, split_names, workspace
from classicfy.cli.recipe_options import add_recipe_options, recipe_config
from classicfy.errors import ClassicfyError

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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.targets[0] == "compare":
        return _compare(args)
    if len(args.targets) != 1:
        raise ClassicfyError("crossval takes one dataset (or: crossval compare CV_A CV_B)")
    if args.out is None:
        raise ClassicfyError("crossval needs --out CV, the folder to write")
    from classicfy.crossval.report import print_summary
    from classicfy.crossval.runner import CrossvalPlan, run_crossval
    from classicfy.devices import resolve_device

    work = workspace(args)
    resolve_device(work.device)  # an absent device is refused before the folds are planned
    data = args.targets[0]
    data = data if data.startswith("builtin:") else str(Path(data).resolve())
    try:
        plan = CrossvalPlan(recipe_config(args, data), args.folds, args.seeds, args.fold_seeds)
    except ValueError as error:
        raise ClassicfyError(str(error)) from None
    summary = run_crossval(plan, args.out, work, resume=args.resume)
    print_summary(summary)
    print(f"summary: {args.out / 'summary.json'}  report: {args.out / 'report.html'}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from classicfy.crossval.compare import compare_crossvals

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
