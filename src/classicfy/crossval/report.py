"""`CV/report.html` and the printed table of a cross-validation: the same figures as summary.json."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from classicfy import atomic

HEADER = ["model", "win F1 (mean ± sd)", "rec F1 (mean ± sd)", "rec acc (mean)", "rec F1 over folds", "rec F1 per run"]

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;white-space:nowrap}
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}"""


def html_table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(level: dict[str, Any] | None) -> str:
    """A level's mean macro-F1 and spread over runs; "-" for windows of a model that answers recordings only."""
    return "-" if level is None else f"{level['macro_f1']['mean']:.3f} ± {level['macro_f1']['std']:.3f}"


def summary_table(summary: dict[str, Any]) -> list[list[str]]:
    """One row per model: mean and spread over runs, range over folds, and each run's pooled figure."""
    rows = []
    for name, levels in summary["models"].items():
        per_run = " / ".join(f"{run['models'][name]['recording']['macro_f1']:.3f}" for run in summary["runs"])
        low, high = levels["recording"]["fold_range"]
        rows.append(
            [
                name,
                _cell(levels["segment"]),
                _cell(levels["recording"]),
                f"{levels['recording']['accuracy']['mean']:.3f}",
                f"{low:.2f}-{high:.2f}",
                per_run,
            ]
        )
    return rows


def print_summary(summary: dict[str, Any]) -> None:
    plan = summary["plan"]
    print(
        f"\n{plan['data']}: {plan['folds']} folds, seeds {plan['seeds']}, fold seeds {plan['fold_seeds']} "
        "(pooled macro-F1 per run; mean and spread over runs)"
    )
    rows = [HEADER, *summary_table(summary)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    for row in rows:
        print(("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))).rstrip())


def _recall_rows(summary: dict[str, Any]) -> list[list[str]]:
    """Each model's recording recall per class, averaged over runs: which classes it fails."""
    rows = []
    for name in summary["models"]:
        per_class = [run["models"][name]["recording"]["per_class"] for run in summary["runs"]]
        means = [sum(p[label]["recall"] for p in per_class) / len(per_class) for label in summary["labels"]]
        rows.append([name, *(f"{m:.2f}" for m in means)])
    return rows


def _run_rows(summary: dict[str, Any]) -> list[list[str]]:
    rows = []
    for run in summary["runs"]:
        for name, metrics in run["models"].items():
            rec = metrics["recording"]
            low, high = rec["macro_f1_ci"]
            rows.append(
                [
                    run["fold_seed"],
                    run["seed"],
                    name,
                    f"{metrics['segment']['macro_f1']:.3f}" if metrics["segment"] else "-",
                    f"{rec['macro_f1']:.3f} [{low:.2f}, {high:.2f}]",
                    f"{rec['accuracy']:.3f}",
                    rec["n"],
                ]
            )
    return rows


def write_crossval_report(out: str | Path, summary: dict[str, Any]) -> Path:
    """`out/report.html`: the summary table, per-class recall, and every run with its work-bootstrap interval."""
    out = Path(out)
    plan = summary["plan"]
    title = f"classicfy cross-validation: {plan['data']}, {plan['folds']} folds"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p>Seeds {plan['seeds']}, fold seeds {plan['fold_seeds']}. Each recording is scored once per run by "
        "models that never heard its work; figures are pooled over the folds.</p>",
        html_table(HEADER, summary_table(summary)),
        "<h2>Recall per class (recordings, mean over runs)</h2>",
        html_table(["model", *summary["labels"]], _recall_rows(summary)),
        "<h2>Every run</h2>",
        html_table(
            ["fold seed", "seed", "model", "win F1", "rec F1 [95% CI, works resampled]", "rec acc", "recordings"],
            _run_rows(summary),
        ),
        "</body></html>",
    ]
    path = out / "report.html"
    atomic.write_text(path, "\n".join(parts))
    return path
