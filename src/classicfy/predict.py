"""`Classifier`: a trained run answering "who wrote this?" for new recordings.

A recording walks the training road: decoded, cut into the same windows, featurised with the same
configs, scored by each model; the ensemble (or one chosen model) gives window probabilities, and
their log-space mean gives the recording's answer.

Files are streamed (`classicfy.features.batches`): memory stays bounded whatever the length.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classicfy.devices import resolve_device
from classicfy.errors import AudioError, RunError, TooShortAudioError
from classicfy.evaluation.ensemble import EnsembleModel, shared_windows
from classicfy.evaluation.metrics import recording_probabilities
from classicfy.features.audio import RecordingStream, WindowChunk, WindowCutter, resample
from classicfy.features.batches import BUFFER_BYTES, ChunkSource, normalised_batches
from classicfy.features.inputs import KEY_STRIDE, FeatureWindows, ModelInputs
from classicfy.features.spectral import extractor_for
from classicfy.models.base import ClassifierModel
from classicfy.models.trained import (
    TrainedModel,
    answering_recordings,
    answers_of_windows,
    load_model,
    window_outputs,
)
from classicfy.rundir import RunFolder

MODEL_BATCH = 8  # windows per model call: musicnn's VGG holds ~9 MB of activations per 3 s patch

WindowOutput = Callable[[ClassifierModel, ModelInputs, int], np.ndarray]


def _embeddings(model: ClassifierModel, windows: ModelInputs, batch_size: int) -> np.ndarray:
    return model.embeddings(windows, batch_size=batch_size)


@dataclass(frozen=True)
class Prediction:
    """One recording's answer: its label, every class's probability and the windows behind it."""

    path: Path
    label: str
    probabilities: dict[str, float]
    segments: list[dict]  # per window: start_s, end_s, label, probabilities

    @property
    def probability(self) -> float:
        return self.probabilities[self.label]

    def top(self, k: int) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda item: -item[1])[:k]

    def to_json(self, top_k: int = 3) -> dict:
        return {
            "path": str(self.path),
            "label": self.label,
            "probability": round(self.probability, 6),
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "top_k": [{"label": label, "probability": round(p, 6)} for label, p in self.top(top_k)],
            "windows": len(self.segments),
            "segments": self.segments,
        }


class Classifier:
    """The models of a run (all of them, combined by its ensemble, or one by name)."""

    def __init__(
        self,
        labels: list[str],
        models: dict[str, TrainedModel],
        ensemble: EnsembleModel,
        buffer_bytes: int = BUFFER_BYTES,
    ) -> None:
        self.labels = labels
        self.models = models
        self.ensemble = ensemble
        self.buffer_bytes = buffer_bytes
        # Models sharing a feature config share its features: each config is computed once per window.
        self.feature_configs = list(dict.fromkeys(model.feature_config for model in models.values()))
        self._extractors = [extractor_for(config) for config in self.feature_configs]

    @classmethod
    def load(cls, run_dir: str | Path, model: str = "ensemble", device: str = "cpu") -> Classifier:
        """The run's ensemble (default) or one of its models by name, on `device` ("auto", "cpu",
        "cuda", ...); a damaged run is a `RunError`."""
        run, where = RunFolder(run_dir), resolve_device(device)
        run.read_config()
        labels = run.read_labels()
        names = run.trained_model_names()
        if model != "ensemble":
            if model not in names:
                raise RunError(f"{run_dir} has no model {model!r}; it has: {', '.join(names)} and ensemble")
            names = [model]
        if not names:
            raise RunError(f"{run_dir} holds no trained model yet")
        saved = None
        if model == "ensemble" and run.ensemble_path.exists():
            saved = EnsembleModel.from_dict(run.read_json(run.ensemble_path), run.ensemble_path)
        models = {name: load_model(run_dir, name, where) for name in (saved.members if saved else names)}
        # One model, or a run not yet evaluated: the default ensemble of what it holds.
        ensemble = saved or EnsembleModel.balanced(list(models), answering_recordings(models))
        for name, trained in models.items():
            if trained.card.labels != labels:
                raise RunError(f"{run_dir}: model {name!r} was trained on other labels than labels.json lists")
        return cls(labels, models, ensemble)

    def predict(self, paths: str | Path | list[str | Path]) -> Prediction | list[Prediction]:
        """The answer for one file, or a list of answers for a list of files.

        Raises `AudioError` for a file that cannot be used; `classicfy predict` skips such files.
        """
        if isinstance(paths, str | Path):
            return self.predict_one(Path(paths))
        return [self.predict_one(Path(path)) for path in paths]

    def predict_one(self, path: str | Path) -> Prediction:
        """The answer for one file, streamed; raises `AudioError` for a file that cannot be used."""
        path = Path(path)
        configs = [config.audio for config in self.feature_configs]
        return self._predict(path, lambda: RecordingStream(path, configs))

    def predict_proba(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Class probabilities (in `labels` order) of a mono waveform, as for a file with these samples."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"expected mono samples (one dimension), got shape {samples.shape}")
        min_duration_s = max(config.audio.min_duration_s for config in self.feature_configs)
        if len(samples) < min_duration_s * sample_rate:  # as a file this short would be refused
            raise TooShortAudioError("<array>", f"{len(samples) / sample_rate:.2f} s < {min_duration_s:g} s")

        def chunks() -> Iterable[tuple[int, WindowChunk]]:
            for index, config in enumerate(self.feature_configs):
                audio = config.audio
                resampled = resample(samples, sample_rate, audio.sample_rate)
                yield index, WindowCutter(audio.sample_rate, audio).push(resampled, last=True)

        prediction = self._predict(Path("<array>"), chunks)
        return np.array([prediction.probabilities[label] for label in self.labels])

    def _predict(self, path: Path, source: ChunkSource) -> Prediction:
        outputs, keys = self._member_outputs(path, source)
        # A model that answers whole recordings answers once its last window is in.
        probs = {
            name: answers_of_windows(self.models[name].module, output, np.zeros(len(output), dtype=int))
            for name, output in outputs.items()
        }
        common, positions = shared_windows(keys)
        shared = {name: probs[name][at] for name, at in positions.items()}
        window_probs = self.ensemble.predict_proba(shared)
        if not np.all(np.isfinite(window_probs)):  # never a silently wrong answer: say which run misbehaves
            members = ", ".join(self.ensemble.members)
            raise RunError(f"the run's models ({members}) answer {path.name} with numbers that are not finite")
        recording, _ = recording_probabilities(window_probs, np.zeros(len(window_probs), dtype=int))
        audio = self.feature_configs[0].audio
        starts = (common % KEY_STRIDE) * audio.hop_s
        segments = [
            {
                "start_s": round(float(start), 3),
                "end_s": round(float(start + audio.window_s), 3),
                "label": self.labels[int(p.argmax())],
                "probabilities": {label: round(float(q), 6) for label, q in zip(self.labels, p, strict=True)},
            }
            for start, p in zip(starts, self._window_answers(shared, window_probs), strict=True)
        ]
        probabilities = {label: float(p) for label, p in zip(self.labels, recording[0], strict=True)}
        return Prediction(path, max(probabilities, key=probabilities.__getitem__), probabilities, segments)

    def _window_answers(self, shared: dict[str, np.ndarray], window_probs: np.ndarray) -> np.ndarray:
        """What each window is shown to say: the ensemble's answer, or, when it holds a model that
        answers whole recordings, the mix of its members that answer windows (as evaluation scores it)."""
        window_models = [name for name in self.ensemble.members if not self.models[name].module.answers_recordings]
        window_part = self.ensemble.part(window_models)
        if window_part is None or len(window_models) == len(self.ensemble.members):
            return window_probs
        return window_part.predict_proba(shared)

    def embed_one(self, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
        """Start times (s) and embeddings (the features the model's last layers classify) of a file's
        non-silent windows, by the classifier's one model; raises `AudioError` for a file that cannot
        be used."""
        if len(self.models) != 1:
            raise ValueError(f"embeddings come from one model; this classifier has {len(self.models)}")
        path = Path(path)
        configs = [config.audio for config in self.feature_configs]
        outputs, keys = self._member_outputs(path, lambda: RecordingStream(path, configs), _embeddings)
        (name,) = self.models
        return (keys[name] % KEY_STRIDE) * configs[0].hop_s, outputs[name]

    def _member_outputs(
        self, path: Path, source: ChunkSource, output: WindowOutput = window_outputs
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Every member's `output` (`window_outputs` by default) and keys of the file's windows."""
        outputs: dict[str, list[np.ndarray]] = {name: [] for name in self.models}
        keys: dict[str, list[np.ndarray]] = {name: [] for name in self.models}
        audio_configs = [config.audio for config in self.feature_configs]
        for index, windows, starts in normalised_batches(str(path), source, audio_configs, self.buffer_bytes):
            config = self.feature_configs[index]
            arrays = self._extractors[index].arrays(windows)  # shared by the models of this config
            for name, model in self.models.items():
                if model.feature_config == config:
                    window_set = FeatureWindows(arrays, starts, model.input_kind)
                    outputs[name].append(output(model.module, window_set, MODEL_BATCH))
                    keys[name].append(window_set.window_keys(config.audio.hop_s))
        return (
            {name: np.concatenate(parts) for name, parts in outputs.items()},
            {name: np.concatenate(parts) for name, parts in keys.items()},
        )


def predict_files(run_dir: str | Path, model: str, paths: list[Path]) -> list[Prediction | AudioError]:
    """Worker entry point for `classicfy predict --jobs`: answers or the reasons files were skipped."""
    run_dir = Path(run_dir)
    classifier = _worker_classifier(run_dir, model)
    results: list[Prediction | AudioError] = []
    for path in paths:
        try:
            results.append(classifier.predict_one(path))
        except AudioError as error:
            results.append(error)
    return results


@functools.cache
def _worker_classifier(run_dir: Path, model: str) -> Classifier:
    """One classifier per worker process, loaded on its first file."""
    return Classifier.load(run_dir, model)
