"""Every setting of classicfy, written once: frozen dataclasses and the tuples of allowed choices.

Importable without numpy or torch, so the command line takes its defaults and choices from here and
answers `--help` at once. A run saves its `RunConfig` as config.toml; a feature config's `key()`
names its cache folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

# Chosen by cross-validation on both built-in datasets: cnn, gru and vgg trail the baseline per
# recording on the composers; these two do not, on either (docs/experiments.md).
DEFAULT_MODELS = ("vgg-pretrained", "vgg-probe")
# What a model name may be: it names files in a run folder, so never a path (no "/", "..", or ":").
MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
BALANCE_STRATEGIES = ("oversample", "weights", "none")
PRECISIONS = ("auto", "bf16", "fp32")
KEEPS = ("best", "last")
TIMBRES = ("piano", "score", "mixed")
TEMPI = ("drawn", "score")  # drawn: one beat rate per piece, from one range for all composers
TAGGERS = ("musicnn-mtt", "musicnn-msd", "vgg-mtt", "vgg-msd")
BUILTIN_DATASETS = (
    "builtin:composers",
    "builtin:eras",
    "builtin:composers-quick",
    "builtin:composers-varied",
    "builtin:composers-piano-varied",
)
EXPORT_FORMATS = ("onnx",)
# Model inputs: `mel` images for the convolutional models, `mel_chroma` frames for the recurrent one,
# `sequence` (MFCC + chroma) frames for the baseline, `musicnn` patches for the pretrained backbones,
# `notes` (note and onset activations per piano key) for the models that read notes.
INPUT_KINDS = ("mel", "mel_chroma", "sequence", "musicnn", "notes")

# Bump when the computation changes in a way the config does not show: it invalidates caches.
FEATURE_VERSION = 1
# musicnn's input (Pons & Serra, 2019): 16 kHz, 512-point FFT, hop 256, 96 Slaney mel bands.
MUSICNN_SAMPLE_RATE, MUSICNN_N_FFT, MUSICNN_HOP, MUSICNN_N_MELS = 16000, 512, 256, 96
# basic-pitch's note model: 22.05 kHz, frames of 256 samples (86 a second), the 88 piano keys.
NOTES_SAMPLE_RATE, NOTES_HOP, NOTES_KEYS = 22050, 256, 88


def _config_key(kind: str, values: dict[str, Any]) -> str:
    text = json.dumps({"version": FEATURE_VERSION, "kind": kind, **values}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _one_of(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


@dataclass(frozen=True)
class AudioConfig:
    """How a file becomes windows (seconds, Hz, dBFS); part of every feature cache key."""

    sample_rate: int = 22050
    window_s: float = 10.0
    hop_s: float = 10.0
    loudness_dbfs: float = -20.0  # RMS level of the non-silent windows after normalisation
    silence_dbfs: float = -60.0  # a window whose RMS is below this is silence and is dropped
    min_duration_s: float = 1.0

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.window_s < self.min_duration_s:
            raise ValueError(f"window_s must be at least {self.min_duration_s} s, got {self.window_s}")
        if self.hop_s <= 0:
            raise ValueError(f"hop_s must be positive, got {self.hop_s}")

    @property
    def window_samples(self) -> int:
        return round(self.window_s * self.sample_rate)

    @property
    def hop_samples(self) -> int:
        return round(self.hop_s * self.sample_rate)


@dataclass(frozen=True)
class FeatureConfig:
    """Spectral parameters (FFT sizes in samples, frequencies in Hz) plus how audio is windowed."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 96
    fmin: float = 0.0
    fmax: float | None = None  # None: half the sample rate
    n_mfcc: int = 20
    n_chroma: int = 12
    top_db: float = 80.0  # log-mel floor below each window's peak, dB
    kind: ClassVar[str] = "spectral"

    def __post_init__(self) -> None:
        if self.n_fft <= 0 or self.hop_length <= 0 or self.n_mels <= 0:
            raise ValueError("n_fft, hop_length and n_mels must be positive")
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc ({self.n_mfcc}) cannot exceed n_mels ({self.n_mels})")

    @property
    def frames_per_window(self) -> int:
        return 1 + self.audio.window_samples // self.hop_length

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FeatureConfig:
        values = dict(values)
        audio = AudioConfig(**values.pop("audio", {}))
        return cls(audio=audio, **values)

    def key(self) -> str:
        """Stable short hash of everything that shapes the features; names the cache folder."""
        return _config_key(self.kind, self.to_dict())


