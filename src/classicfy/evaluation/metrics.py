"""`ModelEvaluator`: the numbers a reviewer trusts, at window (segment) and recording level.

A recording's probabilities are its windows' probabilities averaged in log space (a geometric
mean, renormalised): one confident window cannot outvote a whole movement, and a window that rules
a class out counts. Recording-level accuracy and macro-F1 get bootstrap 95% intervals over whole
works resampled within each class: the movements of one work are not independent items.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from classicfy.evaluation.bootstrap import interval, work_resamples

EPS = 1e-7


def recording_probabilities(window_probs: np.ndarray, recording_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-recording probabilities (geometric mean of its windows, renormalised) and the recording ids."""
    recordings, inverse = np.unique(recording_of, return_inverse=True)
    log_probs = np.log(np.clip(window_probs, EPS, 1.0))
    sums = np.zeros((len(recordings), window_probs.shape[1]))
    np.add.at(sums, inverse, log_probs)
    means = sums / np.bincount(inverse)[:, None]
    means -= means.max(axis=1, keepdims=True)
    probs = np.exp(means)
    return probs / probs.sum(axis=1, keepdims=True), recordings


def scored_labels(y_true: np.ndarray, predicted: np.ndarray, n_labels: int) -> np.ndarray:
    """The labels a macro average runs over: all `n_labels`, except a label with neither items nor
    predictions, which has no F1 (counting it 0 would punish a model for a label the evaluated data
    lacks, as when `evaluate --data` holds a subset of the labels). Resamples keep every class, so
    a label never drops out of a bootstrap figure."""
    present = np.union1d(np.asarray(y_true), np.asarray(predicted))
    return present[(present >= 0) & (present < n_labels)]


def macro_f1(y_true: np.ndarray, predicted: np.ndarray, n_labels: int) -> float:
    """The one macro-F1 of classicfy: training, validation, evaluation, resamples and comparisons."""
    from sklearn.metrics import f1_score

    labels = scored_labels(y_true, predicted, n_labels)
    return float(f1_score(y_true, predicted, labels=labels, average="macro", zero_division=0))


def _roc_auc_ovr_macro(y_true: np.ndarray, probs: np.ndarray, n_classes: int) -> float | None:
    """Mean one-vs-rest ROC AUC over the classes that have both positives and negatives."""
    from sklearn.metrics import roc_auc_score

    scores = [
        roc_auc_score(y_true == c, probs[:, c]) for c in range(n_classes) if 0 < np.sum(y_true == c) < len(y_true)
    ]
    return float(np.mean(scores)) if scores else None


@dataclass(frozen=True)
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int
    f1_ci: tuple[float, float] | None = None  # bootstrap 95% interval, at recording level


def per_class_f1(y_true: np.ndarray, predicted: np.ndarray, n_labels: int) -> np.ndarray:
    """Each label's F1 (0 where it has neither items nor predictions), as scikit-learn's with
    zero_division=0, counted directly: resamples call it a thousand times."""
    hits = np.bincount(y_true[y_true == predicted], minlength=n_labels)
    both = np.bincount(y_true, minlength=n_labels) + np.bincount(predicted, minlength=n_labels)
    return np.divide(2.0 * hits, both, out=np.zeros(n_labels), where=both > 0)


@dataclass(frozen=True)
class LevelMetrics:
    """The figures of one model at one level (windows or recordings); `to_dict` is metrics.json's form."""

    n: int
    accuracy: float
    balanced_accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    weighted_precision: float
    weighted_recall: float
    weighted_f1: float
    roc_auc_ovr_macro: float | None
    log_loss: float
    per_class: dict[str, ClassMetrics]
    confusion_matrix: list[list[int]]
    accuracy_ci: tuple[float, float] | None = None  # bootstrap 95% intervals, at recording level
    macro_f1_ci: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        for key in ("accuracy_ci", "macro_f1_ci"):
            if values[key] is None:
                del values[key]
            else:
                values[key] = list(values[key])
        return values


@dataclass(frozen=True)
class ModelMetrics:
    """A model's figures per window (`segment`; None for a model that answers whole recordings only)
    and per recording."""

    segment: LevelMetrics | None
    recording: LevelMetrics

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": None if self.segment is None else self.segment.to_dict(),
            "recording": self.recording.to_dict(),
        }


def resamplable_by_work(labels: np.ndarray, works: np.ndarray) -> bool:
    """Whether every class holds at least two works, so that resampling works can vary a figure."""
    return all(len(set(works[labels == label].tolist())) >= 2 for label in set(labels.tolist()))


