"""Cross-validation of one recipe: K folds grouped by work, for each seed (and fold seed), pooled.

```
CV/crossval.json                          the plan: recipe (config.toml's schema), folds, seeds, fold seeds
CV/fold-seed-F/seed-S/fold-K/             an ordinary run folder, tested on fold K
CV/summary.json, CV/report.html           pooled figures per run, their mean and spread over runs
```

Every recording is scored once per (fold seed, seed) by models that never heard its work; the
folds' window probabilities are pooled and scored as one set, with bootstrap intervals over works.
A finished fold (its report written) is never trained again, so a killed run continues with
`resume` where it stopped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from classicfy import atomic
from classicfy.config import RunConfig
from classicfy.data.builtin import resolve_dataset
from classicfy.data.folds import fold_splits
from classicfy.data.manifest import list_dataset
from classicfy.errors import RunError
from classicfy.evaluation.metrics import ModelEvaluator, ModelMetrics, recording_probabilities
from classicfy.evaluation.pipeline import WINDOWS_FILE, evaluate_run
from classicfy.features.extraction import extract_dataset
from classicfy.rundir import RunFolder, load_arrays
from classicfy.training.pipeline import train_run
from classicfy.workspace import Workspace

log = logging.getLogger(__name__)
PLAN_FILE = "crossval.json"
LEVELS = ("segment", "recording")


@dataclass(frozen=True)
class CrossvalPlan:
    """One recipe, cross-validated: `folds` folds, trained once per seed in `seeds`, for each fold seed."""

    config: RunConfig
    folds: int = 4
    seeds: tuple[int, ...] = (0,)
    fold_seeds: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ValueError(f"folds must be at least 2, got {self.folds}")
        if not self.seeds or not self.fold_seeds:
            raise ValueError("name at least one seed and one fold seed")

    def seeded(self, seed: int) -> RunConfig:
        """The recipe with the models' randomness (weights, batch order, augmented copies) drawn from `seed`."""
        config = self.config
        return replace(config, train=replace(config.train, seed=seed), augment=replace(config.augment, seed=seed))

    def to_dict(self) -> dict[str, Any]:
        return {
            "folds": self.folds,
            "seeds": list(self.seeds),
            "fold_seeds": list(self.fold_seeds),
            "config": self.config.to_toml(),
        }


@dataclass
class PooledRun:
    """One (fold seed, seed): each model's pooled metrics and its figures per fold."""

    fold_seed: int
    seed: int
    metrics: dict[str, ModelMetrics]
    per_fold: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # model -> level -> macro-F1s


def run_folder(out: str | Path, fold_seed: int, seed: int, fold: int) -> Path:
    out = Path(out)
    return out / f"fold-seed-{fold_seed}" / f"seed-{seed}" / f"fold-{fold}"


def _check_plan(out: Path, plan: CrossvalPlan, resume: bool) -> None:
    """A CV folder continues only under the plan it began with, and only when asked to."""
    path = out / PLAN_FILE
    if not path.exists():
        if out.exists() and (not out.is_dir() or any(out.iterdir())):  # never write among files not ours
            raise RunError(f"{out} is not an empty folder and holds no cross-validation: choose an empty --out")
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, json.dumps(plan.to_dict(), indent=2))
        return
    if not resume:
        raise RunError(f"{out} already holds a cross-validation: pass --resume to continue it, or choose a new --out")
    try:
        begun_with = json.loads(path.read_text())
    except ValueError:
        raise RunError(f"{path} is damaged: not JSON") from None
    if begun_with != plan.to_dict():
        raise RunError(f"{out} was begun with another recipe, folds or seeds ({path}): choose a new --out")


def _run_fold(config: RunConfig, split: list, run_dir: Path, work: Workspace, n_bootstrap: int) -> None:
    """Train (or continue) and evaluate one fold's run; a fold whose report exists is done."""
    if (run_dir / "report.html").exists():
        return
    run = RunFolder(run_dir)
    if not run.exists():
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_split(split)
        run.write_config(config)
    train_run(config, run_dir, work, resume=True)
    evaluate_run(run_dir, work, n_bootstrap=n_bootstrap)


