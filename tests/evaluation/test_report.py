"""The HTML report is one self-contained file: moved alone, it shows every figure."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser

import numpy as np

from classicfy.evaluation.plots import plot_timeline
from classicfy.evaluation.report import Report, _misnamed, write_report


class Sources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.ids: list[str] = []
        self.images_in: dict[str, str] = {}  # the image inside each element that has an id
        self._open_id: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.sources += [value or "" for name, value in attrs if name in ("src", "href")]
        if "id" in attributes:
            self.ids.append(attributes["id"] or "")
            self._open_id = attributes["id"]
        if tag == "img" and self._open_id:
            self.images_in[self._open_id] = attributes.get("src") or ""

    def handle_endtag(self, tag):
        if tag == "figure":
            self._open_id = None


def _answer(path, model, label, predicted, p_high):
    return {"path": path, "label": label, "model": model, "predicted": predicted,
            "p_high": p_high, "p_low": round(1 - p_high, 6)}  # fmt: skip


def test_the_report_lists_the_recordings_the_ensemble_names_wrong():
    answers = [
        _answer("a.flac", "ensemble", "high", "high", 0.9),
        _answer("a.flac", "cnn", "high", "low", 0.4),
        _answer("b.flac", "ensemble", "low", "high", 0.55),
    ]
    scored, wrong = _misnamed(answers, {})
    assert scored == 2 and [row["cells"] for row in wrong] == [
        ["b.flac", "low", "high", "0.55", "0.45"]
    ]  # the CNN's miss: predictions.csv
    assert _misnamed(answers[:2], {}) == (1, [])


def test_each_wrong_answer_links_to_its_timeline_inside_the_file(tmp_path):
    answers = [_answer("a.flac", "ensemble", "low", "high", 0.7), _answer("b.flac", "ensemble", "high", "low", 0.2)]
    starts = np.arange(4) * 2.0
    probs = np.tile([[0.7, 0.3]], (4, 1))
    drawn = plot_timeline(starts, 2.0, probs, ["high", "low"], "a.flac", tmp_path / "plots" / "a.png")
    report = Report("run", {}, {}, {}, "", [], answers, timelines={"a.flac": drawn})
    parser = Sources()
    parser.feed(write_report(tmp_path, report).read_text())
    links = [source for source in parser.sources if source.startswith("#")]
    assert links == ["#timeline-1"]  # b.flac has no timeline drawn: no link
    assert parser.images_in["timeline-1"].startswith("data:image/png;base64,")


def test_the_report_moved_alone_still_shows_every_image(trained, tmp_path):
    _, run, _ = trained
    moved = tmp_path / "elsewhere" / "report.html"
    moved.parent.mkdir()
    shutil.copy(run / "report.html", moved)
    parser = Sources()
    parser.feed(moved.read_text())
    images = [source for source in parser.sources if source.startswith("data:image/png;base64,")]
    assert len(images) >= len(list((run / "plots").glob("*.png"))) >= 10
    assert all(
        source.startswith("data:") or source[1:] in parser.ids for source in parser.sources
    )  # no file, no network
    text = moved.read_text()
    assert "http" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)  # no network
    assert "<h2>Summary (test split)</h2>" in text and text.index("Summary") < text.index("<img")
    assert "The ensemble names all" in text or "Every model's answers: predictions.csv" in text
