"""`Classifier`: a trained run answering "who wrote this?" for new recordings.

A recording walks the training road: decoded, cut into the same windows, featurised with the same
configs, scored by each model; the ensemble (or one chosen model) gives window probabilities, and
their log-space mean gives the recording's answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classicfy.audio import load_recording
from classicfy.cache import CachedRecording
from classicfy.ensemble import EnsembleModel, shared_windows
from classicfy.errors import MissingAudioError, RunError
from classicfy.evaluate import recording_probabilities
from classicfy.inference import TrainedModel, load_model, trained_model_names, window_probabilities
from classicfy.run import load_run_config
from classicfy.windows import KEY_STRIDE, WindowSet


@dataclass(frozen=True)
class Prediction:
    path: Path
    label: str
    probabilities: dict[str, float]
    segments: list[dict]  # per window: start_s, end_s, label, probabilities

    def to_json(self) -> dict:
        return {
            "path": str(self.path),
            "label": self.label,
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "segments": self.segments,
        }


class Classifier:
    """The models of a run (all of them, combined by its ensemble, or one by name)."""

    def __init__(self, labels: list[str], models: dict[str, TrainedModel], ensemble: EnsembleModel) -> None:
        self.labels = labels
        self.models = models
        self.ensemble = ensemble
        self._extractors: dict = {}  # one per feature config, reused across recordings

    @classmethod
    def load(cls, run_dir: Path, model: str = "ensemble") -> Classifier:
        run_dir = Path(run_dir)
        load_run_config(run_dir)  # a missing or damaged run folder is a RunError
        labels = json.loads((run_dir / "labels.json").read_text())
        names = trained_model_names(run_dir)
        if model != "ensemble":
            if model not in names:
                raise RunError(f"{run_dir} has no model {model!r}; it has: {', '.join(names)} and ensemble")
            names = [model]
        if not names:
            raise RunError(f"{run_dir} holds no trained model yet")
        ensemble_path = run_dir / "models" / "ensemble.json"
        if model == "ensemble" and ensemble_path.exists():
            ensemble = EnsembleModel.load(ensemble_path)
        else:
            ensemble = EnsembleModel(names)  # one model, or a plain average before the run is evaluated
        return cls(labels, {name: load_model(run_dir, name) for name in ensemble.members}, ensemble)

    def _windows(self, path: Path, model: TrainedModel, cache: dict) -> WindowSet:
        config = model.feature_config
        if config not in cache:  # each feature config is computed once per recording
            audio = load_recording(path, config.audio)
            if config not in self._extractors:
                self._extractors[config] = config.make_extractor()
            arrays = self._extractors[config].arrays(audio.windows)
            cache[config] = CachedRecording(arrays, np.asarray(audio.starts_s), audio.duration_s, audio.silent_windows)
        return WindowSet([cache[config]], [0], model.input_kind)

    def predict_one(self, path: Path) -> Prediction:
        """The answer for one file; raises `AudioError` for a file that cannot be used."""
        path = Path(path)
        if not path.exists():
            raise MissingAudioError(str(path))
        features: dict = {}
        probs, keys = {}, {}
        for name, model in self.models.items():
            windows = self._windows(path, model, features)
            probs[name] = window_probabilities(model.module, windows)
            keys[name] = windows.window_keys(model.feature_config.audio.hop_s)
        common, positions = shared_windows(keys)
        aligned = {name: probs[name][at] for name, at in positions.items()}
        window_probs = self.ensemble.predict_proba(aligned)
        recording, _ = recording_probabilities(window_probs, np.zeros(len(window_probs), dtype=int))
        audio = next(iter(self.models.values())).feature_config.audio
        window_s = audio.window_s
        starts = (common % KEY_STRIDE) * audio.hop_samples / audio.sample_rate
        segments = [
            {
                "start_s": float(start),
                "end_s": float(start + window_s),
                "label": self.labels[int(p.argmax())],
                "probabilities": {label: round(float(q), 6) for label, q in zip(self.labels, p, strict=True)},
            }
            for start, p in zip(starts, window_probs, strict=True)
        ]
        probabilities = {label: float(p) for label, p in zip(self.labels, recording[0], strict=True)}
        return Prediction(path, max(probabilities, key=probabilities.get), probabilities, segments)
