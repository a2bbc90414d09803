"""Evaluate a trained run: every model, the ensemble and the baseline, on the run's test split or on
another labelled dataset, at window and recording level; writes metrics.json, predictions.csv (each
model's answer for every recording), windows.safetensors (every window's probabilities), plots and
report.html.

The baseline is fitted on the run's training split and, when asked, the ensemble weights on its
validation split (both saved in `models/` and reused), so test data never shapes what is scored on it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from classicfy import atomic
from classicfy.config import AnyFeatureConfig, RunConfig
from classicfy.data.builtin import resolve_dataset
from classicfy.data.manifest import Recording, content_hash, list_dataset
from classicfy.devices import resolve_device
from classicfy.errors import DatasetError, RunError
from classicfy.evaluation.baseline import SummaryBaseline
from classicfy.evaluation.ensemble import EnsembleModel, shared_windows
from classicfy.evaluation.figures import draw_plots, draw_timelines
from classicfy.evaluation.metrics import ModelEvaluator, ModelMetrics, recording_probabilities
from classicfy.evaluation.report import (
    Report,
    probability_column,
    write_predictions,
    write_report,
)
from classicfy.evaluation.scored import ScoredSet
from classicfy.features.cache import FeatureCache
from classicfy.features.extraction import extract_dataset
from classicfy.features.inputs import WindowSet
from classicfy.model_card import write_model_card
from classicfy.models.trained import (
    TrainedModel,
    answering_recordings,
    answers_of_windows,
    load_model,
    window_outputs,
)
from classicfy.rundir import EVALUATION_OUTPUTS, RunFolder, check_output_folder, save_arrays
from classicfy.workspace import Workspace

log = logging.getLogger(__name__)
WINDOWS_FILE = "windows.safetensors"  # each model's window probabilities, beside metrics.json
BALANCED = "the models that answer whole recordings weigh as much as those that answer windows"


@dataclass
class Evaluation:
    labels: list[str]
    metrics: dict[str, ModelMetrics]
    out_dir: Path
    notes: list[str] = field(default_factory=list)
    scored_on: str = "test split"  # or the dataset given to evaluate


class _Features:
    """Cached features of a list of recordings under each feature config, as window sets."""

    def __init__(self, recordings: list[Recording], configs: set[AnyFeatureConfig], work: Workspace) -> None:
        self.cache_root = work.cache
        self.hashes: dict[AnyFeatureConfig, dict[Path, str]] = {}
        skipped: dict[Path, str] = {}
        for config in configs:
            report = extract_dataset(recordings, config, work)
            self.hashes[config] = report.content_hashes()
            skipped |= {s.path: s.skip_reason or "unusable" for s in report.skipped}
        self.recordings = [r for r in recordings if r.path not in skipped]
        self.skipped = skipped

    def windows(self, config: AnyFeatureConfig, kind: str, index: dict[str, int]) -> WindowSet:
        cache = FeatureCache(self.cache_root, config)
        entries = []
        for recording in self.recordings:
            entry = cache.get(self.hashes[config][recording.path], verify=False)
            if entry is None:
                raise RunError("a cache entry vanished during evaluation (was the cache cleared?); run again")
            entries.append(entry)
        return WindowSet(entries, [index[r.label] for r in self.recordings], kind)


def _score(model: TrainedModel, features: _Features, index: dict[str, int]) -> ScoredSet:
    windows = features.windows(model.feature_config, model.input_kind, index)
    probs = answers_of_windows(model.module, window_outputs(model.module, windows), windows.recording_of)
    keys = windows.window_keys(model.feature_config.audio.hop_s)
    return ScoredSet(probs, windows.labels, windows.recording_of, keys, not model.module.answers_recordings)


def _align(sets: dict[str, ScoredSet]) -> tuple[dict[str, np.ndarray], ScoredSet]:
    """Member probabilities on the windows all members share, and those windows' labels."""
    common, positions = shared_windows({name: scored.keys for name, scored in sets.items()})
    aligned = {name: scored.probs[positions[name]] for name, scored in sets.items()}
    first_name, first = next(iter(sets.items()))
    at = positions[first_name]
    per_window = all(scored.per_window for scored in sets.values())
    return aligned, ScoredSet(np.empty(0), first.labels[at], first.recording_of[at], common, per_window)


def _readable_side(
    split: list[Recording], side: str, configs: set[AnyFeatureConfig], work: Workspace, fitted: str
) -> _Features:
    """The features of one side of the run's split, read back from its files to fit `fitted` on them.

    Files may have moved since training: the rest will do, but not if a whole label is gone.
    """
    recordings = [r for r in split if r.split == side]
    features = _Features(recordings, configs, work)
    lost = {r.label for r in recordings} - {r.label for r in features.recordings}
    if lost:
        raise DatasetError(
            f"fitting {fitted} needs every label of the run's {side} split, and no {side} recording of "
            f"{', '.join(sorted(lost))} can be read now ({len(features.skipped)} of {len(recordings)} files moved or "
            "unusable): restore the run's data"
        )
    if features.skipped:
        log.warning("%d of the %d %s recordings cannot be read now; %s is fitted on the rest",
                    len(features.skipped), len(recordings), side, fitted)  # fmt: skip
    return features