def run_crossval(
    plan: CrossvalPlan, out: str | Path, work: Workspace | None = None, resume: bool = False, n_bootstrap: int = 1000
) -> dict[str, Any]:
    """Train and score every fold of every run of the plan into `out`; write and return the summary."""
    out, work = Path(out), work or Workspace()
    _check_plan(out, plan, resume)
    report = extract_dataset(list_dataset(resolve_dataset(plan.config.data, work)), plan.config.features, work)
    for fold_seed in plan.fold_seeds:
        splits = fold_splits(
            report.recordings,
            report.windows_per_recording(),
            plan.folds,
            plan.config.val_fraction,
            fold_seed,
            plan.config.validation_draws,
        )
        for seed in plan.seeds:
            for fold, split in enumerate(splits, start=1):
                log.info("fold seed %d, seed %d: fold %d of %d", fold_seed, seed, fold, plan.folds)
                _run_fold(plan.seeded(seed), split, run_folder(out, fold_seed, seed, fold), work, n_bootstrap)
    summary = summarise(out, plan, n_bootstrap)
    atomic.write_text(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False))
    from classicfy.crossval.report import write_crossval_report

    write_crossval_report(out, summary)
    return summary


@dataclass
class PooledWindows:
    """Every fold's window probabilities of one run, concatenated per model.

    `models[name]` holds `probs`, `labels`, `recording` (numbered across folds), `works` and `fold`
    per window; `recordings[i]` is recording i's path, label, group and fold. The models in
    `recording_only` answer whole recordings: each window holds its recording's answer. An ensemble
    that holds such a model also has `window_probs`, `window_labels` and `window_fold`: its window
    members' mix, which its window figures are scored on.
    """

    labels: list[str]
    models: dict[str, dict[str, np.ndarray]]
    recordings: list[dict[str, Any]]
    recording_only: set[str] = field(default_factory=set)


def pooled_windows(out: str | Path, folds: int, fold_seed: int, seed: int) -> PooledWindows:
    """Read and concatenate the windows.safetensors of every fold of one run."""
    out = Path(out)
    labels: list[str] | None = None
    pooled: dict[str, dict[str, list[np.ndarray]]] = {}
    recordings: list[dict[str, Any]] = []
    recording_only: set[str] = set()
    offset = 0
    for fold in range(1, folds + 1):
        arrays, meta = load_arrays(run_folder(out, fold_seed, seed, fold) / WINDOWS_FILE)
        if labels is not None and meta["labels"] != labels:
            raise RunError(f"the folds of {out} do not share their labels")
        labels = meta["labels"]
        works = np.array([r["group"] for r in meta["recordings"]])
        recording_only |= set(meta.get("recording_only", []))  # absent from files written before such models
        for name in meta["models"]:
            recording = arrays[f"{name}/recording"]
            parts = pooled.setdefault(name, {"probs": [], "labels": [], "recording": [], "works": [], "fold": []})
            parts["probs"].append(arrays[f"{name}/probs"])
            parts["labels"].append(arrays[f"{name}/labels"])
            parts["recording"].append(recording + offset)
            parts["works"].append(works[recording])
            parts["fold"].append(np.full(len(recording), fold))
            if f"{name}/window_probs" in arrays:
                window_labels = arrays[f"{name}/window_labels"]
                parts.setdefault("window_probs", []).append(arrays[f"{name}/window_probs"])
                parts.setdefault("window_labels", []).append(window_labels)
                parts.setdefault("window_fold", []).append(np.full(len(window_labels), fold))
        offset += len(meta["recordings"])
        recordings += [r | {"fold": fold} for r in meta["recordings"]]
    assert labels is not None
    models = {name: {k: np.concatenate(v) for k, v in parts.items()} for name, parts in pooled.items()}
    return PooledWindows(labels, models, recordings, recording_only)


