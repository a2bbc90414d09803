"""The self-contained HTML report and the answers table (predictions.csv) of an evaluated run.

`write_report` renders `templates/report.html.j2` (Jinja2): the summary table first, then the
ensemble's wrong answers, the figures of `classicfy.evaluation.plots` embedded as data, the dataset
and the configuration. Moved alone, the file still shows everything, offline.
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from classicfy import atomic

if TYPE_CHECKING:
    from classicfy.evaluation.metrics import ModelMetrics


def _fmt(value, ci=None) -> str:
    if value is None:
        return "-"
    text = f"{value:.3f}"
    return f"{text} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else text


def summary_rows(metrics: dict[str, ModelMetrics]) -> list[list[str]]:
    """The summary table: one row per model, window- and recording-level figures."""
    rows = []
    for name, m in metrics.items():
        seg, rec = m.segment, m.recording
        rows.append(
            [
                name,
                _fmt(seg.accuracy if seg else None),
                _fmt(seg.macro_f1 if seg else None),
                _fmt(rec.accuracy, rec.accuracy_ci),
                _fmt(rec.balanced_accuracy),
                _fmt(rec.macro_f1, rec.macro_f1_ci),
                _fmt(rec.roc_auc_ovr_macro),
                _fmt(rec.log_loss),
                f"{seg.n if seg else '-'} / {rec.n}",
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


def probability_column(label: str) -> str:
    """The `predictions.csv` column holding a label's probability."""
    return f"p_{label}"


def write_predictions(path: str | Path, answers: list[dict]) -> None:
    """`predictions.csv`: one row per recording and model (see `evaluation.pipeline.recording_answers`)."""
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(answers[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(answers)
    atomic.write_text(path, buffer.getvalue())


@dataclass(frozen=True)
class Report:
    """What the report shows; `scored_on` names the recordings scored, `timelines` maps a recording's
    path to its timeline figure."""

    title: str
    metrics: dict[str, ModelMetrics]
    plots: dict[str, list[Path]]
    dataset: dict
    config_text: str
    notes: list[str]
    answers: list[dict]
    timelines: dict[str, Path] = field(default_factory=dict)
    scored_on: str = "test split"


def ensemble_misses(answers: list[dict]) -> list[dict]:
    """The answers of the ensemble that name a recording wrong, in the answers' order."""
    return [a for a in answers if a["model"] == "ensemble" and a["predicted"] != a["label"]]


def _misnamed(answers: list[dict], timelines: dict[str, Path]) -> tuple[int, list[dict]]:
    """How many recordings the ensemble scored, and for each it names wrong: its answer's and the
    truth's probabilities, and its timeline (embedded) where one was drawn."""
    scored = [a for a in answers if a["model"] == "ensemble"]
    wrong = ensemble_misses(answers)
    return len(scored), [
        {
            "cells": [
                a["path"],
                a["label"],
                a["predicted"],
                f"{a[probability_column(a['predicted'])]:.2f}",
                f"{a[probability_column(a['label'])]:.2f}",
            ],
            "timeline": _embedded(timelines[a["path"]]) if a["path"] in timelines else None,
            "anchor": f"timeline-{number}",
        }
        for number, a in enumerate(wrong, start=1)
    ]


def _embedded(image: Path) -> dict[str, str]:
    """An image as a data URI: the report stays whole when moved without its folder."""
    data = base64.b64encode(image.read_bytes()).decode("ascii")
    return {"name": image.stem, "data": f"data:image/png;base64,{data}"}


def write_report(out_dir: str | Path, report: Report) -> Path:
    """`out_dir/report.html`, one self-contained file rendered from `templates/report.html.j2`:
    summary table, the ensemble's wrong answers linked to their timelines, the plots (embedded),
    dataset, configuration."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(loader=PackageLoader("classicfy.evaluation"), autoescape=select_autoescape(["j2"]))
    scored, wrong = _misnamed(report.answers, report.timelines)
    dataset = report.dataset
    sides = dataset.get("windows_per_split", {})
    side_labels = sorted({label for counts in sides.values() for label in counts})
    per_label = dataset.get("per_label", {})
    page = environment.get_template("report.html.j2").render(
        title=report.title,
        scored_on=report.scored_on,
        summary_header=SUMMARY_HEADER,
        summary_rows=summary_rows(report.metrics),
        notes=report.notes,
        scored=scored,
        wrong=wrong,
        figures={section: [_embedded(image) for image in images] for section, images in report.plots.items()},
        per_label=[
            [label, v["recordings"], v["groups"], f"{v['minutes']:.1f}", v["windows"]] for label, v in per_label.items()
        ],
        side_labels=side_labels,
        sides=[[side, *(counts.get(label, 0) for label in side_labels)] for side, counts in sorted(sides.items())],
        skipped=[[s["path"], s["reason"]] for s in dataset.get("skipped", [])],
        config_text=report.config_text,
    )
    path = Path(out_dir) / "report.html"
    atomic.write_text(path, page)
    return path