def _fit_baseline(
    run: RunFolder, config: RunConfig, split: list[Recording], index: dict[str, int], work: Workspace
) -> SummaryBaseline:
    """The run's baseline: fitted on its training side once (its regularisation chosen on the validation
    side, when the run has one all models share), then read back."""
    if run.baseline_path.exists():
        return SummaryBaseline.from_dict(run.read_json(run.baseline_path), run.baseline_path)
    train = _readable_side(split, "train", {config.features}, work, "the baseline")
    validation = None
    if any(r.split == "val" for r in split):
        val = _readable_side(split, "val", {config.features}, work, "the baseline")
        validation = val.windows(config.features, "sequence", index)
    baseline = SummaryBaseline(len(index)).fit(train.windows(config.features, "sequence", index), validation)
    run.write_json(run.baseline_path, baseline.to_dict(), indent=None)  # thousands of coefficients: compact
    return baseline


def _ensemble(
    run: RunFolder,
    models: dict[str, TrainedModel],
    split: list[Recording],
    index: dict[str, int],
    work: Workspace,
    fitted: bool | None,
) -> EnsembleModel:
    """The run's ensemble: a plain average, or weights fitted on the validation split (saved, reused).

    `fitted=None` keeps whichever the run saved: `predict` answers with the saved ensemble, so scoring a
    run, on its test split or on other data, must not quietly swap fitted weights for a plain average.
    """
    if run.ensemble_path.exists():
        saved = EnsembleModel.from_dict(run.read_json(run.ensemble_path), run.ensemble_path)
        fitted = saved.fitted if fitted is None else fitted
        if saved.fitted == fitted and saved.members == list(models):
            return saved
    if not fitted:
        ensemble = EnsembleModel.balanced(list(models), answering_recordings(models))
    else:
        val_recordings = [r for r in split if r.split == "val"]
        if not val_recordings:
            raise RunError(
                "--fit-ensemble needs a validation side no model trained on, and in this run each model "
                "validated on its own works (rotated validation): use the plain average"
            )
        configs = {m.feature_config for m in models.values()}
        val = _readable_side(split, "val", configs, work, "the ensemble's weights")
        aligned, template = _align({name: _score(model, val, index) for name, model in models.items()})
        ensemble = EnsembleModel(list(models)).fit(aligned, template.labels)
    run.write_json(run.ensemble_path, ensemble.to_dict())
    return ensemble


def _heard_by_the_run(split: list[Recording], candidates: list[Recording]) -> set[Path]:
    """The candidates whose audio the run trained or validated on, found by content: a copy counts too."""
    heard = {content_hash(r.path) for r in split if r.split != "test" and r.path.is_file()}
    return {r.path for r in candidates if r.path.is_file() and content_hash(r.path) in heard}


def recording_answers(
    scored: dict[str, ScoredSet], recordings: list[Recording], labels: list[str]
) -> list[dict[str, Any]]:
    """Each model's answer and probabilities for every scored recording, grouped by recording: which
    recordings a model gets wrong, and by how much, is what metrics cannot show."""
    rows = []
    for name, scored_set in scored.items():
        probs, indices = recording_probabilities(scored_set.probs, scored_set.recording_of)
        windows = np.bincount(scored_set.recording_of, minlength=len(recordings))
        for recording_probs, index in zip(probs, indices, strict=True):
            recording = recordings[index]
            per_label = zip(labels, recording_probs, strict=True)
            rows.append(
                {
                    "path": str(recording.path),
                    "label": recording.label,
                    "group": recording.group,
                    "model": name,
                    "predicted": labels[int(recording_probs.argmax())],
                    "windows": int(windows[index]),
                    **{probability_column(label): round(float(p), 6) for label, p in per_label},
                }
            )
    rows.sort(key=lambda row: row["path"])  # stable: the models stay in order within a recording
    return rows


@dataclass
class _Scope:
    """What an evaluation scores and where it writes: the recordings, the folder, the data's name."""

    recordings: list[Recording]
    out: Path
    scored_on: str
    notes: list[str] = field(default_factory=list)


