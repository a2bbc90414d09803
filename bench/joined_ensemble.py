"""An ensemble of models from cross-validations on the same folds, as one run would average them.

    python bench/joined_ensemble.py CV_A CV_B [CV_C ...] --members cnn,gru,vgg,vgg-pretrained,vgg-probe
        [--against vgg-probe,ensemble,cnn+gru+vgg+vgg-pretrained] [--recording-weight 0.5]

Adding a model to a recipe would otherwise mean cross-validating every model again. The models of
CV_A, CV_B, ... were scored on the same folds, so their window answers can be pooled: for each run
(fold seed, seed) of A, the plain ensemble of `--members` is rebuilt as `classicfy crossval
compare --ensemble-a` rebuilds one. The others may hold one seed only when their models are
deterministic (such as `vgg-probe`, fitted in closed form): that seed then stands beside every seed
of A. `--recording-weight W` gives the members that answer whole recordings the weight W together,
and the window members 1 - W (default: every member the same weight).

Prints each run's recording macro-F1 of the joined ensemble, its window macro-F1 (the mix of its
members that answer windows, as a run scores an ensemble that holds a recording model) and, paired
on the same recordings, its difference from each model named by `--against`, where `a+b` is the
plain ensemble of a and b (95% interval over works resampled in each class).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from classicfy.crossval.compare import member_ensemble
from classicfy.crossval.runner import PLAN_FILE, PooledWindows, pooled_windows
from classicfy.evaluation.bootstrap import paired_difference
from classicfy.evaluation.ensemble import EnsembleModel
from classicfy.evaluation.metrics import macro_f1, recording_probabilities


def _plan(folder: Path) -> dict:
    return json.loads((folder / PLAN_FILE).read_text())


def _answers(model: dict[str, np.ndarray]) -> np.ndarray:
    probs, _ = recording_probabilities(model["probs"], model["recording"])
    return probs.argmax(axis=1)


def _window_f1(
    models: dict[str, dict[str, np.ndarray]], members: tuple[str, ...], recording_only: set[str], n_labels: int
) -> str:
    """The window macro-F1 of the mix of `members` that answer windows ("-" if none does)."""
    window_members = tuple(name for name in members if name not in recording_only)
    if not window_members:
        return "-"
    mix = member_ensemble(models, window_members)
    reference = models[window_members[0]]
    labels = [
        reference["labels"][reference["recording"] == index][: np.sum(mix["recording"] == index)]
        for index in np.unique(mix["recording"])
    ]
    return f"{macro_f1(np.concatenate(labels), mix['probs'].argmax(axis=1), n_labels):.3f}"


def _print_difference(
    name: str, truth: np.ndarray, works: np.ndarray, joined: list[np.ndarray], other: list[np.ndarray], n_labels: int
) -> None:
    """The joined ensemble's macro-F1 minus `name`'s, each the mean over the runs given, paired on
    the same recordings and resamples (as `crossval compare` pairs two recipes)."""

    def statistic(runs: list[np.ndarray]):
        return lambda s: float(np.mean([macro_f1(truth[s], run[s], n_labels) for run in runs]))

    difference, (low, high) = paired_difference(statistic(joined), statistic(other), truth, works)
    figure = statistic(other)(np.arange(len(truth)))
    print(f"  minus {name} ({figure:.3f}): {difference:+.3f} [{low:+.3f}, {high:+.3f}]")


def _joined_models(
    a: PooledWindows, folders: list[Path], plans: list[dict], fold_seed: int, seed: int
) -> tuple[dict[str, dict[str, np.ndarray]], set[str]]:
    """The models of A and of the other folders on one run's folds, and which answer recordings."""
    models, recording_only = {}, set(a.recording_only)
    for folder, plan in zip(folders, plans, strict=True):
        own_seed = seed if seed in plan["seeds"] else plan["seeds"][0]
        other = pooled_windows(folder, plan["folds"], fold_seed, own_seed)
        if [r["path"] for r in a.recordings] != [r["path"] for r in other.recordings]:
            raise SystemExit("the cross-validations did not test the same recordings in the same folds")
        models |= other.models
        recording_only |= other.recording_only
    return models | a.models, recording_only  # A's ensemble and baseline stand for A's recipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="a finished cross-validation folder")
    parser.add_argument("others", type=Path, nargs="+", help="others, on the same folds")
    parser.add_argument("--members", required=True, help="comma-separated models of the folders to average")
    parser.add_argument(
        "--against", default="ensemble", help="comma-separated models (or a+b ensembles) to pair it with"
    )
    parser.add_argument("--recording-weight", type=float, help="the weight of the recording models together")
    args = parser.parse_args()
    plan_a, plans = _plan(args.a), [_plan(folder) for folder in args.others]
    if any(plan["folds"] != plan_a["folds"] or plan["fold_seeds"] != plan_a["fold_seeds"] for plan in plans):
        raise SystemExit("the cross-validations were not dealt the same folds")
    members, against = tuple(args.members.split(",")), args.against.split(",")
    for fold_seed in plan_a["fold_seeds"]:
        joined: list[np.ndarray] = []
        others: dict[str, list[np.ndarray]] = {name: [] for name in against}
        for seed in plan_a["seeds"]:
            a = pooled_windows(args.a, plan_a["folds"], fold_seed, seed)
            models, recording_only = _joined_models(a, args.others, plans, fold_seed, seed)
            weights = None
            if args.recording_weight is not None:
                ensemble = EnsembleModel.balanced(list(members), recording_only, args.recording_weight)
                weights = tuple(ensemble.weights)
            joined.append(_answers(member_ensemble(models, members, weights)))
            for name in against:
                other_model = member_ensemble(models, tuple(name.split("+"))) if "+" in name else models[name]
                others[name].append(_answers(other_model))
            truth = np.array([a.labels.index(r["label"]) for r in a.recordings])
            works = np.array([r["group"] for r in a.recordings])
            n_labels = len(a.labels)
            per_window = _window_f1(models, members, recording_only, n_labels)
            print(f"fold seed {fold_seed}, seed {seed}: joined ensemble "
                  f"{macro_f1(truth, joined[-1], n_labels):.3f} per recording, {per_window} per window")  # fmt: skip
            for name in against:
                _print_difference(name, truth, works, joined[-1:], others[name][-1:], n_labels)
        print(f"fold seed {fold_seed}, mean over seeds {plan_a['seeds']}:")
        for name in against:
            _print_difference(name, truth, works, joined, others[name], n_labels)


if __name__ == "__main__":
    main()