def _pooled_run(
    out: Path, plan: CrossvalPlan, fold_seed: int, seed: int, n_bootstrap: int
) -> tuple[list[str], PooledRun]:
    """Each model's metrics on all folds' windows at once, and its macro-F1 on each fold alone."""
    pooled = pooled_windows(out, plan.folds, fold_seed, seed)
    evaluator = ModelEvaluator(pooled.labels, n_bootstrap=n_bootstrap, seed=seed)
    run = PooledRun(fold_seed, seed, {})
    for name, p in pooled.models.items():
        windows = _window_figures(p, name not in pooled.recording_only)
        run.metrics[name] = evaluator.evaluate(p["probs"], p["labels"], p["recording"], p["works"], per_window=False)
        if windows is not None:
            run.metrics[name] = replace(run.metrics[name], segment=evaluator.metrics(windows[1], windows[0]))
        run.per_fold[name] = {level: [] for level in LEVELS}
        for fold in range(1, plan.folds + 1):
            at = p["fold"] == fold
            if windows is not None:
                own = windows[2] == fold
                run.per_fold[name]["segment"].append(evaluator.metrics(windows[1][own], windows[0][own]).macro_f1)
            probs, recordings = recording_probabilities(p["probs"][at], p["recording"][at])
            truth = np.array([p["labels"][at][p["recording"][at] == r][0] for r in recordings])
            run.per_fold[name]["recording"].append(evaluator.metrics(truth, probs).macro_f1)
    return pooled.labels, run


def _window_figures(model: dict[str, np.ndarray], per_window: bool) -> tuple[np.ndarray, ...] | None:
    """The probabilities, labels and folds of the windows a model's window figures are scored on:
    its own, its window members' mix (an ensemble that holds a recording model), or none."""
    if per_window:
        return model["probs"], model["labels"], model["fold"]
    if "window_probs" in model:
        return model["window_probs"], model["window_labels"], model["window_fold"]
    return None


def _spread(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "min": min(values), "max": max(values)}


def summarise(out: str | Path, plan: CrossvalPlan, n_bootstrap: int = 1000) -> dict[str, Any]:
    """Per run, each model's pooled metrics (the metrics.json set) and per-fold macro-F1; per model,
    the mean and spread over runs of accuracy and macro-F1, and the range over all folds."""
    out = Path(out)
    runs: list[PooledRun] = []
    labels: list[str] = []
    for fold_seed in plan.fold_seeds:
        for seed in plan.seeds:
            labels, run = _pooled_run(out, plan, fold_seed, seed, n_bootstrap)
            runs.append(run)
    names = list(runs[0].metrics)
    models = {}
    for name in names:
        models[name] = {level: _level_summary(runs, name, level) for level in LEVELS}
    plan_summary = {
        "folds": plan.folds,
        "seeds": list(plan.seeds),
        "fold_seeds": list(plan.fold_seeds),
        "data": plan.config.data,
        "models": list(plan.config.models),
    }
    return {"plan": plan_summary, "labels": labels, "models": models, "runs": [_run_summary(r) for r in runs]}


def _level_summary(runs: list[PooledRun], name: str, level: str) -> dict[str, Any] | None:
    """Mean and spread over runs of a model's pooled accuracy and macro-F1, and its range over folds;
    None for the windows of a model that answers recordings only."""
    if any(getattr(r.metrics[name], level) is None for r in runs):
        return None
    per_fold = [f for r in runs for f in r.per_fold[name][level]]
    return {
        "macro_f1": _spread([getattr(r.metrics[name], level).macro_f1 for r in runs]),
        "accuracy": _spread([getattr(r.metrics[name], level).accuracy for r in runs]),
        "fold_range": [min(per_fold), max(per_fold)],
    }


def _run_summary(run: PooledRun) -> dict[str, Any]:
    models = {name: m.to_dict() | {"per_fold_macro_f1": run.per_fold[name]} for name, m in run.metrics.items()}
    return {"fold_seed": run.fold_seed, "seed": run.seed, "models": models}
