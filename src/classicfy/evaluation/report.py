"""Plots (matplotlib, PNG), the self-contained HTML report and the answers table of an evaluated run.

One small function per figure, each taking the numbers it draws; `write_report` lays them out
with the summary table first, then the ensemble's wrong answers, the dataset and the configuration.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

import numpy as np

from classicfy import atomic

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


def plot_confusion_matrix(matrix: list[list[int]], labels: list[str], title: str, path: Path) -> Path:
    """Rows normalised to recall: each row shows where one true class's items went."""
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
    return _save(fig, path)


def plot_roc_curves(y_true: np.ndarray, probs: np.ndarray, labels: list[str], title: str, path: Path) -> Path:
    """One-vs-rest ROC curve per class, with the micro average (all decisions pooled) and the macro
    average (mean of the per-class curves on a common grid)."""
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


def plot_per_class_f1(metrics: dict, labels: list[str], level: str, path: Path) -> Path:
    """F1 of each class, one bar per model."""
    names = list(metrics)
    fig, ax = _figure(max(6.0, 1.2 * len(labels) + 2), 4.5)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [metrics[name][level]["per_class"][label]["f1"] for label in labels]
        ax.bar(np.arange(len(labels)) + i * width - 0.4 + width / 2, values, width, label=name)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"F1 ({level} level)")
    ax.set_title(f"Per-class F1 by model ({level} level)")
    ax.legend(fontsize=7, ncol=min(len(names), 4))
    return _save(fig, path)


def plot_model_comparison(metrics: dict, path: Path) -> Path:
    """Recording-level accuracy, balanced accuracy and macro-F1 per model, with bootstrap 95% intervals."""
    names = list(metrics)
    fig, ax = _figure(max(6.0, 1.1 * len(names) + 3), 4.5)
    width = 0.8 / len(MAIN_METRICS)
    for i, (key, title) in enumerate(MAIN_METRICS):
        values = np.array([metrics[n]["recording"][key] for n in names])
        errors = None
        if f"{key}_ci" in metrics[names[0]]["recording"]:
            ci = np.array([metrics[n]["recording"][f"{key}_ci"] for n in names])
            errors = np.clip(np.stack([values - ci[:, 0], ci[:, 1] - values]), 0, None)
        ax.bar(np.arange(len(names)) + i * width - 0.4 + width / 2, values, width, yerr=errors, capsize=3, label=title)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("recording level")
    ax.set_title("Model comparison (recordings, 95% bootstrap intervals)")
    ax.legend(fontsize=8, loc="lower right", framealpha=0.9)
    return _save(fig, path)


def plot_training_curves(histories: dict[str, list[dict]], path: Path) -> Path:
    """Training loss and validation macro-F1 per epoch, one line per model."""
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


def plot_timeline(
    starts_s: np.ndarray, window_s: float, probs: np.ndarray, labels: list[str], title: str, path: Path
) -> Path:
    """Each class's probability along a recording: which passages sound like whom.

    One stacked band per class, a window drawn over its hop; gaps (silence dropped) stay blank.
    """
    starts_s = np.asarray(starts_s, dtype=float)
    end_s = float(starts_s.max() + window_s) if len(starts_s) else window_s
    unit, scale = ("min", 60.0) if end_s > 180 else ("s", 1.0)
    fig, ax = _figure(10, 3.6)
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
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("probability")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def plot_prediction_timeline(prediction, path: Path) -> Path:
    """The timeline of a `classicfy.predict.Prediction`, drawn from its segments."""
    labels = list(prediction.probabilities)
    segments = prediction.segments
    probs = np.array([[s["probabilities"][label] for label in labels] for s in segments]).reshape(-1, len(labels))
    window_s = segments[0]["end_s"] - segments[0]["start_s"] if segments else 0.0
    title = f"{prediction.path.name}: {prediction.label} ({prediction.probability:.2f})"
    return plot_timeline([s["start_s"] for s in segments], window_s, probs, labels, title, path)


def _fmt(value, ci=None) -> str:
    if value is None:
        return "-"
    text = f"{value:.3f}"
    return f"{text} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else text


