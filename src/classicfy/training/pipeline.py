"""A training run, from dataset to saved models, in a run folder (its layout: `classicfy.rundir`).

`train_run` reads in steps: prepare the data (features, split, the run's files), build each model's
window sets, build every model, then train each one.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from classicfy.config import AnyFeatureConfig, RunConfig, feature_config_for
from classicfy.data.builtin import resolve_dataset
from classicfy.data.manifest import Recording, list_dataset, model_sides, split_by_group
from classicfy.devices import resolve_device
from classicfy.errors import DatasetError, RunError
from classicfy.features.augment import DataAugmenter
from classicfy.features.cache import FeatureCache
from classicfy.features.extraction import ExtractionReport, augment_dataset, extract_dataset
from classicfy.features.inputs import EmbeddingSet, LabelledInputs, WindowSet
from classicfy.model_card import write_model_card
from classicfy.models.base import ClassifierModel
from classicfy.models.probe import RecordingProbe
from classicfy.rundir import RUN_OUTPUTS, ModelCard, RunFolder, check_output_folder
from classicfy.training import distributed
from classicfy.training.balance import at_most_per_class
from classicfy.training.curves import require_tensorboard
from classicfy.training.recording_fit import fit_recording_model
from classicfy.training.trainer import Trainer, TrainState, seed_everything
from classicfy.workspace import Workspace

log = logging.getLogger(__name__)
SideSets = tuple[LabelledInputs, LabelledInputs]  # a model's training and validation windows


@dataclass
class RunResult:
    labels: list[str]
    recordings: list[Recording]
    report: ExtractionReport
    states: dict[str, TrainState]


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


def _split(config: RunConfig, report: ExtractionReport, run: RunFolder, resume: bool) -> list[Recording]:
    """The run's own split when resuming, else a new split by work."""
    if resume and run.split_path.exists():
        saved = {r.path: r for r in run.read_split()}
        return [
            replace(r, split=saved[r.path].split, val_draws=saved[r.path].val_draws)
            for r in report.recordings
            if r.path in saved
        ]
    return split_by_group(
        report.recordings,
        config.val_fraction,
        config.test_fraction,
        config.train.seed,
        report.windows_per_recording(),
        config.validation_draws,
    )


def _check_trainable(config: RunConfig, recordings: list[Recording], labels: list[str]) -> None:
    """Every model's training side hears every label, and no side it needs is empty."""
    for draw in range(config.validation_draws):
        for side, members in zip(("train", "val"), model_sides(recordings, draw), strict=True):
            whose = f" of {config.models[draw]}" if config.rotate_validation else ""
            if not members:
                raise DatasetError(f"the {side} split{whose} is empty: add recordings or change the split fractions")
            unheard = sorted(set(labels) - {r.label for r in members})
            if side == "train" and unheard:  # a model cannot learn a label it never hears
                raise DatasetError(f"the train split{whose} has no recording of {', '.join(unheard)}: "
                                   "give it at least one work of every label")  # fmt: skip


def prepare_run(
    config: RunConfig, run_dir: str | Path, work: Workspace | None = None, resume: bool = False, force: bool = False
) -> tuple[list[str], list[Recording], ExtractionReport]:
    """Extract features, split (or reuse the run's split), then write the run's config, split and labels.

    `force` lets a run be written into a folder that holds other files, never over them."""
    run, work = RunFolder(run_dir), work or Workspace()
    if run.exists() and not resume:
        raise RunError(f"{run.path} already holds a run: pass --resume to continue it, or choose a new --out")
    check_output_folder(run.path, RUN_OUTPUTS, force)
    report = extract_dataset(list_dataset(resolve_dataset(config.data, work)), config.features, work)
    if not report.usable:
        raise DatasetError(f"no usable recordings in {config.data}")
    recordings = _split(config, report, run, resume)
    labels = sorted({r.label for r in recordings})
    if len(labels) < 2:
        raise DatasetError(f"a classifier needs at least two labels, found {labels}")
    if resume and run.labels_path.exists():
        began_with = run.read_labels()
        if began_with != labels:  # the checkpoints' output layers count and order the labels it began with
            raise DatasetError(
                f"{config.data} now has the labels {labels}, and {run.path} began with {began_with}: "
                "restore the data, or train a new run"
            )
    _check_trainable(config, recordings, labels)
    # The run folder is written only once the dataset is known to be trainable, config.toml last:
    # a dataset problem leaves no half-made run that would ask for --resume.
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_split(recordings)
    run.write_labels(labels)
    run.write_dataset_summary(_dataset_summary(report, recordings))
    if not run.exists():
        run.write_config(config)
    return labels, recordings, report


