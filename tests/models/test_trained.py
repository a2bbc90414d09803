from __future__ import annotations

import json

import pytest
import torch

from classicfy.models import MODELS
from helpers import FEATURES


def test_a_cnn_file_from_before_max_pooling_still_loads(tmp_path):
    """Its JSON has no `pooling` key: its head reads each channel's mean and maximum."""
    from dataclasses import asdict

    from classicfy.models.cnn import CNNConfig
    from classicfy.models.trained import load_model
    from classicfy.rundir import MODEL_FORMAT, save_tensors

    old = MODELS["cnn"]((1, 96, 87), 2, CNNConfig(pooling="mean_max")).eval()
    assert old.head[1].in_features == 256 and MODELS["cnn"]((1, 96, 87), 2).head[1].in_features == 128
    (tmp_path / "models").mkdir()
    save_tensors(tmp_path / "models" / "cnn.safetensors", old.state_dict())
    config = {k: v for k, v in asdict(old.config).items() if k != "pooling"}
    description = {"format": MODEL_FORMAT, "family": "cnn", "input_shape": [1, 96, 87], "labels": ["a", "b"]}
    description |= {"input_kind": "mel", "features": asdict(FEATURES)}
    (tmp_path / "models" / "cnn.json").write_text(json.dumps(description | {"config": config}))
    loaded = load_model(tmp_path, "cnn").module
    assert loaded.config.pooling == "mean_max"
    windows = torch.randn(2, 1, 96, 87)
    with torch.no_grad():
        torch.testing.assert_close(loaded(windows), old(windows))
    with pytest.raises(ValueError, match="pooling must be one of"):
        CNNConfig(pooling="mean")
