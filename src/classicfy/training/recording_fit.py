"""Fitting a model that answers whole recordings (`RecordingProbe`): closed form, no epochs.

Each recording of the model's training side (its original audio; augmented copies are not
recordings a user would give) is embedded by the frozen backbone and described by its windows'
mean and spread. A logistic regression (classes balanced) is fitted on the standardised
descriptions for each regularisation strength in `C_GRID`; the one with the lowest log loss on the
validation recordings is kept, as the deep models keep their best epoch by validation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from classicfy.evaluation.metrics import macro_f1
from classicfy.features.inputs import WindowSet
from classicfy.models.probe import RecordingProbe
from classicfy.rundir import ModelCard, RunFolder
from classicfy.training.trainer import TrainState

log = logging.getLogger(__name__)
C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)
EPS = 1e-9


@dataclass(frozen=True)
class RecordingFit:
    """A fitted scaler and logistic regression, with what chose its strength."""

    center: np.ndarray
    scale: np.ndarray
    weight: np.ndarray  # (classes, features)
    bias: np.ndarray
    c: float
    val_log_loss: float
    val_macro_f1: float


def described_recordings(model: RecordingProbe, windows: WindowSet) -> tuple[np.ndarray, np.ndarray]:
    """Each original recording's description (`describe` of its windows' embeddings) and label index."""
    chosen = np.flatnonzero(~windows.augmented)
    recording_of = windows.recording_of[chosen]
    described = model.describe_recordings(model.embeddings(windows, chosen), recording_of)
    _, first_window = np.unique(recording_of, return_index=True)  # in the order the descriptions take
    return described.cpu().numpy().astype(np.float64), windows.labels[chosen][first_window]


def _full_rows(values: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Coefficients or intercepts for every class: a two-class regression has one row, the second class's."""
    if len(values) == 1 and n_classes == 2:
        values = np.concatenate([np.zeros_like(values), values])
    full = np.zeros((n_classes, *values.shape[1:]))
    full[classes] = values
    return full


def fit_recording_classifier(
    train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], n_classes: int
) -> RecordingFit:
    """The logistic regression of `C_GRID` whose answers on `val` have the lowest log loss."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    (rows, labels), (val_rows, val_labels) = train, val
    scaler = StandardScaler().fit(rows)
    standard, val_standard = scaler.transform(rows), scaler.transform(val_rows)
    best: RecordingFit | None = None
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(standard, labels)
        weight = _full_rows(model.coef_, model.classes_, n_classes)
        bias = _full_rows(model.intercept_[:, None], model.classes_, n_classes)[:, 0]
        logits = val_standard @ weight.T + bias
        log_probs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        loss = -float(np.mean(np.maximum(log_probs[np.arange(len(val_labels)), val_labels], np.log(EPS))))
        if best is None or loss < best.val_log_loss:
            f1 = macro_f1(val_labels, logits.argmax(axis=1), n_classes)
            best = RecordingFit(scaler.mean_, scaler.scale_, weight, bias, c, loss, f1)
    assert best is not None
    return best


def fit_recording_model(
    name: str, model: RecordingProbe, sets: tuple[WindowSet, WindowSet], card: ModelCard, run: RunFolder
) -> TrainState:
    """Fit (or, when its files stand, keep) a recording model and save it with its card."""
    if run.weights_path(name).is_file() and run.card_path(name).is_file():
        log.info("%s: fitted already", name)
        fitted = run.read_card(name).training or {}
        return TrainState(epoch=1, best_score=float(fitted.get("val_macro_f1", -1.0)), best_epoch=1)
    train_set, val_set = sets
    log.info("%s: embedding %d training and %d validation windows", name, int((~train_set.augmented).sum()),
             len(val_set))  # fmt: skip
    train, val = described_recordings(model, train_set), described_recordings(model, val_set)
    fit = fit_recording_classifier(train, val, len(card.labels))
    model.set_fit(fit.center, fit.scale, fit.weight, fit.bias)
    summary = {"kept": "closed form", "c": fit.c, "val_log_loss": round(fit.val_log_loss, 6),
               "val_macro_f1": round(fit.val_macro_f1, 6), "recordings": len(train[1])}  # fmt: skip
    run.write_model(name, model.state_dict(), replace(card, training=summary))
    log.info("%s: C = %g, validation macro-F1 %.3f over %d recordings", name, fit.c, fit.val_macro_f1, len(val[1]))
    return TrainState(epoch=1, best_score=fit.val_macro_f1, best_epoch=1)