def _read_prepared(
    config: RunConfig, run_dir: str | Path, work: Workspace
) -> tuple[list[str], list[Recording], ExtractionReport]:
    """What `prepare_run` made, read back by a rank that follows the leader (from the cache it filled)."""
    run = RunFolder(run_dir)
    report = extract_dataset(list_dataset(resolve_dataset(config.data, work)), config.features, work)
    return run.read_labels(), _split(config, report, run, resume=True), report


def train_run(
    config: RunConfig, run_dir: str | Path, work: Workspace | None = None, resume: bool = False, force: bool = False
) -> RunResult:
    """Train every model of the config into `run_dir`; with `resume`, continue each from its last checkpoint;
    with `force`, into a folder that holds other files (never over them).

    `work` defaults as on the command line: the user cache folder (or $CLASSICFY_CACHE), every core.
    """
    from classicfy.models import MODELS

    work = work or Workspace()
    unknown = [m for m in config.models if m not in MODELS]
    if unknown:
        raise RunError(f"unknown model(s): {', '.join(unknown)}; available: {', '.join(MODELS)}")
    resolve_device(work.device)  # an absent device is refused before any work
    if config.train.tensorboard:
        require_tensorboard()  # as is a missing TensorBoard
    if config.augment.copies:
        try:
            DataAugmenter(config.augment)  # a bad --background is found here, not in a worker
        except ValueError as error:
            raise DatasetError(str(error)) from None
    leader = distributed.ranks().leader
    work = replace(work, progress=work.progress and leader)

    def prepare() -> tuple[list[str], list[Recording], ExtractionReport]:
        return prepare_run(config, run_dir, work, resume, force)

    labels, recordings, report = distributed.leader_first(prepare, lambda: _read_prepared(config, run_dir, work))

    def window_sets() -> tuple[dict[str, SideSets], dict[str, AnyFeatureConfig]]:
        return _model_window_sets(config, labels, recordings, report, work)

    # The leader augments and caches first; the others then find its cache entries.
    sets, feature_configs = distributed.leader_first(window_sets)
    models = _build_models(config, labels, sets)
    run = RunFolder(run_dir)
    states = {}
    for name, model in models.items():
        train_set, val_set = sets[name]
        card = ModelCard(
            family=name,
            input_kind=model.input_kind,
            input_shape=tuple(train_set.input_shape),
            labels=labels,
            config=asdict(model.config),
            features=feature_configs[model.input_kind].to_dict(),
        )
        states[name] = _train_model(name, model, (train_set, val_set), card, config, run, work, resume)
    if leader:
        write_model_card(run.path)
    return RunResult(labels, recordings, report, states)


def _model_window_sets(
    config: RunConfig, labels: list[str], recordings: list[Recording], report: ExtractionReport, work: Workspace
) -> tuple[dict[str, SideSets], dict[str, AnyFeatureConfig]]:
    """Each model's training windows (originals and augmented copies) and validation windows, and the
    feature config of each input kind. Models of one input kind and validation draw share their sets."""
    from classicfy.models import MODELS

    index = {label: i for i, label in enumerate(labels)}
    kinds = {MODELS[name].input_kind for name in config.models}
    feature_configs = {kind: feature_config_for(kind, config.features) for kind in sorted(kinds)}
    for own in dict.fromkeys(feature_configs.values()):
        if own != config.features:  # the run's own features are extracted already
            extract_dataset(list(recordings), own, work)
    train = [r for r in recordings if r.split == "train"]
    digest = report.content_hashes()
    augmented = _augment_training(train, report, digest, tuple(feature_configs.values()), config, work)
    copies_of = {r.path: copies for r, copies in zip(train, augmented, strict=True)}
    shared: dict[tuple[str, int], SideSets] = {}
    sets = {}
    for draw, name in enumerate(config.models):
        draw = draw if config.rotate_validation else 0
        kind = MODELS[name].input_kind
        if (kind, draw) not in shared:
            model_train, model_val = model_sides(recordings, draw)
            training = [(r, copies_of[r.path]) for r in model_train]
            shared[kind, draw] = _window_sets(
                kind, feature_configs[kind], training, model_val, digest, index, work.cache
            )
        sets[name] = shared[kind, draw]
    return sets, feature_configs


def _build_models(config: RunConfig, labels: list[str], sets: dict[str, SideSets]) -> dict[str, ClassifierModel]:
    """Every model, each built from the seed; all must take their inputs before any trains: no wasted work."""
    from classicfy.models import MODELS

    models = {}
    for name in config.models:
        family = MODELS[name]
        model_config = family.config_for(config.train.finetune)
        seed_everything(config.train.seed)
        input_shape = sets[name][0].input_shape
        models[name] = family(input_shape, len(labels), model_config)
        _check_input_fits(name, models[name], input_shape)
    return models


