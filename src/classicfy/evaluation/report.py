"""The self-contained HTML report and the answers table (predictions.csv) of an evaluated run.

`write_report` lays out the summary table first, then the ensemble's wrong answers, the figures of
`classicfy.evaluation.plots`, the dataset and the configuration.
"""

from __future__ import annotations

import csv
import html
import io
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
                _fmt(seg.accuracy),
                _fmt(seg.macro_f1),
                _fmt(rec.accuracy, rec.accuracy_ci),
                _fmt(rec.balanced_accuracy),
                _fmt(rec.macro_f1, rec.macro_f1_ci),
                _fmt(rec.roc_auc_ovr_macro),
                _fmt(rec.log_loss),
                f"{seg.n} / {rec.n}",
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

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;white-space:nowrap}
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}img{max-width:100%;margin:.5em 0}
.grid{display:flex;flex-wrap:wrap;gap:1em}.grid img{max-width:48%}pre{background:#f6f6f6;padding:1em;overflow:auto}"""


def html_table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


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
    return summary + html_table(header, rows)


def write_report(
    out_dir: str | Path,
    title: str,
    metrics: dict[str, ModelMetrics],
    plots: dict[str, list[Path]],
    dataset: dict,
    config_text: str,
    notes: list[str],
    answers: list[dict],
    scored_on: str = "test split",
) -> Path:
    """`out_dir/report.html`: summary table, the ensemble's wrong answers, plots (relative links to
    `plots/`), dataset, configuration; `scored_on` names the recordings scored."""
    out_dir = Path(out_dir)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<h2>Summary ({html.escape(scored_on)})</h2>",
        html_table(SUMMARY_HEADER, summary_rows(metrics)),
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
        html_table(
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
            html_table(
                ["split", *labels],
                [[side, *(counts.get(label, 0) for label in labels)] for side, counts in sorted(sides.items())],
            )
        )
    skipped = dataset.get("skipped", [])
    parts.append(f"<p>{len(skipped)} file(s) skipped.</p>")
    if skipped:
        parts.append(html_table(["file", "reason"], [[s["path"], s["reason"]] for s in skipped]))
    parts.append(f"<h2>Configuration</h2><pre>{html.escape(config_text)}</pre></body></html>")
    path = out_dir / "report.html"
    atomic.write_text(path, "\n".join(parts))
    return path
