"""The HTML report is one self-contained file: moved alone, it shows every figure."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser


class Sources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.sources += [value or "" for name, value in attrs if name in ("src", "href")]


def test_the_report_moved_alone_still_shows_every_image(trained, tmp_path):
    _, run, _ = trained
    moved = tmp_path / "elsewhere" / "report.html"
    moved.parent.mkdir()
    shutil.copy(run / "report.html", moved)
    parser = Sources()
    parser.feed(moved.read_text())
    images = [source for source in parser.sources if source.startswith("data:image/png;base64,")]
    assert len(images) >= len(list((run / "plots").glob("*.png"))) > 0
    assert all(source.startswith("data:") for source in parser.sources)  # nothing points at a file or the network
    text = moved.read_text()
    assert "<h2>Summary (test split)</h2>" in text and "&lt;" not in text.split("<pre>")[0]