def _train_model(
    name: str,
    model: ClassifierModel,
    sets: SideSets,
    card: ModelCard,
    config: RunConfig,
    run: RunFolder,
    work: Workspace,
    resume: bool,
) -> TrainState:
    """Fit a recording model in closed form; else standardise the inputs, embed once through a frozen
    backbone, then train (or continue) one model."""
    import torch

    train_set, val_set = sets
    if model.answers_recordings:
        assert isinstance(model, RecordingProbe) and isinstance(train_set, WindowSet) and isinstance(val_set, WindowSet)
        if not distributed.ranks().leader:  # one closed-form fit, by the rank that writes the run
            return TrainState()
        return fit_recording_model(name, model, (train_set, val_set), card, run)
    trainer = Trainer(name, model, config.train, run, card, len(card.labels), resolve_device(work.device))
    if resume and trainer.resume():
        log.info("%s: resuming after epoch %d", name, trainer.state.epoch)
        if trainer.finished:  # its saved model stands: no statistics or embeddings to compute again
            return trainer.state
    else:
        if model.standardizes_inputs:
            assert isinstance(train_set, WindowSet), "statistics are of raw windows"
            mean, std = train_set.channel_statistics(np.random.default_rng(config.train.seed))
            model.set_input_statistics(torch.from_numpy(mean), torch.from_numpy(std))
    if model.frozen:
        train_set, val_set = _frozen_embeddings(name, model, train_set, val_set, config)
    log.info("%s: %d training windows, %d validation windows", name, len(train_set), len(val_set))
    return trainer.fit(train_set, val_set, work.progress)


def _frozen_embeddings(
    name: str, model: ClassifierModel, train_set: LabelledInputs, val_set: LabelledInputs, config: RunConfig
) -> tuple[EmbeddingSet, EmbeddingSet]:
    """A frozen backbone's embeddings: its passes are the costliest step of training its head, and an
    epoch never draws more than `max_windows_per_class` of a class, so the head gets a fixed sample of
    twice that many per class (with `balance_copies`, the same share of augmented copies in every class)."""
    cap = config.train.max_windows_per_class
    rng = np.random.default_rng(config.train.seed)
    copies = train_set.augmented if config.train.balance_copies else None
    chosen = at_most_per_class(train_set.labels, cap and 2 * cap, rng, copies)
    log.info("%s: computing the frozen backbone's embeddings of %d windows", name, len(chosen) + len(val_set))
    train_embedded = EmbeddingSet(
        model.embeddings(train_set, chosen), train_set.labels[chosen], train_set.augmented[chosen]
    )
    return train_embedded, EmbeddingSet(model.embeddings(val_set), val_set.labels)


def _check_input_fits(name: str, model: ClassifierModel, input_shape: tuple[int, ...]) -> None:
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
    feature_configs: tuple[AnyFeatureConfig, ...],
    config: RunConfig,
    work: Workspace,
) -> list[dict[AnyFeatureConfig, list[str]]]:
    """Each training recording's augmented copies, as cache keys per feature config.

    One augmentation of a recording serves every feature config: the transforms, not the features,
    are the costly part. With `fill_to`, the recordings of small classes get more copies.
    """
    if not config.augment.copies:
        return [{} for _ in train]
    windows_per_label: Counter[str] = Counter()
    for recording in train:
        windows_per_label[recording.label] += report.statuses[recording.path].n_windows
    copies = config.augment.copies_per_label(windows_per_label)
    if config.augment.fill_to is not None:
        log.info("augmented copies per recording: %s", ", ".join(f"{k} {v}" for k, v in sorted(copies.items())))
    return augment_dataset(
        [(r.path, digest[r.path], copies[r.label]) for r in train],
        tuple(dict.fromkeys(feature_configs)),
        config.augment,
        work,
    )


def _window_sets(
    kind: str,
    feature_config: AnyFeatureConfig,
    training: list[tuple[Recording, dict[AnyFeatureConfig, list[str]]]],
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
    val_entries, val_labels = [], []
    for recording in validation:
        entry = cache.get(digest[recording.path], verify=False)
        if entry is not None:
            val_entries.append(entry)
            val_labels.append(index[recording.label])
    if not train_entries or not val_entries:
        raise DatasetError(f"no usable {kind} features for the training or validation split")
    return WindowSet(train_entries, train_labels, kind, train_augmented), WindowSet(val_entries, val_labels, kind)
