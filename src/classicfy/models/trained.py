"""Trained models back from a run folder, and their class probabilities for windows.

Loading reads JSON and safetensors only: rebuilding a model never executes stored code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classicfy.config import AnyFeatureConfig
from classicfy.devices import device_of, in_passes, to_device
from classicfy.errors import RunError
from classicfy.features.inputs import ModelInputs, iter_batches
from classicfy.models.base import ClassifierModel
from classicfy.rundir import ModelCard, RunFolder, file_sha256, load_tensors


@dataclass
class TrainedModel:
    name: str
    module: ClassifierModel
    card: ModelCard

    @property
    def input_kind(self) -> str:
        return self.card.input_kind

    @property
    def feature_config(self) -> AnyFeatureConfig:
        return self.card.feature_config


def answering_recordings(models: Mapping[str, TrainedModel]) -> set[str]:
    """The names of the models that answer whole recordings (`vgg-probe`), not windows."""
    return {name for name, model in models.items() if model.module.answers_recordings}


MAX_PARAMETERS = 200_000_000  # far above any model classicfy trains (the largest has about 2 million)
MAX_INPUT_SIZE = 1_000_000


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples frozen configs hold."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def build_from_card(card: ModelCard, where: str | Path) -> ClassifierModel:
    """An untrained model of the card's family, config and shape; `where` names the card in errors."""
    where = Path(where)
    from classicfy.models import MODELS

    try:
        family = MODELS[card.family]
        # Keys newer than the file take the value that files without them meant.
        saved = family.config_before_key | card.config
        config = family.Config(**{k: _tuples(v) for k, v in saved.items()})
        _check_size(family, card, config, where)
        return family(card.input_shape, len(card.labels), config)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise RunError(f"{where} does not describe a model this classicfy can build: {error!r}") from None


def _check_size(family: type[ClassifierModel], card: ModelCard, config: Any, where: Path) -> None:
    """Refuse a card that describes an absurd model before memory is spent on it: the model is first
    built on torch's meta device, which allocates nothing, and its parameters counted."""
    if not card.input_shape or any(n < 1 or n > MAX_INPUT_SIZE for n in card.input_shape) or not card.labels:
        raise RunError(f"{where} describes an input of shape {list(card.input_shape)}: not one classicfy makes")
    try:
        with torch.device("meta"):
            probe = family(card.input_shape, len(card.labels), config)
    except RuntimeError:  # pretrained backbones load their weights as they are built: those never grow
        return
    size = sum(parameter.numel() for parameter in probe.parameters())
    if size > MAX_PARAMETERS:
        raise RunError(f"{where} describes a model of {size:,} parameters; classicfy builds at most {MAX_PARAMETERS:,}")


def load_model(run_dir: str | Path, name: str, device: torch.device | None = None) -> TrainedModel:
    """Rebuild a trained model from `models/NAME.json` and `models/NAME.safetensors`, on `device`
    (the CPU by default), whatever device it was trained on.

    A missing, damaged or incompatible file is a one-line `RunError` naming it.
    """
    run = RunFolder(run_dir)
    card = run.read_card(name)
    module = build_from_card(card, run.card_path(name))
    weights_path = run.weights_path(name)
    if card.weights_sha256 and weights_path.is_file() and file_sha256(weights_path) != card.weights_sha256:
        raise RunError(f"{weights_path} is damaged: its SHA-256 is not the one {run.card_path(name).name} records")
    try:
        weights, _ = load_tensors(weights_path)
        module.load_state_dict(weights)
        bad = [key for key, tensor in weights.items() if tensor.is_floating_point() and not tensor.isfinite().all()]
    except FileNotFoundError:
        raise RunError(f"{weights_path} is missing") from None
    except Exception as error:  # safetensors raises its own SafetensorError for damaged files
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RunError(f"{weights_path} is damaged or does not match {run.card_path(name).name}: {reason}") from None
    if bad:
        raise RunError(f"{weights_path} holds weights that are not finite numbers ({bad[0]}): train the model again")
    return TrainedModel(name, module.to(device or torch.device("cpu")).eval(), card)


@torch.no_grad()
def predict_logits(model: torch.nn.Module, windows: ModelInputs, batch_size: int = 64) -> np.ndarray:
    """Class logits of every window of a set, in order, in evaluation mode, on the model's device."""
    model.eval()
    device = device_of(model)
    batches = (to_device(batch, device) for batch in iter_batches(windows, batch_size))
    per_pass = getattr(model, "cpu_windows_per_pass", batch_size)
    return torch.cat([in_passes(model, batch, per_pass).float().cpu() for batch in batches]).numpy()


def window_probabilities(model: torch.nn.Module, windows: ModelInputs, batch_size: int = 32) -> np.ndarray:
    """Softmax class probabilities of every window of a set, in order."""
    logits = torch.from_numpy(predict_logits(model, windows, batch_size))
    return torch.softmax(logits, dim=1).numpy()


def window_outputs(model: ClassifierModel, windows: ModelInputs, batch_size: int = 32) -> np.ndarray:
    """What a model says of each window: its class probabilities, or, for a model that answers whole
    recordings, the embedding its answer is later made of (`answers_of_windows`)."""
    if model.answers_recordings:
        return model.embeddings(windows, batch_size=batch_size)
    return window_probabilities(model, windows, batch_size)


def answers_of_windows(model: ClassifierModel, outputs: np.ndarray, recording_of: np.ndarray) -> np.ndarray:
    """Each window's class probabilities from `window_outputs`: for a recording model, its recording's answer."""
    from classicfy.models.probe import RecordingProbe

    return model.recording_answers(outputs, recording_of) if isinstance(model, RecordingProbe) else outputs
