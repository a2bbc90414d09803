"""The run's model card, README.md, in the Hugging Face convention."""

from __future__ import annotations

import json

from classicfy.cli import main


def _front_matter(text: str) -> dict:
    head = text.split("---\n")[1]  # the values are JSON, which YAML reads as they are
    return {key: json.loads(value) for key, value in (line.split(": ", 1) for line in head.splitlines())}


def test_train_writes_a_card_with_labels_and_macro_f1_and_evaluate_refreshes_it(trained, tmp_path):
    _, run, cache = trained
    card = (run / "README.md").read_text()
    front = _front_matter(card)
    assert front["labels"] == json.loads((run / "labels.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())["models"]
    assert front["metrics"]["macro_f1"]["ensemble"]["recording"] == metrics["ensemble"]["recording"]["macro_f1"]
    for section in ("## Intended use", "## Data and split", "## Training recipe", "## Results on the test works",
                    "## Limits", "## How to use", "Classifier.load"):  # fmt: skip
        assert section in card
    (run / "README.md").unlink()
    assert main(["evaluate", str(run), "--cache", str(cache), "--no-progress", "--out", str(tmp_path / "e")]) == 0
    assert not (run / "README.md").exists()  # scoring elsewhere leaves the run's card alone
    assert main(["evaluate", str(run), "--cache", str(cache), "--no-progress"]) == 0
    assert _front_matter((run / "README.md").read_text())["labels"] == front["labels"]
