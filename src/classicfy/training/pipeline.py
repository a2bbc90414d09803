"""A training run from dataset to saved models, in the run folder of DESIGN.md.

RUN/config.toml   the resolved configuration (written first: `--resume` reads it back)
RUN/labels.json   class names in model output order
RUN/split.csv     path,label,group,split[,val_draws] (val_draws: with rotated validation)
RUN/dataset.json  recordings, windows and skipped files with reasons
RUN/models/NAME.safetensors + NAME.json, RUN/history/NAME.csv, RUN/checkpoints/NAME.safetensors
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TypeVar

import numpy as np

from classicfy import atomic
from classicfy.config import (
    MUSICNN_SAMPLE_RATE,
    FeatureConfig,
    MusicnnFeatureConfig,
    RunConfig,
)
from classicfy.data.corpus import resolve_dataset
from classicfy.data.manifest import Recording, list_dataset, model_sides, split_by_group
from classicfy.errors import DatasetError, RunError
from classicfy.features.augment import DataAugmenter
from classicfy.features.cache import FeatureCache
from classicfy.features.extraction import ExtractionReport, augment_dataset, extract_dataset
from classicfy.features.inputs import EmbeddingSet, WindowSet
from classicfy.training.balance import at_most_per_class
from classicfy.training.checkpoint import MODEL_FORMAT
from classicfy.training.trainer import Trainer, TrainState, seed_everything

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class RunResult:
    labels: list[str]
    recordings: list[Recording]
    report: ExtractionReport
    states: dict[str, TrainState]


def write_split(path: Path, recordings: list[Recording]) -> None:
    """The run's split; the `val_draws` column (draw numbers, space-separated) only when validation rotates."""
    rotated = any(r.val_draws for r in recordings)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label", "group", "split", *(["val_draws"] if rotated else [])])
    for r in recordings:
        draws = [" ".join(map(str, r.val_draws))] if rotated else []
        writer.writerow([str(r.path), r.label, r.group, r.split, *draws])
    atomic.write_text(path, buffer.getvalue())


def read_split(path: Path) -> list[Recording]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            Recording(
                Path(row["path"]),
                row["label"],
                row["group"],
                row["split"],
                tuple(int(draw) for draw in (row.get("val_draws") or "").split()),
            )
            for row in csv.DictReader(handle)
        ]


RUN_FILES = ("config.toml", "labels.json", "split.csv")


def read_run_file(path: Path, load: Callable[[Path], T] = lambda path: json.loads(path.read_text())) -> T:
    """`load(path)` (JSON by default) for a file of a run folder; missing or damaged, a one-line `RunError`."""
    try:
        return load(path)
    except FileNotFoundError:
        raise RunError(f"{path.parent} is not a complete run: {path.name} is missing") from None
    except (OSError, ValueError, KeyError, TypeError) as error:  # JSONDecodeError is a ValueError
        raise RunError(f"{path} is damaged: {error!r}") from None


def load_run_config(run_dir: Path) -> RunConfig:
    """The configuration a run was trained with; a missing or damaged run folder is a `RunError`."""
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise RunError(f"not a complete classicfy run ({', '.join(missing)} missing): {run_dir}")
    try:
        return RunConfig.from_toml((run_dir / "config.toml").read_text())
    except (ValueError, TypeError, KeyError) as error:  # TOMLDecodeError is a ValueError
        raise RunError(f"{run_dir / 'config.toml'} cannot be read: {error}") from None


def _dataset_summary(report: ExtractionReport, recordings: list[Recording]) -> dict:
    sides: dict[str, dict[str, int]] = {}
    draws: dict[int, dict[str, int]] = {}
    for r in recordings:
        n_windows = report.statuses[r.path].n_windows
        side = sides.setdefault(r.split or "", {})
        side[r.label] = side.get(r.label, 0) + n_windows
        for draw in r.val_draws:
            validation = draws.setdefault(draw, {})
            validation[r.label] = validation.get(r.label, 0) + n_windows
    return {
        "recordings": len(report.usable),
        "windows": report.n_windows,
        "seconds": report.seconds,
        "per_label": {label: asdict(row) for label, row in report.per_label().items()},
        "windows_per_split": sides,
        "windows_per_validation_draw": [draws[k] for k in sorted(draws)],
        "skipped": [{"path": str(s.path), "reason": s.skip_reason} for s in report.skipped],
        "duplicates": [[str(p) for p in paths] for paths in report.duplicates],
    }


