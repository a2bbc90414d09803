"""The figures of an evaluation's report: model comparison, confusion matrices, ROC curves,
training curves, and the ensemble's timeline of each recording it names wrong."""

from __future__ import annotations

from pathlib import Path

from classicfy.config import AudioConfig
from classicfy.data.manifest import Recording
from classicfy.evaluation.metrics import ModelMetrics
from classicfy.evaluation.plots import (
    plot_confusion_matrix,
    plot_model_comparison,
    plot_per_class_f1,
    plot_roc_curves,
    plot_timeline,
    plot_training_curves,
)
from classicfy.evaluation.report import ensemble_misses
from classicfy.evaluation.scored import ScoredSet
from classicfy.features.inputs import KEY_STRIDE


def draw_plots(
    out: str | Path,
    metrics: dict[str, ModelMetrics],
    scored: dict[str, ScoredSet],
    labels: list[str],
    histories: dict[str, list[dict[str, str]]],
) -> dict[str, list[Path]]:
    """Every figure of the report, by section."""
    plots_dir = Path(out) / "plots"
    plots = {
        "Model comparison": [
            plot_model_comparison(metrics, plots_dir / "comparison.png"),
            plot_per_class_f1(metrics, labels, "recording", plots_dir / "per_class_f1_recordings.png"),
            plot_per_class_f1(metrics, labels, "segment", plots_dir / "per_class_f1.png"),
        ],
        "Confusion matrices (recordings, rows normalised)": [
            plot_confusion_matrix(m.recording.confusion_matrix, labels, name, plots_dir / f"confusion_{name}.png")
            for name, m in metrics.items()
        ],
        "ROC curves (windows, one vs rest)": [
            plot_roc_curves(s.labels, s.probs, labels, name, plots_dir / f"roc_{name}.png")
            for name, s in ((name, scored_set.window_figures) for name, scored_set in scored.items())
            if s is not None
        ],
    }
    if histories:
        plots["Training"] = [plot_training_curves(histories, plots_dir / "training_curves.png")]
    return plots


MAX_TIMELINES = 40  # each is embedded in the report: beyond a few dozen it would outgrow a browser tab


def draw_timelines(
    out: str | Path,
    ensemble: ScoredSet,
    answers: list[dict],
    recordings: list[Recording],
    labels: list[str],
    audio: AudioConfig,
) -> dict[str, Path]:
    """The ensemble's timeline (each label's probability along the recording) of each recording it
    names wrong, the first `MAX_TIMELINES` of them, by path."""
    wrong = ensemble_misses(answers)[:MAX_TIMELINES]
    position = {str(recording.path): i for i, recording in enumerate(recordings)}
    folder = Path(out) / "plots" / "timelines"
    for stale in folder.glob("[0-9][0-9]-*.png"):  # an earlier evaluation's: only this one's stay beside its report
        stale.unlink()
    drawn = {}
    for number, answer in enumerate(wrong, start=1):
        path = Path(answer["path"])
        own = ensemble.recording_of == position[answer["path"]]
        starts = (ensemble.keys[own] % KEY_STRIDE) * audio.hop_s
        title = f"{path.name}: {answer['label']}, named {answer['predicted']}"
        image = folder / f"{number:02d}-{path.stem}.png"
        drawn[answer["path"]] = plot_timeline(starts, audio.window_s, ensemble.probs[own], labels, title, image)
    return drawn
