from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest
import torch

from classicfy.cli import main
from classicfy.export import onnx_inputs
from classicfy.models.trained import load_model


@pytest.mark.slow
def test_export_writes_one_onnx_model_per_neural_model_matching_pytorch(trained, tmp_path, capsys):
    """The acceptance command, then onnxruntime on a real recording's features against PyTorch."""
    data, run, _ = trained
    out = tmp_path / "E"
    assert main(["export", str(run), "--format", "onnx", "--out", str(out)]) == 0
    assert "cnn.onnx" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.onnx")) == ["cnn.onnx", "gru.onnx"]
    assert json.loads((out / "labels.json").read_text()) == json.loads((run / "labels.json").read_text())
    recording = data / "high" / "work04" / "01.flac"
    for name in ("cnn", "gru"):
        sidecar = json.loads((out / f"{name}.json").read_text())
        assert sidecar["labels"] == ["high", "low", "mid"] and sidecar["output"]["name"] == "probabilities"
        features = onnx_inputs(out / f"{name}.json", recording)
        assert features.shape == (4, *sidecar["input"]["shape"][1:])
        session = onnxruntime.InferenceSession(str(out / f"{name}.onnx"))
        got = session.run(None, {"features": features})[0]
        with torch.no_grad():
            expected = torch.softmax(load_model(run, name).module(torch.from_numpy(features)), dim=1).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-4)
        np.testing.assert_allclose(got.sum(axis=1), 1, atol=1e-5)


def test_export_of_a_run_without_models_is_a_clear_error(trained, tmp_path, capsys):
    import shutil

    _, run, _ = trained
    copy = tmp_path / "RUN"
    shutil.copytree(run, copy)
    for weights in (copy / "models").glob("*.safetensors"):
        weights.unlink()
    assert main(["export", str(copy), "--out", str(tmp_path / "E")]) == 2
    assert "holds no trained model" in capsys.readouterr().err