def _scope(
    run: RunFolder, split: list[Recording], labels: list[str], data: str | None, out: Path | None, work: Workspace
) -> _Scope:
    """The run's test side, or the recordings of `data` with labels the run knows and audio it never heard."""
    if data is None:
        test = [r for r in split if r.split == "test"]
        if not test:
            raise DatasetError("the run's test split is empty: train with a test fraction above 0")
        return _Scope(test, out or run.path, "test split")
    listed = [r for r in list_dataset(resolve_dataset(data, work)) if r.rendition_of is None]  # originals only
    scope = _Scope(
        [r for r in listed if r.label in labels],
        out or run.path / f"evaluation-{Path(data.replace(':', '-')).stem}",
        data,
    )
    unknown = {r.label for r in listed} - set(labels)
    if unknown:
        skipped = len(listed) - len(scope.recordings)
        scope.notes.append(f"{skipped} recording(s) with labels the run does not know were skipped: "
                           f"{', '.join(sorted(unknown))}")  # fmt: skip
    if not scope.recordings:
        raise DatasetError(f"no recording of {data} has a label the run knows ({', '.join(labels)})")
    heard = _heard_by_the_run(split, scope.recordings)
    if heard:
        scope.notes.append(f"{len(heard)} recording(s) the run trained or validated on were left out, as scores "
                           "on them would not be held out")  # fmt: skip
        scope.recordings = [r for r in scope.recordings if r.path not in heard]
        if not scope.recordings:
            raise DatasetError(f"the run trained or validated on every recording of {data}: nothing is held out")
    return scope


def _score_everything(
    run: RunFolder,
    config: RunConfig,
    split: list[Recording],
    models: dict[str, TrainedModel],
    features: _Features,
    index: dict[str, int],
    work: Workspace,
    fitted_ensemble: bool | None,
) -> tuple[dict[str, ScoredSet], EnsembleModel, SummaryBaseline]:
    """Window probabilities of every model, of their ensemble and of the baseline (and those two)."""
    scored = {name: _score(model, features, index) for name, model in models.items()}
    ensemble = _ensemble(run, models, split, index, work, fitted_ensemble)
    aligned, ensemble_set = _align({name: scored[name] for name in ensemble.members})
    ensemble_set.probs = ensemble.predict_proba(aligned)
    if not ensemble_set.per_window:
        ensemble_set.window_members = _window_members_mix(ensemble, scored)
    scored["ensemble"] = ensemble_set
    baseline = _fit_baseline(run, config, split, index, work)
    sequence = features.windows(config.features, "sequence", index)
    keys = sequence.window_keys(config.features.audio.hop_s)
    scored["baseline"] = ScoredSet(baseline.predict_proba(sequence), sequence.labels, sequence.recording_of, keys)
    return scored, ensemble, baseline


def _window_members_mix(ensemble: EnsembleModel, scored: dict[str, ScoredSet]) -> ScoredSet | None:
    """The ensemble's members that answer windows, mixed with their weights renormalised: what its
    window figures are scored on when it holds a recording model (None: it holds no window model)."""
    window_part = ensemble.part([name for name in ensemble.members if scored[name].per_window])
    if window_part is None:
        return None
    aligned, mix = _align({name: scored[name] for name in window_part.members})
    mix.probs = window_part.predict_proba(aligned)
    return mix


def _evaluated(evaluator: ModelEvaluator, scored: ScoredSet, works: np.ndarray) -> ModelMetrics:
    """A model's metrics: per recording from its answers, per window from its `window_figures`."""
    windows = scored.window_figures
    metrics = evaluator.evaluate(scored.probs, scored.labels, scored.recording_of, works[scored.recording_of],
                                 per_window=windows is scored)  # fmt: skip
    if windows is not None and windows is not scored:
        metrics = replace(metrics, segment=evaluator.metrics(windows.labels, windows.probs))
    return metrics


def _write_metrics(
    out: Path,
    labels: list[str],
    metrics: dict[str, ModelMetrics],
    ensemble: EnsembleModel,
    scope: _Scope,
    skipped: dict[Path, str],
) -> None:
    document = {
        "labels": labels,
        "models": {name: m.to_dict() for name, m in metrics.items()},
        "ensemble": {
            "members": ensemble.members,
            "weights": ensemble.weights.tolist(),
            "fitted_on": "val" if ensemble.fitted else None,
        },
        "data": scope.scored_on,
        "skipped": _skipped_rows(skipped),
    }
    atomic.write_text(out / "metrics.json", json.dumps(document, indent=2, allow_nan=False))