@dataclass(frozen=True)
class MusicnnFeatureConfig:
    """Windows as the pretrained musicnn models hear them: 16 kHz log-compressed mel, (frames, 96)."""

    audio: AudioConfig = field(default_factory=lambda: AudioConfig(sample_rate=MUSICNN_SAMPLE_RATE))
    kind: ClassVar[str] = "musicnn"

    def __post_init__(self) -> None:
        if self.audio.sample_rate != MUSICNN_SAMPLE_RATE:
            raise ValueError(f"musicnn features need {MUSICNN_SAMPLE_RATE} Hz audio, got {self.audio.sample_rate}")

    @property
    def frames_per_window(self) -> int:
        return 1 + self.audio.window_samples // MUSICNN_HOP

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        return _config_key(self.kind, self.to_dict())


@dataclass(frozen=True)
class NotesFeatureConfig:
    """Windows as basic-pitch's note model hears them: 22.05 kHz, note and onset activations of the
    88 piano keys per frame of 256 samples."""

    audio: AudioConfig = field(default_factory=lambda: AudioConfig(sample_rate=NOTES_SAMPLE_RATE))
    kind: ClassVar[str] = "notes"

    def __post_init__(self) -> None:
        if self.audio.sample_rate != NOTES_SAMPLE_RATE:
            raise ValueError(f"note features need {NOTES_SAMPLE_RATE} Hz audio, got {self.audio.sample_rate}")

    @property
    def frames_per_window(self) -> int:
        return self.audio.window_samples * (NOTES_SAMPLE_RATE // NOTES_HOP) // NOTES_SAMPLE_RATE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        return _config_key(self.kind, self.to_dict())


AnyFeatureConfig = FeatureConfig | MusicnnFeatureConfig | NotesFeatureConfig


def feature_config_from(values: dict[str, Any], input_kind: str) -> AnyFeatureConfig:
    """The feature config a model card records, back as a dataclass."""
    if input_kind == "musicnn":
        return MusicnnFeatureConfig(audio=AudioConfig(**values["audio"]))
    if input_kind == "notes":
        return NotesFeatureConfig(audio=AudioConfig(**values["audio"]))
    return FeatureConfig.from_dict(values)


def feature_config_for(kind: str, features: FeatureConfig) -> AnyFeatureConfig:
    """The feature config that gives input `kind`, windowed as `features` windows audio."""
    from dataclasses import replace

    if kind == "musicnn":
        return MusicnnFeatureConfig(audio=replace(features.audio, sample_rate=MUSICNN_SAMPLE_RATE))
    if kind == "notes":
        return NotesFeatureConfig(audio=replace(features.audio, sample_rate=NOTES_SAMPLE_RATE))
    return features


@dataclass(frozen=True)
class AugmentConfig:
    """How many copies, and the ranges of the waveform transforms; each is applied with probability `p`.

    With `fill_to`, the recordings of a class with fewer windows than that get more copies (up to
    `max_copies`), so a small class is oversampled with new versions of its music, not repeats.
    """

    copies: int = 1
    fill_to: int | None = None
    max_copies: int = 4  # the most `fill_to` gives a recording; never fewer than `copies`
    max_semitones: float = 2.0
    min_rate: float = 0.9
    max_rate: float = 1.1
    min_snr_db: float = 15.0
    max_snr_db: float = 40.0
    background: str | None = None  # folder of noise recordings
    p: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.copies < 0:
            raise ValueError(f"copies must be 0 or more, got {self.copies}")
        if not 0 < self.min_rate <= self.max_rate:
            raise ValueError(f"need 0 < min_rate <= max_rate, got {self.min_rate}, {self.max_rate}")

    def key(self) -> str:
        """A hash of what shapes a copy (ranges, background, seed), not of how many copies are made."""
        shaping = {k: v for k, v in asdict(self).items() if k not in ("copies", "fill_to", "max_copies")}
        return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:12]

    def copies_per_label(self, windows_per_label: dict[str, int]) -> dict[str, int]:
        """Copies of each recording of a label: `copies`, or with `fill_to` enough for the label to
        hold that many windows (originals and copies together), at most `max_copies`."""
        if not self.copies or self.fill_to is None:
            return dict.fromkeys(windows_per_label, self.copies)
        most = max(self.copies, self.max_copies)
        return {
            label: min(most, max(self.copies, math.ceil(self.fill_to / max(n, 1)) - 1))
            for label, n in windows_per_label.items()
        }