class ModelEvaluator:
    """Scores class probabilities against true labels; `labels` fixes the class order."""

    def __init__(self, labels: list[str], n_bootstrap: int = 1000, seed: int = 0) -> None:
        self.labels = list(labels)
        self.n_bootstrap = n_bootstrap
        self.seed = seed

    def metrics(self, y_true: np.ndarray, probs: np.ndarray) -> LevelMetrics:
        """Accuracy, balanced accuracy, macro and weighted precision/recall/F1, ROC AUC, log loss,
        per-class report and confusion matrix of one set of predictions."""
        from sklearn.metrics import (
            balanced_accuracy_score,
            confusion_matrix,
            log_loss,
            precision_recall_fscore_support,
        )

        k = len(self.labels)
        classes = np.arange(k)
        y_true = np.asarray(y_true)
        predicted = probs.argmax(axis=1)
        result: dict[str, Any] = {"n": len(y_true), "accuracy": float(np.mean(predicted == y_true))}
        with warnings.catch_warnings():  # predictions of classes absent from y_true are ordinary errors here
            warnings.simplefilter("ignore", UserWarning)
            result["balanced_accuracy"] = float(balanced_accuracy_score(y_true, predicted))
        for average in ("macro", "weighted"):
            p, r, f, _ = precision_recall_fscore_support(
                y_true, predicted, labels=scored_labels(y_true, predicted, k), average=average, zero_division=0
            )
            result |= {f"{average}_precision": float(p), f"{average}_recall": float(r), f"{average}_f1": float(f)}
        result["roc_auc_ovr_macro"] = _roc_auc_ovr_macro(y_true, probs, k)
        clipped = np.clip(probs, EPS, 1.0)
        result["log_loss"] = float(log_loss(y_true, clipped / clipped.sum(axis=1, keepdims=True), labels=classes))
        p, r, f, support = precision_recall_fscore_support(
            y_true, predicted, labels=classes, average=None, zero_division=0
        )
        result["per_class"] = {
            label: ClassMetrics(float(p[c]), float(r[c]), float(f[c]), int(support[c]))
            for c, label in enumerate(self.labels)
        }
        result["confusion_matrix"] = confusion_matrix(y_true, predicted, labels=classes).tolist()
        return LevelMetrics(**result)

    def bootstrap(self, y_true: np.ndarray, probs: np.ndarray, works: np.ndarray | None = None) -> dict[str, Any]:
        """95% intervals of accuracy, macro-F1 and each class's F1 over resamples of the items, each
        class kept: of whole works when `works` names each item's work and every class has two works
        or more, else of single items (a class of one work would be drawn whole every time and hide
        all variation)."""
        predicted = probs.argmax(axis=1)
        y_true = np.asarray(y_true)
        groups = np.arange(len(y_true))
        if works is not None and resamplable_by_work(y_true, np.asarray(works)):
            groups = np.asarray(works)
        accuracies, f1s, class_f1s = [], [], []
        for sample in work_resamples(y_true, groups, self.n_bootstrap, self.seed):
            accuracies.append(float(np.mean(predicted[sample] == y_true[sample])))
            f1s.append(macro_f1(y_true[sample], predicted[sample], len(self.labels)))
            class_f1s.append(per_class_f1(y_true[sample], predicted[sample], len(self.labels)))
        per_class = [interval([float(f[c]) for f in class_f1s]) for c in range(len(self.labels))]
        return {"accuracy_ci": interval(accuracies), "macro_f1_ci": interval(f1s), "per_class_f1_ci": per_class}

    def evaluate(
        self,
        window_probs: np.ndarray,
        window_labels: np.ndarray,
        recording_of: np.ndarray,
        works: np.ndarray | None = None,
        per_window: bool = True,
    ) -> ModelMetrics:
        """Window-level metrics (unless the windows carry their recording's answer: not `per_window`),
        and recording-level metrics with bootstrap intervals (over whole works when `works` names each
        window's work)."""
        segment = self.metrics(window_labels, window_probs) if per_window else None
        probs, _ = recording_probabilities(window_probs, recording_of)
        _, first_window = np.unique(recording_of, return_index=True)  # in the order recording_probabilities uses
        y_recording = np.asarray(window_labels)[first_window]
        intervals = self.bootstrap(y_recording, probs, None if works is None else np.asarray(works)[first_window])
        recording = self.metrics(y_recording, probs)
        per_class = {
            label: replace(recording.per_class[label], f1_ci=ci)
            for label, ci in zip(self.labels, intervals["per_class_f1_ci"], strict=True)
        }
        recording = replace(
            recording, accuracy_ci=intervals["accuracy_ci"], macro_f1_ci=intervals["macro_f1_ci"], per_class=per_class
        )
        return ModelMetrics(segment, recording)
