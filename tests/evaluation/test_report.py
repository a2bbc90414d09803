from __future__ import annotations

import re

from classicfy.evaluation.report import _misnamed


def test_the_report_lists_the_recordings_the_ensemble_names_wrong():
    def answer(path, model, label, predicted, p_high):
        return {"path": path, "label": label, "model": model, "predicted": predicted,
                "p_high": p_high, "p_low": round(1 - p_high, 6)}  # fmt: skip

    answers = [
        answer("a.flac", "ensemble", "high", "high", 0.9),
        answer("a.flac", "cnn", "high", "low", 0.4),
        answer("b.flac", "ensemble", "low", "high", 0.55),
    ]
    table = _misnamed(answers)
    assert "<td>b.flac</td><td>low</td><td>high</td><td>0.55</td><td>0.45</td>" in table
    assert "a.flac" not in table  # right for the ensemble; the CNN's miss is in predictions.csv only
    assert "names all 1 recordings right" in _misnamed(answers[:2])


def test_report_references_only_images_that_exist(trained):
    _, run, _ = trained
    page = (run / "report.html").read_text()
    images = re.findall(r"<img src='([^']+)'", page)
    assert len(images) >= 10
    assert all((run / image).is_file() for image in images)
    assert "http" not in page  # opens from disk, no network
    assert page.index("Summary") < page.index("<img")
