"""Trained models back from a run folder, and their class probabilities for windows.

Loading reads JSON and safetensors only: rebuilding a model never executes stored code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from classicfy.config import FeatureConfig, MusicnnFeatureConfig, feature_config_from
from classicfy.errors import RunError
from classicfy.features.inputs import WindowSet
from classicfy.training.checkpoint import MODEL_FORMAT, load_tensors
from classicfy.training.trainer import predict_logits


@dataclass
class TrainedModel:
    name: str
    module: nn.Module
    description: dict

    @property
    def input_kind(self) -> str:
        return self.description["input_kind"]

    @property
    def feature_config(self) -> FeatureConfig | MusicnnFeatureConfig:
        return feature_config_from(self.description["features"], self.input_kind)


def _tuples(value):
    """JSON lists back to the tuples frozen configs hold."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def trained_model_names(run_dir: Path) -> list[str]:
    """Names of the deep models a run holds, in training order (as in config.toml)."""
    from classicfy.training.pipeline import load_run_config

    config = load_run_config(run_dir)
    return [name for name in config.models if (run_dir / "models" / f"{name}.safetensors").is_file()]


def load_model(run_dir: Path, name: str) -> TrainedModel:
    """Rebuild a trained model from `models/NAME.json` and `models/NAME.safetensors`.

    A missing, damaged or incompatible file is a one-line `RunError` naming it.
    """
    from classicfy.models import MODELS

    description_path = run_dir / "models" / f"{name}.json"
    weights_path = description_path.with_suffix(".safetensors")
    if not description_path.is_file():
        raise RunError(f"{run_dir} has no trained model {name!r}")
    try:
        description = json.loads(description_path.read_text())
    except (OSError, ValueError) as error:
        raise RunError(f"{description_path} is damaged: {error}") from None
    version = description.get("format", 1) if isinstance(description, dict) else None
    if version != MODEL_FORMAT:
        raise RunError(
            f"{description_path} has model format {version}; this classicfy reads format {MODEL_FORMAT} "
            "(train the run again, or use the classicfy version that wrote it)"
        )
    try:
        family = MODELS[description["family"]]
        # Keys newer than the file take the value that files without them meant.
        saved = getattr(family, "config_before_key", {}) | description["config"]
        config = family.Config(**{k: _tuples(v) for k, v in saved.items()})
        module = family(tuple(description["input_shape"]), len(description["labels"]), config)
    except (KeyError, TypeError, ValueError) as error:
        raise RunError(f"{description_path} does not describe a model this classicfy can build: {error!r}") from None
    try:
        weights, _ = load_tensors(weights_path)
        module.load_state_dict(weights)
    except FileNotFoundError:
        raise RunError(f"{weights_path} is missing") from None
    except Exception as error:  # safetensors raises its own SafetensorError for damaged files
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RunError(f"{weights_path} is damaged or does not match {description_path.name}: {reason}") from None
    return TrainedModel(name, module.eval(), description)


def window_probabilities(model: nn.Module, windows: WindowSet, batch_size: int = 32) -> np.ndarray:
    """Softmax class probabilities of every window of a set, in order."""
    logits = torch.from_numpy(predict_logits(model, windows, batch_size))
    return torch.softmax(logits, dim=1).numpy()
