"""The HTML report is one self-contained file: moved alone, it shows every figure."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser

from classicfy.evaluation.report import _misnamed


class Sources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.sources += [value or "" for name, value in attrs if name in ("src", "href")]


def test_the_report_lists_the_recordings_the_ensemble_names_wrong():
    def answer(path, model, label, predicted, p_high):
        return {"path": path, "label": label, "model": model, "predicted": predicted,
                "p_high": p_high, "p_low": round(1 - p_high, 6)}  # fmt: skip

    answers = [
        answer("a.flac", "ensemble", "high", "high", 0.9),
        answer("a.flac", "cnn", "high", "low", 0.4),
        answer("b.flac", "ensemble", "low", "high", 0.55),
    ]
    scored, wrong = _misnamed(answers)
    assert scored == 2 and wrong == [["b.flac", "low", "high", "0.55", "0.45"]]  # the CNN's miss: predictions.csv
    assert _misnamed(answers[:2]) == (1, [])


def test_the_report_moved_alone_still_shows_every_image(trained, tmp_path):
    _, run, _ = trained
    moved = tmp_path / "elsewhere" / "report.html"
    moved.parent.mkdir()
    shutil.copy(run / "report.html", moved)
    parser = Sources()
    parser.feed(moved.read_text())
    images = [source for source in parser.sources if source.startswith("data:image/png;base64,")]
    assert len(images) >= len(list((run / "plots").glob("*.png"))) >= 10
    assert all(source.startswith("data:") for source in parser.sources)  # nothing points at a file or the network
    text = moved.read_text()
    assert "http" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)  # no network
    assert "<h2>Summary (test split)</h2>" in text and text.index("Summary") < text.index("<img")
    assert "The ensemble names all" in text or "Every model's answers: predictions.csv" in text