def prepare_run(
    config: RunConfig, run_dir: Path, cache_root: Path, jobs: int, resume: bool, progress: bool
) -> tuple[list[str], list[Recording], ExtractionReport]:
    """Extract features, split (or reuse the run's split), then write the run's config, split and labels."""
    if (run_dir / "config.toml").exists() and not resume:
        raise RunError(f"{run_dir} already holds a run: pass --resume to continue it, or choose a new --out")
    source = resolve_dataset(config.data, cache_root, jobs, progress)
    report = extract_dataset(list_dataset(source), config.features, cache_root, jobs, progress)
    if not report.usable:
        raise DatasetError(f"no usable recordings in {config.data}")
    split_path = run_dir / "split.csv"
    if resume and split_path.exists():
        saved = {r.path: r for r in read_split(split_path)}
        recordings = [
            replace(r, split=saved[r.path].split, val_draws=saved[r.path].val_draws)
            for r in report.recordings
            if r.path in saved
        ]
    else:
        recordings = split_by_group(
            report.recordings,
            config.val_fraction,
            config.test_fraction,
            config.train.seed,
            report.windows_per_recording(),
            config.validation_draws,
        )
    labels = sorted({r.label for r in recordings})
    if len(labels) < 2:
        raise DatasetError(f"a classifier needs at least two labels, found {labels}")
    if resume and (run_dir / "labels.json").exists():
        began_with = read_run_file(run_dir / "labels.json")
        if began_with != labels:  # the checkpoints' output layers count and order the labels it began with
            raise DatasetError(
                f"{config.data} now has the labels {labels}, and {run_dir} began with {began_with}: "
                "restore the data, or train a new run"
            )
    for draw in range(config.validation_draws):
        for side, members in zip(("train", "val"), model_sides(recordings, draw), strict=True):
            whose = f" of {config.models[draw]}" if config.rotate_validation else ""
            if not members:
                raise DatasetError(f"the {side} split{whose} is empty: add recordings or change the split fractions")
            unheard = sorted(set(labels) - {r.label for r in members})
            if side == "train" and unheard:  # a model cannot learn a label it never hears
                raise DatasetError(f"the train split{whose} has no recording of {', '.join(unheard)}: "
                                   "give it at least one work of every label")  # fmt: skip
    # The run folder is written only once the dataset is known to be trainable, config.toml last:
    # a dataset problem leaves no half-made run that would ask for --resume.
    run_dir.mkdir(parents=True, exist_ok=True)
    write_split(split_path, recordings)
    atomic.write_text(run_dir / "labels.json", json.dumps(labels, indent=2))
    atomic.write_text(run_dir / "dataset.json", json.dumps(_dataset_summary(report, recordings), indent=2))
    if not (run_dir / "config.toml").exists():
        atomic.write_text(run_dir / "config.toml", config.to_toml())
    return labels, recordings, report


def train_run(
    config: RunConfig, run_dir: Path, cache_root: Path, jobs: int = 2, resume: bool = False, progress: bool = True
) -> RunResult:
    """Train every model of the config; with `resume`, continue each from its last checkpoint."""
    import torch

    from classicfy.models import MODELS, PretrainedClassifier

    unknown = [m for m in config.models if m not in MODELS]
    if unknown:
        raise RunError(f"unknown model(s): {', '.join(unknown)}; available: {', '.join(MODELS)}")
    if config.augment.copies:
        try:
            DataAugmenter(config.augment)  # a bad --background is found here, not in a worker
        except ValueError as error:
            raise DatasetError(str(error)) from None
    labels, recordings, report = prepare_run(config, run_dir, cache_root, jobs, resume, progress)
    index = {label: i for i, label in enumerate(labels)}
    kinds = {MODELS[name].input_kind for name in config.models}
    feature_configs = {kind: config.features for kind in kinds - {"musicnn"}}
    if "musicnn" in kinds:
        musicnn_config = MusicnnFeatureConfig(audio=replace(config.features.audio, sample_rate=MUSICNN_SAMPLE_RATE))
        feature_configs["musicnn"] = musicnn_config
        extract_dataset(list(recordings), musicnn_config, cache_root, jobs, progress)
    train = [r for r in recordings if r.split == "train"]
    digest = {path: status.content_hash for path, status in report.statuses.items()}
    augmented = _augment_training(
        train, report, digest, tuple(feature_configs.values()), config, cache_root, jobs, progress
    )
    copies_of = {r.path: copies for r, copies in zip(train, augmented, strict=True)}
    draw_of = {name: draw if config.rotate_validation else 0 for draw, name in enumerate(config.models)}
    sets = {}
    for name, draw in draw_of.items():
        kind = MODELS[name].input_kind
        if (kind, draw) not in sets:
            model_train, model_val = model_sides(recordings, draw)
            training = [(r, copies_of[r.path]) for r in model_train]
            sets[kind, draw] = _window_sets(kind, feature_configs[kind], training, model_val, digest, index, cache_root)

    # Every model is built (each from the seed) and must take its inputs before any trains: no wasted work.
    models = {}
    for name in config.models:
        family = MODELS[name]
        model_config = None
        if issubclass(family, PretrainedClassifier):
            model_config = family.Config(backbone=family.default_backbone, finetune=config.train.finetune)
        seed_everything(config.train.seed)
        input_shape = sets[family.input_kind, draw_of[name]][0].input_shape
        models[name] = family(input_shape, len(labels), model_config)
        _check_input_fits(name, models[name], input_shape)

    states = {}
    for name, model in models.items():
        family = MODELS[name]
        train_set, val_set = sets[family.input_kind, draw_of[name]]
        if hasattr(model, "standardize"):
            mean, std = train_set.channel_statistics(np.random.default_rng(config.train.seed))
            model.standardize.set_statistics(torch.from_numpy(mean), torch.from_numpy(std))
        describe = {
            "format": MODEL_FORMAT,
            "family": name,
            "input_kind": family.input_kind,
            "input_shape": list(train_set.input_shape),
            "labels": labels,
            "config": asdict(model.config),
            "features": feature_configs[family.input_kind].to_dict(),
        }
        if getattr(model, "frozen", False):
            # A frozen backbone's passes are the costliest step of training its head, and an epoch never
            # draws more than `max_windows_per_class` of a class: the head gets a fixed sample of twice
            # that many per class (with `balance_copies`, the same share of augmented copies in every class).
            cap = config.train.max_windows_per_class
            rng = np.random.default_rng(config.train.seed)
            copies = train_set.augmented if config.train.balance_copies else None
            chosen = at_most_per_class(train_set.labels, cap and 2 * cap, rng, copies)
            log.info("%s: computing the frozen backbone's embeddings of %d windows", name, len(chosen) + len(val_set))
            train_set = EmbeddingSet(
                model.embeddings(train_set, chosen), train_set.labels[chosen], train_set.augmented[chosen]
            )
            val_set = EmbeddingSet(model.embeddings(val_set), val_set.labels)
        trainer = Trainer(name, model, config.train, run_dir, describe, len(labels))
        if resume and trainer.resume():
            log.info("%s: resuming after epoch %d", name, trainer.state.epoch)
        log.info("%s: %d training windows, %d validation windows", name, len(train_set), len(val_set))
        states[name] = trainer.fit(train_set, val_set, progress)
    return RunResult(labels, recordings, report, states)