def _write_window_predictions(
    path: Path, scored: dict[str, ScoredSet], recordings: list[Recording], labels: list[str]
) -> None:
    """Every model's window probabilities, labels and recordings: what cross-validation pools over folds."""
    arrays: dict[str, np.ndarray] = {}
    for name, scored_set in scored.items():
        arrays |= {
            f"{name}/probs": np.asarray(scored_set.probs),
            f"{name}/labels": scored_set.labels.astype(np.int64),
            f"{name}/recording": scored_set.recording_of.astype(np.int64),
        }
        if scored_set.window_members is not None:  # the windows its window figures are scored on
            members = scored_set.window_members
            arrays |= {
                f"{name}/window_probs": np.asarray(members.probs),
                f"{name}/window_labels": members.labels.astype(np.int64),
                f"{name}/window_recording": members.recording_of.astype(np.int64),
            }
    described = [{"path": str(r.path), "label": r.label, "group": r.group} for r in recordings]
    recording_only = [name for name, scored_set in scored.items() if not scored_set.per_window]
    meta = {"labels": labels, "models": list(scored), "recordings": described, "recording_only": recording_only}
    save_arrays(path, arrays, meta)


def _skipped_rows(skipped: dict[Path, str]) -> list[dict[str, str]]:
    return [{"path": str(p), "reason": reason} for p, reason in skipped.items()]


def _ensemble_note(ensemble: EnsembleModel, baseline: SummaryBaseline) -> str:
    weights = ", ".join(f"{n} {w:.2f}" for n, w in zip(ensemble.members, ensemble.weights, strict=True))
    how = "a plain average" if ensemble.plain else BALANCED
    if ensemble.fitted:
        how = "fitted on the validation split"
    return (f"Ensemble weights ({how}): {weights}. The baseline is a logistic regression on the mean and standard "
            f"deviation of MFCC and chroma per window (C = {baseline.c:g}).")  # fmt: skip


def evaluate_run(
    run_dir: str | Path,
    work: Workspace | None = None,
    data: str | None = None,
    out: str | Path | None = None,
    n_bootstrap: int = 1000,
    fitted_ensemble: bool | None = None,
    force: bool = False,
) -> Evaluation:
    """Score every model of a run, its ensemble and the baseline; write metrics, plots and report.

    `work` defaults as on the command line. `fitted_ensemble`: True fits the ensemble's weights on the
    validation split, False makes it a plain average (either is saved as the run's ensemble, which
    `predict` uses); None keeps the run's own. `force` writes into an `out` that holds other files
    (never over them).
    """
    run, work = RunFolder(run_dir), work or Workspace()
    config, labels = run.read_config(), run.read_labels()
    index = {label: i for i, label in enumerate(labels)}
    names = run.trained_model_names()
    if not names:
        raise RunError(f"{run.path} holds no trained model yet")
    models = {name: load_model(run.path, name, resolve_device(work.device)) for name in names}
    split = run.read_split(labels)
    scope = _scope(run, split, labels, data, Path(out) if out is not None else None, work)
    if scope.out != run.path:
        check_output_folder(scope.out, EVALUATION_OUTPUTS, force)
    scope.out.mkdir(parents=True, exist_ok=True)
    configs: set[AnyFeatureConfig] = {config.features, *(m.feature_config for m in models.values())}
    features = _Features(scope.recordings, configs, work)
    if features.skipped:
        scope.notes.append(f"{len(features.skipped)} test file(s) could not be used and were skipped")
    if not features.recordings:
        raise DatasetError("no usable test recordings")
    scored, ensemble, baseline = _score_everything(run, config, split, models, features, index, work, fitted_ensemble)
    evaluator = ModelEvaluator(labels, n_bootstrap=n_bootstrap, seed=config.train.seed)
    works = np.array([r.group for r in features.recordings])
    metrics = {name: _evaluated(evaluator, s, works) for name, s in scored.items()}
    _write_metrics(scope.out, labels, metrics, ensemble, scope, features.skipped)
    _write_window_predictions(scope.out / WINDOWS_FILE, scored, features.recordings, labels)
    answers = recording_answers(scored, features.recordings, labels)
    write_predictions(scope.out / "predictions.csv", answers)
    plots = draw_plots(scope.out, metrics, scored, labels, run.read_histories(names))
    audio = models[ensemble.members[0]].feature_config.audio  # the hop grid the ensemble's windows share
    shown = scored["ensemble"].window_figures or scored["ensemble"]  # what each window says, as scored
    timelines = draw_timelines(scope.out, shown, answers, features.recordings, labels, audio)
    dataset = run.read_dataset_summary() if data is None else {"skipped": _skipped_rows(features.skipped)}
    scope.notes.append(_ensemble_note(ensemble, baseline))
    title = f"classicfy run {run.path.name}: {len(labels)} classes ({', '.join(labels)})"
    config_text = run.config_path.read_text()
    report = Report(title, metrics, plots, dataset, config_text, scope.notes, answers, timelines, scope.scored_on)
    write_report(scope.out, report)
    if scope.out == run.path:  # the run's own test works: its card gets their figures
        write_model_card(run.path)
    return Evaluation(labels, metrics, scope.out, scope.notes, scope.scored_on)