def summary_rows(metrics: dict) -> list[list[str]]:
    """The summary table: one row per model, window- and recording-level figures."""
    rows = []
    for name, m in metrics.items():
        seg, rec = m["segment"], m["recording"]
        rows.append(
            [
                name,
                _fmt(seg["accuracy"]),
                _fmt(seg["macro_f1"]),
                _fmt(rec["accuracy"], rec.get("accuracy_ci")),
                _fmt(rec["balanced_accuracy"]),
                _fmt(rec["macro_f1"], rec.get("macro_f1_ci")),
                _fmt(rec["roc_auc_ovr_macro"]),
                _fmt(rec["log_loss"]),
                f"{seg['n']} / {rec['n']}",
            ]
        )
    return rows


SUMMARY_HEADER = [
    "model",
    "window accuracy",
    "window macro-F1",
    "recording accuracy [95% CI]",
    "recording balanced accuracy",
    "recording macro-F1 [95% CI]",
    "recording ROC AUC (OvR macro)",
    "recording log loss",
    "windows / recordings",
]

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;white-space:nowrap}
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}img{max-width:100%;margin:.5em 0}
.grid{display:flex;flex-wrap:wrap;gap:1em}.grid img{max-width:48%}pre{background:#f6f6f6;padding:1em;overflow:auto}"""


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def probability_column(label: str) -> str:
    """The `predictions.csv` column holding a label's probability."""
    return f"p_{label}"


def write_predictions(path: Path, answers: list[dict]) -> None:
    """`predictions.csv`: one row per recording and model (see `evaluation.recording_answers`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(answers[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(answers)
    atomic.write_text(path, buffer.getvalue())


def _misnamed(answers: list[dict]) -> str:
    """The recordings the ensemble names wrong, with its answer's and the truth's probabilities."""
    scored = [a for a in answers if a["model"] == "ensemble"]
    wrong = [a for a in scored if a["predicted"] != a["label"]]
    if not wrong:
        return f"<p>The ensemble names all {len(scored)} recordings right.</p>"
    rows = [
        [
            a["path"],
            a["label"],
            a["predicted"],
            f"{a[probability_column(a['predicted'])]:.2f}",
            f"{a[probability_column(a['label'])]:.2f}",
        ]
        for a in wrong
    ]
    header = ["recording", "label", "answer", "p(answer)", "p(label)"]
    summary = f"<p>{len(wrong)} of the {len(scored)} recordings. Every model's answers: predictions.csv.</p>"
    return summary + _table(header, rows)


def write_report(
    out_dir: Path,
    title: str,
    metrics: dict,
    plots: dict[str, list[Path]],
    dataset: dict,
    config_text: str,
    notes: list[str],
    answers: list[dict],
    scored_on: str = "test split",
) -> Path:
    """`out_dir/report.html`: summary table, the ensemble's wrong answers, plots (relative links to
    `plots/`), dataset, configuration; `scored_on` names the recordings scored."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<h2>Summary ({html.escape(scored_on)})</h2>",
        _table(SUMMARY_HEADER, summary_rows(metrics)),
    ]
    parts += [f"<p>{html.escape(note)}</p>" for note in notes]
    parts += ["<h2>Recordings the ensemble names wrong</h2>", _misnamed(answers)]
    for section, images in plots.items():
        parts.append(f"<h2>{html.escape(section)}</h2><div class='grid'>")
        parts += [
            f"<img src='{image.relative_to(out_dir).as_posix()}' alt='{html.escape(image.stem)}'>" for image in images
        ]
        parts.append("</div>")
    parts.append("<h2>Dataset</h2>")
    per_label = dataset.get("per_label", {})
    parts.append(
        _table(
            ["label", "recordings", "works", "minutes", "windows"],
            [
                [label, v["recordings"], v["groups"], f"{v['minutes']:.1f}", v["windows"]]
                for label, v in per_label.items()
            ],
        )
    )
    sides = dataset.get("windows_per_split", {})
    if sides:
        labels = sorted({label for counts in sides.values() for label in counts})
        parts.append(
            _table(
                ["split", *labels],
                [[side, *(counts.get(label, 0) for label in labels)] for side, counts in sorted(sides.items())],
            )
        )
    skipped = dataset.get("skipped", [])
    parts.append(f"<p>{len(skipped)} file(s) skipped.</p>")
    if skipped:
        parts.append(_table(["file", "reason"], [[s["path"], s["reason"]] for s in skipped]))
    parts.append(f"<h2>Configuration</h2><pre>{html.escape(config_text)}</pre></body></html>")
    path = out_dir / "report.html"
    atomic.write_text(path, "\n".join(parts))
    return path
