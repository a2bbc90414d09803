"""`crossval compare`: two recipes scored on the same folds, told apart only beyond the noise.

For each model both hold, every recording's answer under recipe A and under recipe B (each averaged
over its seeds), the difference of recording macro-F1 (over all labels), and a 95% interval over
resamples of whole works within each class, shared by both sides. A difference whose interval holds
zero is within the noise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classicfy.crossval.runner import PLAN_FILE, pooled_windows
from classicfy.errors import RunError
from classicfy.evaluation.bootstrap import paired_difference
from classicfy.evaluation.metrics import macro_f1, recording_probabilities


@dataclass(frozen=True)
class Comparison:
    model: str
    a: float  # recording macro-F1 of A, the mean over its runs
    b: float
    difference: float  # a - b
    interval: tuple[float, float]

    @property
    def verdict(self) -> str:
        low, high = self.interval
        if low <= 0 <= high:
            return "within the noise"
        return "A better" if low > 0 else "B better"


@dataclass
class _Answers:
    """One CV folder's answers: per model, each run's predicted label per recording (sorted by path)."""

    labels: list[str]
    paths: list[str]
    truth: np.ndarray
    works: np.ndarray
    folds: dict[int, dict[str, int]]  # fold seed -> path -> fold
    predicted: dict[str, list[np.ndarray]]


def _plan(out: Path) -> dict[str, Any]:
    path = out / PLAN_FILE
    if not path.is_file():
        raise RunError(f"{out} is not a cross-validation folder ({PLAN_FILE} is missing)")
    plan = json.loads(path.read_text())
    if not (out / "summary.json").is_file():
        raise RunError(f"{out} is not finished: run it again with --resume")
    return plan


def member_ensemble(
    models: dict[str, dict[str, np.ndarray]], members: tuple[str, ...], weights: tuple[float, ...] | None = None
) -> dict[str, np.ndarray]:
    """The ensemble of `members`, rebuilt from their window probabilities as a run builds it: per
    recording, the windows every member scored (members of other sample rates can have one window
    fewer at the end), their probabilities averaged (plainly, or with `weights`)."""
    missing = sorted(set(members) - set(models))
    if missing:
        raise RunError(f"no model {', '.join(missing)} in this cross-validation; it has {', '.join(sorted(models))}")
    probs, recording = [], []
    for index in np.unique(models[members[0]]["recording"]):
        each = [models[name]["probs"][models[name]["recording"] == index] for name in members]
        shared = min(len(p) for p in each)
        probs.append(np.average([p[:shared] for p in each], axis=0, weights=weights))
        recording.append(np.full(shared, index))
    return {"probs": np.concatenate(probs), "recording": np.concatenate(recording)}


def _answers(out: Path, members: tuple[str, ...] | None = None) -> _Answers:
    plan = _plan(out)
    predicted: dict[str, list[np.ndarray]] = {}
    folds: dict[int, dict[str, int]] = {}
    first = None
    for fold_seed in plan["fold_seeds"]:
        for seed in plan["seeds"]:
            pooled = pooled_windows(out, plan["folds"], fold_seed, seed)
            paths = [r["path"] for r in pooled.recordings]
            order = np.argsort(paths)
            folds[fold_seed] = {r["path"]: r["fold"] for r in pooled.recordings}
            first = first or (pooled, order)
            if members:
                pooled.models["ensemble"] = member_ensemble(pooled.models, members)
            for name, p in pooled.models.items():
                probs, recordings = recording_probabilities(p["probs"], p["recording"])
                answer = np.full(len(paths), -1)
                answer[recordings] = probs.argmax(axis=1)
                predicted.setdefault(name, []).append(answer[order])
    assert first is not None
    pooled, order = first
    records = [pooled.recordings[i] for i in order]
    truth = np.array([pooled.labels.index(r["label"]) for r in records])
    works = np.array([r["group"] for r in records])
    return _Answers(pooled.labels, [r["path"] for r in records], truth, works, folds, predicted)


def compare_crossvals(
    a: str | Path,
    b: str | Path,
    n_bootstrap: int = 1000,
    seed: int = 0,
    members: tuple[tuple[str, ...] | None, tuple[str, ...] | None] = (None, None),
) -> list[Comparison]:
    """Every model of both cross-validations, A against B, paired on the same recordings and folds.

    `members` rebuilds a side's `ensemble` from those of its models: with A and B the same folder,
    two ensembles of one run are compared, with no training at all.
    """
    first, second = _answers(Path(a), members[0]), _answers(Path(b), members[1])
    if first.paths != second.paths or first.labels != second.labels:
        raise RunError(f"{a} and {b} did not score the same recordings with the same labels: nothing to pair")
    if first.folds != second.folds:
        raise RunError(f"{a} and {b} were not scored on the same folds: run both with the same --fold-seeds")
    n_labels = len(first.labels)

    def statistic(runs: list[np.ndarray]) -> Any:
        return lambda at: float(np.mean([macro_f1(first.truth[at], run[at], n_labels) for run in runs]))

    comparisons = []
    for name in [m for m in first.predicted if m in second.predicted]:
        stat_a, stat_b = statistic(first.predicted[name]), statistic(second.predicted[name])
        everything = np.arange(len(first.paths))
        difference, interval = paired_difference(stat_a, stat_b, first.truth, first.works, n_bootstrap, seed)
        comparisons.append(Comparison(name, stat_a(everything), stat_b(everything), difference, interval))
    return comparisons
