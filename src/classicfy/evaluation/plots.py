"""Figures of an evaluated run (matplotlib, PNG): one small function per figure, each taking the
numbers it draws and the path it writes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from classicfy import atomic

if TYPE_CHECKING:
    from classicfy.evaluation.metrics import ModelMetrics

MAIN_METRICS = (("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"), ("macro_f1", "macro-F1"))


def _figure(width: float = 6.0, height: float = 4.5, columns: int = 1):
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt.subplots(1, columns, figsize=(width, height), dpi=110)


def _save(fig, path: Path) -> Path:
    import io

    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic.write_bytes(path, buffer.getvalue())
    return path


def plot_confusion_matrix(matrix: list[list[int]], labels: list[str], title: str, path: str | Path) -> Path:
    """Rows normalised to recall: each row shows where one true class's items went."""
    return _save(confusion_figure(matrix, labels, title), Path(path))


def confusion_figure(matrix: list[list[int]], labels: list[str], title: str):  # a matplotlib Figure
    """The confusion matrix drawn, rows normalised to recall, each cell with its count."""
    counts = np.asarray(matrix, dtype=float)
    normalised = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 2.5 + 0.55 * len(labels)
    fig, ax = _figure(size + 1, size)
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                f"{normalised[i, j]:.2f}\n({int(counts[i, j])})",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if normalised[i, j] > 0.6 else "black",
            )
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def plot_roc_curves(y_true: np.ndarray, probs: np.ndarray, labels: list[str], title: str, path: str | Path) -> Path:
    """One-vs-rest ROC curve per class, with the micro average (all decisions pooled) and the macro
    average (mean of the per-class curves on a common grid)."""
    path = Path(path)
    from sklearn.metrics import auc, roc_curve

    fig, ax = _figure()
    grid = np.linspace(0, 1, 201)
    curves = []
    onehot = np.eye(len(labels))[y_true]
    for c, label in enumerate(labels):
        if not 0 < onehot[:, c].sum() < len(y_true):
            continue  # no positives or no negatives: no curve
        fpr, tpr, _ = roc_curve(onehot[:, c], probs[:, c])
        curves.append(np.interp(grid, fpr, tpr))
        ax.plot(fpr, tpr, lw=1, alpha=0.7, label=f"{label} (AUC {auc(fpr, tpr):.2f})")
    if curves:
        fpr, tpr, _ = roc_curve(onehot.ravel(), probs.ravel())
        ax.plot(fpr, tpr, "k--", lw=2, label=f"micro average (AUC {auc(fpr, tpr):.2f})")
        macro = np.mean(curves, axis=0)
        ax.plot(grid, macro, "k:", lw=2, label=f"macro average (AUC {auc(grid, macro):.2f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.5)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def plot_per_class_f1(metrics: dict[str, ModelMetrics], labels: list[str], level: str, path: str | Path) -> Path:
    """F1 of each class, one bar per model, with its 95% interval where it has one (recording level)."""
    path = Path(path)
    names = [name for name in metrics if getattr(metrics[name], level) is not None]  # recording models: no windows
    fig, ax = _figure(max(6.0, 1.2 * len(labels) + 2), 4.5)
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        per_class = getattr(metrics[name], level).per_class
        values = np.array([per_class[label].f1 for label in labels])
        intervals = [per_class[label].f1_ci for label in labels]
        errors = None
        if all(ci is not None for ci in intervals):
            low, high = np.array(intervals, dtype=float).T
            errors = np.clip([values - low, high - values], 0, None)
        x = np.arange(len(labels)) + i * width - 0.4 + width / 2
        ax.bar(x, values, width, label=name, yerr=errors, capsize=2, error_kw={"linewidth": 0.8})
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"F1 ({level} level)")
    shown = "recordings, 95% intervals" if level == "recording" else f"{level} level"
    ax.set_title(f"Per-class F1 by model ({shown})")
    ax.legend(fontsize=7, ncol=min(len(names), 5), loc="upper center", bbox_to_anchor=(0.5, -0.2))  # below the bars
    return _save(fig, path)