def _check_input_fits(name: str, model, input_shape: tuple[int, ...]) -> None:
    """Fail early, with advice, when windows are too short for a model's pooling."""
    import torch

    try:
        with torch.no_grad():
            model.eval()(torch.zeros(2, *input_shape))
    except RuntimeError as error:
        raise RunError(
            f"{name} cannot take inputs of shape {tuple(input_shape)}: use longer windows (--window) ({error})"
        ) from None


def _augment_training(
    train: list[Recording],
    report: ExtractionReport,
    digest: dict[Path, str],
    feature_configs: tuple[FeatureConfig | MusicnnFeatureConfig, ...],
    config: RunConfig,
    cache_root: Path,
    jobs: int,
    progress: bool,
) -> list[dict]:
    """Each training recording's augmented copies, as cache keys per feature config.

    One augmentation of a recording serves every feature config: the transforms, not the features,
    are the costly part. With `fill_to`, the recordings of small classes get more copies.
    """
    if not config.augment.copies:
        return [{} for _ in train]
    windows_per_label = Counter()
    for recording in train:
        windows_per_label[recording.label] += report.statuses[recording.path].n_windows
    copies = config.augment.copies_per_label(windows_per_label)
    if config.augment.fill_to is not None:
        log.info("augmented copies per recording: %s", ", ".join(f"{k} {v}" for k, v in sorted(copies.items())))
    return augment_dataset(
        [(r.path, digest[r.path], copies[r.label]) for r in train],
        tuple(dict.fromkeys(feature_configs)),
        config.augment,
        cache_root,
        jobs,
        progress,
    )


def _window_sets(
    kind: str,
    feature_config: FeatureConfig | MusicnnFeatureConfig,
    training: list[tuple[Recording, dict]],
    validation: list[Recording],
    digest: dict[Path, str],
    index: dict[str, int],
    cache_root: Path,
) -> tuple[WindowSet, WindowSet]:
    """Training windows (each training recording's originals and augmented copies) and validation
    windows of one input kind."""
    cache = FeatureCache(cache_root, feature_config)
    train_entries, train_labels, train_augmented = [], [], []
    for recording, copies in training:
        for number, key in enumerate([digest[recording.path], *copies.get(feature_config, ())]):
            entry = cache.get(key, verify=False)
            if entry is not None:  # None: unusable under this feature config (e.g. too quiet at 16 kHz)
                train_entries.append(entry)
                train_labels.append(index[recording.label])
                train_augmented.append(number > 0)
    val = [(cache.get(digest[r.path], verify=False), index[r.label]) for r in validation]
    val = [(entry, label) for entry, label in val if entry is not None]
    if not train_entries or not val:
        raise DatasetError(f"no usable {kind} features for the training or validation split")
    return (
        WindowSet(train_entries, train_labels, kind, train_augmented),
        WindowSet([entry for entry, _ in val], [label for _, label in val], kind),
    )
