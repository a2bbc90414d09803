"""The HTTP API of `classicfy serve`, through the framework's test client."""

from __future__ import annotations

import json
import threading

import pytest
from fastapi.testclient import TestClient

from classicfy.serving.app import ServeSettings, create_app, serve_app
from helpers import run_cli


@pytest.fixture(scope="module")
def served(trained):
    data, run, _ = trained
    with TestClient(serve_app(ServeSettings(run, max_upload_mb=1, max_concurrent=2, top_k=3, device="cpu"))) as client:
        yield data, run, client


def _upload(client, path, name=None):
    with open(path, "rb") as handle:
        return client.post("/v1/predict", files={"file": (name or path.name, handle, "application/octet-stream")})


def test_an_answer_over_http_is_the_answer_of_predict_format_json(served):
    data, run, client = served
    recording = sorted(data.rglob("*.flac"))[0]
    answer = _upload(client, recording)
    assert answer.status_code == 200
    done = run_cli("predict", str(run), str(recording), "--format", "json", "--top-k", "3", "--no-progress")
    expected = json.loads(done.stdout)[0]
    assert answer.json() == expected | {"path": recording.name}


def test_the_model_health_and_readiness_endpoints(served):
    _, run, client = served
    model = client.get("/v1/model").json()
    assert model["labels"] == json.loads((run / "labels.json").read_text())
    assert set(model["models"]) == {"cnn", "gru"} and abs(sum(model["ensemble"].values()) - 1) < 1e-9
    assert "macro_f1" in model["metrics"]["ensemble"]["recording"]
    assert client.get("/healthz").json() == {"status": "ok"} and client.get("/readyz").json() == {"ready": True}
    assert client.get("/openapi.json").json()["paths"]["/v1/predict"]
    page = client.get("/")
    assert page.status_code == 200 and "Who wrote this?" in page.text
    assert client.get("/app.js").headers["content-type"].startswith("text/javascript")


def test_not_audio_is_422_with_the_words_predict_uses(served, tmp_path):
    _, _, client = served
    text = tmp_path / "not_audio.txt"
    text.write_text("not a recording\n")
    answer = _upload(client, text)
    assert answer.status_code == 422 and answer.json()["error"].startswith("not_audio.txt: not-audio")
    assert client.post("/v1/predict", data={"other": "x"}).status_code == 422


def test_an_upload_over_the_limit_is_413_without_reading_it(served, tmp_path):
    _, _, client = served
    big = tmp_path / "big.flac"
    big.write_bytes(b"\0" * (2 * 2**20))
    answer = _upload(client, big)
    assert answer.status_code == 413 and "1 MB" in answer.json()["error"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(3):
            yield b"\0" * 2**20

    chunked = client.post("/v1/predict", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert chunked.status_code == 413


def test_beyond_max_concurrent_requests_are_503_with_retry_after(trained, monkeypatch):
    data, run, _ = trained
    app = create_app(ServeSettings(run, max_concurrent=1, device="cpu"))
    entered, release = threading.Event(), threading.Event()
    from classicfy.predict import Classifier

    original = Classifier.predict_one

    def slow(self, path):
        entered.set()
        release.wait(10)
        return original(self, path)

    monkeypatch.setattr(Classifier, "predict_one", slow)
    recording = sorted(data.rglob("*.flac"))[0]
    with TestClient(app) as client:
        results = {}
        first = threading.Thread(target=lambda: results.setdefault("first", _upload(client, recording)))
        first.start()
        assert entered.wait(30)  # the first holds the only slot
        second = _upload(client, recording)
        release.set()
        first.join()
    assert second.status_code == 503 and second.headers["retry-after"] == "2"
    assert results["first"].status_code == 200


def test_no_temporary_file_outlives_a_request_or_the_server(trained, tmp_path, monkeypatch):
    import tempfile

    data, run, _ = trained
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with TestClient(serve_app(ServeSettings(run, device="cpu"))) as client:
        assert _upload(client, sorted(data.rglob("*.flac"))[0]).status_code == 200
        folder = next(tmp_path.glob("classicfy-serve-*"))
        assert list(folder.iterdir()) == []
    assert not list(tmp_path.glob("classicfy-serve-*"))