def plot_model_comparison(metrics: dict[str, ModelMetrics], path: str | Path) -> Path:
    """Recording-level accuracy, balanced accuracy and macro-F1 per model, with bootstrap 95% intervals."""
    path = Path(path)
    names = list(metrics)
    fig, ax = _figure(max(6.0, 1.1 * len(names) + 3), 4.5)
    width = 0.8 / len(MAIN_METRICS)
    for i, (key, title) in enumerate(MAIN_METRICS):
        values = np.array([getattr(metrics[n].recording, key) for n in names])
        errors = None
        if getattr(metrics[names[0]].recording, f"{key}_ci", None) is not None:
            ci = np.array([getattr(metrics[n].recording, f"{key}_ci") for n in names])
            errors = np.clip(np.stack([values - ci[:, 0], ci[:, 1] - values]), 0, None)
        ax.bar(np.arange(len(names)) + i * width - 0.4 + width / 2, values, width, yerr=errors, capsize=3, label=title)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("recording level")
    ax.set_title("Model comparison (recordings, 95% bootstrap intervals)")
    ax.legend(fontsize=8, loc="lower right", framealpha=0.9)
    return _save(fig, path)


def plot_training_curves(histories: dict[str, list[dict]], path: str | Path) -> Path:
    """Training loss and validation macro-F1 per epoch, one line per model."""
    path = Path(path)
    fig, (loss_ax, f1_ax) = _figure(10, 4, columns=2)
    for name, rows in histories.items():
        epochs = [int(r["epoch"]) for r in rows]
        loss_ax.plot(epochs, [float(r["train_loss"]) for r in rows], label=f"{name} train")
        loss_ax.plot(epochs, [float(r["val_loss"]) for r in rows], "--", label=f"{name} val")
        f1_ax.plot(epochs, [float(r["val_macro_f1"]) for r in rows], marker="o", ms=3, label=name)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    loss_ax.legend(fontsize=7)
    f1_ax.set_xlabel("epoch")
    f1_ax.set_ylabel("validation macro-F1 (windows)")
    f1_ax.set_ylim(0, 1.05)
    f1_ax.legend(fontsize=7)
    return _save(fig, path)


def _draw_roll(ax, notes: list[tuple[float, float, int, float]], scale: float) -> None:
    """A piano roll: one line per note at its pitch, darker for louder."""
    from matplotlib.collections import LineCollection

    segments = [((start / scale, pitch), (end / scale, pitch)) for start, end, pitch, _ in notes]
    shades = [min(max(amplitude, 0.2), 1.0) for *_, amplitude in notes]
    ax.add_collection(LineCollection(segments, colors=[(0, 0, 0, a) for a in shades], linewidths=2))
    pitches = [pitch for _, _, pitch, _ in notes] or [60]
    ax.set_ylim(min(pitches) - 2, max(pitches) + 2)
    ax.set_ylabel("MIDI pitch (notes heard)")


def plot_timeline(
    starts_s: np.ndarray,
    window_s: float,
    probs: np.ndarray,
    labels: list[str],
    title: str,
    path: str | Path,
    notes: list[tuple[float, float, int, float]] | None = None,
) -> Path:
    """Each class's probability along a recording: which passages sound like whom.

    One stacked band per class, a window drawn over its hop; gaps (silence dropped) stay blank.
    With `notes` (start s, end s, MIDI pitch, amplitude), the note roll heard runs below, on the
    same time axis: what was playing where the answer changes.
    """
    path = Path(path)
    starts_s = np.asarray(starts_s, dtype=float)
    end_s = float(starts_s.max() + window_s) if len(starts_s) else window_s
    unit, scale = ("min", 60.0) if end_s > 180 else ("s", 1.0)
    if notes is None:
        fig, ax = _figure(10, 3.6)
    else:
        import matplotlib.pyplot as plt

        fig, (ax, roll) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=(1, 1.2))
        _draw_roll(roll, notes, scale)
    step = float(np.min(np.diff(starts_s))) if len(starts_s) > 1 else window_s
    bottom = np.zeros(len(starts_s))
    for column, label in enumerate(labels):
        ax.bar(
            starts_s / scale,
            probs[:, column],
            min(step, window_s) / scale,
            bottom=bottom,
            align="edge",
            color=f"C{column % 10}",
            label=label,
            linewidth=0,
        )
        bottom += probs[:, column]
    ax.set_xlim(0, end_s / scale)
    ax.set_ylim(0, 1)
    (roll if notes is not None else ax).set_xlabel(f"time ({unit})")
    ax.set_ylabel("probability")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)