@dataclass(frozen=True)
class TrainConfig:
    """How each model is trained; saved in the run's config.toml."""

    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-2
    patience: int = 8  # epochs without a better validation macro-F1 before stopping
    # Which weights are saved: "best", those of the epoch with the best validation macro-F1 (and
    # training stops after `patience` epochs without a better one); "last", those after the final
    # epoch, when the cosine schedule has brought the learning rate to zero. With a validation side
    # of one or two works per class, its best epoch can be an early, half-trained one.
    keep: str = "best"
    balance: str = "oversample"
    max_windows_per_class: int | None = None  # per epoch; None: every window (and oversampling to the largest)
    mixup: float = 0.0  # Beta(alpha, alpha) of mixup; 0 turns it off
    spec_augment: bool = True
    # Horizon, in epochs, of an exponential moving average of the weights (0: off). Validation,
    # early stopping and the saved model use the average, which moves far less from one epoch to the
    # next than the raw weights of a model that overfits a few training works.
    ema_epochs: float = 0.0
    # Oversampling draws every class with the same share of augmented copies (see DataBalancer).
    balance_copies: bool = False
    finetune: bool = False  # pretrained models: train the backbone too (at a tenth of the learning rate)
    precision: str = "auto"  # "bf16": bfloat16 autocast while training; "fp32"; "auto": bf16 where the CPU has it
    tensorboard: bool = False  # also log the curves for TensorBoard, in RUN/tb
    seed: int = 0

    def __post_init__(self) -> None:
        # The command line checks its options too; these guard the Python API and a hand-edited
        # config.toml, which --resume reads back, before any minute is spent on features.
        at_least = {"epochs": 1, "batch_size": 2, "patience": 1}  # batch norm needs two examples a batch
        for name, least in at_least.items():
            if getattr(self, name) < least:
                raise ValueError(f"{name} must be at least {least}, got {getattr(self, name)}")
        if self.learning_rate <= 0 or self.weight_decay < 0 or self.mixup < 0:
            raise ValueError("learning_rate must be above 0, and weight_decay and mixup 0 or more")
        if self.max_windows_per_class is not None and self.max_windows_per_class < 1:
            raise ValueError(f"max_windows_per_class must be at least 1, got {self.max_windows_per_class}")
        _one_of("balance", self.balance, BALANCE_STRATEGIES)
        _one_of("precision", self.precision, PRECISIONS)
        _one_of("keep", self.keep, KEEPS)
        if self.ema_epochs < 0:
            raise ValueError(f"ema_epochs must be 0 (off) or more, got {self.ema_epochs}")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; saved as config.toml."""

    data: str
    models: tuple[str, ...] = DEFAULT_MODELS
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    # Each model validates on its own draw of works outside the test side, and trains on the rest:
    # the ensemble's models then train on different works, together on every one, and their best
    # epochs are chosen on as many different validation sides (see split_by_group).
    rotate_validation: bool = False
    features: FeatureConfig = field(default_factory=FeatureConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("name at least one model to train")
        misnamed = [name for name in self.models if not isinstance(name, str) or not MODEL_NAME.fullmatch(name)]
        if misnamed:
            raise ValueError(f"{misnamed[0]!r} is not a model name (lower-case letters, digits and dashes)")
        if not (
            0 <= self.val_fraction < 1 and 0 <= self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1
        ):
            raise ValueError(
                f"split fractions must leave room for training: val={self.val_fraction}, test={self.test_fraction}"
            )

    @property
    def validation_draws(self) -> int:
        """How many validation sides the split draws: one per model when validation rotates."""
        return len(self.models) if self.rotate_validation else 1

    def to_toml(self) -> str:
        import tomli_w

        def plain(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items() if v is not None}  # TOML has no null
            return list(value) if isinstance(value, tuple) else value

        return tomli_w.dumps(plain(asdict(self)))

    @classmethod
    def from_toml(cls, text: str) -> RunConfig:
        if sys.version_info >= (3, 11):
            import tomllib
        else:
            import tomli as tomllib

        return cls.from_dict(tomllib.loads(text))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """A config from the tables of its TOML form."""
        values = dict(values)
        features = dict(values.pop("features", {}))
        audio = AudioConfig(**features.pop("audio", {}))
        return cls(
            data=values.pop("data"),
            models=tuple(values.pop("models", cls.models)),
            features=FeatureConfig(audio=audio, **features),
            train=TrainConfig(**values.pop("train", {})),
            augment=AugmentConfig(**values.pop("augment", {})),
            **values,
        )


@dataclass(frozen=True)
class BuildOptions:
    """What a corpus build renders and how; saved beside it as build.json."""

    timbre: str = "piano"
    max_pieces_per_composer: int = 40
    composers: tuple[str, ...] = ()  # empty: every composer of the corpus's era table
    soundfont: str | None = None  # None: the General MIDI SoundFont shipped by pretty_midi
    seed: int = 0
    time_limit_s: float = 300.0  # per score; whole-quartet files can take minutes to parse
    prefer_short: bool = False  # pick the shortest score of each work first (quick builds), not a seeded sample
    max_score_kb: int | None = None  # leave out larger score files (quick builds: they take minutes to parse)
    tempo: str = "drawn"  # drawn: a seeded beat rate per piece, the same range for every composer; score: its marks
    renditions: int = 0  # extra renderings of every piece for training: another ensemble, tempo +-10%, humanised
    piano_renditions: int = 0  # the same renditions kept on the piano: only tempo, dynamics and timing vary
