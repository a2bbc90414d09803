"""A run's model card, `RUN/README.md`, in the Hugging Face convention: YAML front matter (labels,
metrics, dataset), then what the models are for, how they were trained and scored, and their limits.

`train` writes it; `evaluate` refreshes it with the test figures. The front matter's values are
written as JSON, which YAML reads as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from classicfy import atomic
from classicfy.config import RunConfig
from classicfy.rundir import CARD_FILE, RunFolder


def _front_matter(run: RunFolder, config: RunConfig, labels: list[str], metrics: dict[str, Any]) -> str:
    results = {
        name: {level: levels[level]["macro_f1"] for level in ("segment", "recording") if levels.get(level)}
        for name, levels in metrics.items()
    }
    fields = {
        "library_name": "classicfy",
        "pipeline_tag": "audio-classification",
        "tags": ["audio-classification", "classical-music", "music-information-retrieval"],
        "labels": labels,
        "datasets": [config.data],
        "models": list(config.models),
        "metrics": {"macro_f1": results} if results else {},
    }
    return "---\n" + "".join(f"{key}: {json.dumps(value)}\n" for key, value in fields.items()) + "---\n"


def _results(metrics: dict[str, Any]) -> list[str]:
    if not metrics:
        return ["Not scored yet: `classicfy evaluate RUN` scores the run on its test works and refreshes this card."]
    lines = ["| model | window macro-F1 | recording macro-F1 [95% interval over works] | recording accuracy |",
             "|---|---:|---:|---:|"]  # fmt: skip
    for name, levels in metrics.items():
        nan = float("nan")
        window, recording = levels.get("segment") or {}, levels.get("recording") or {}
        low, high = recording.get("macro_f1_ci", [nan, nan])
        f1, accuracy = recording.get("macro_f1", nan), recording.get("accuracy", nan)
        window_f1 = f"{window['macro_f1']:.3f}" if window else "-"  # "-": the model answers recordings only
        lines.append(f"| {name} | {window_f1} | {f1:.3f} [{low:.2f}, {high:.2f}] | {accuracy:.3f} |")
    return lines


def _confusions(metrics: dict[str, Any], labels: list[str]) -> list[str]:
    """The ensemble's most frequent mistakes per recording, true label first."""
    matrix = metrics.get("ensemble", {}).get("recording", {}).get("confusion_matrix")
    if not matrix:
        return []
    mistakes = sorted(((matrix[i][j], labels[i], labels[j]) for i in range(len(labels)) for j in range(len(labels))
                       if i != j and matrix[i][j]), reverse=True)[:5]  # fmt: skip
    if not mistakes:
        return ["The ensemble named every test recording right."]
    return [f"- {true} taken for {guess}: {count} recording(s)" for count, true, guess in mistakes]


def model_card(run: RunFolder) -> str:
    """The card's text, from the run's config, labels, dataset summary and (once evaluated) metrics."""
    config, labels = run.read_config(), run.read_labels()
    dataset, metrics = run.read_dataset_summary(), run.read_test_metrics()
    sides = dataset.get("windows_per_split", {})
    built_in = config.data.startswith("builtin:")
    limits = [
        "- Figures from one split are noisy (a few dozen recordings move by 0.05-0.08 with the seed alone); "
        "judge a recipe with `classicfy crossval`.",
        "- The models know only these labels: a recording of anything else still gets one of them.",
    ]
    if built_in:
        limits.insert(0, "- Trained on scores rendered by a synthesizer (piano by default), not on performances: "
                         "expect lower figures on real recordings.")  # fmt: skip
    body = [
        f"# classicfy run {run.path.name}",
        "",
        f"Classifies recordings of classical music into {len(labels)} labels: {', '.join(labels)}.",
        "",
        "## Intended use",
        "",
        "Telling these labels apart in new recordings (who wrote this, which era, which ensemble), as a research "
        "and cataloguing aid whose answers a person checks. Not for other labels or other kinds of audio.",
        "",
        "## Data and split",
        "",
        f"Dataset `{config.data}`: {dataset.get('recordings', '?')} recordings, {dataset.get('windows', '?')} windows "
        f"of {config.features.audio.window_s:g} s. Every work is on one side of the split only "
        f"(windows per side: {', '.join(f'{side} {sum(v.values())}' for side, v in sides.items()) or 'not recorded'}).",
        "",
        "## Training recipe",
        "",
        f"Models {', '.join(config.models)}; up to {config.train.epochs} epochs (early stopping on validation "
        f"macro-F1, patience {config.train.patience}), seed {config.train.seed}; augmented copies per training "
        f"recording: {config.augment.copies}. The whole recipe is `config.toml`; `classicfy train DATA --config "
        "RUN/config.toml` repeats it.",
        "",
        "## Results on the test works",
        "",
        *_results(metrics),
        "",
        *(["## Known confusions", "", *_confusions(metrics, labels), ""] if metrics else []),
        "## Limits",
        "",
        *limits,
        "",
        "## How to use",
        "",
        "```bash",
        f"classicfy predict {run.path.name} recording.flac",
        f"classicfy serve {run.path.name}",
        f"classicfy embed {run.path.name} recordings/ --out embeddings.npz  # vectors for clustering",
        "```",
        "",
        "```python",
        "from classicfy import Classifier",
        f'print(Classifier.load("{run.path.name}").predict("recording.flac").label)',
        "```",
    ]
    return _front_matter(run, config, labels, metrics) + "\n" + "\n".join(body) + "\n"


def write_model_card(run_dir: str | Path) -> Path:
    run = RunFolder(run_dir)
    path = run.path / CARD_FILE
    atomic.write_text(path, model_card(run))
    return path
