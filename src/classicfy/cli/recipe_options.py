"""The options of a run's recipe (`RunConfig`), shared by `train` and `crossval`; defaults from `classicfy.config`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from classicfy.cli.options import (
    feature_config,
    int_at_least,
    non_negative_float,
    positive_float,
    positive_int,
    split_names,
)
from classicfy.config import (
    BALANCE_STRATEGIES,
    DEFAULT_MODELS,
    KEEPS,
    PRECISIONS,
    AugmentConfig,
    RunConfig,
    TrainConfig,
)
from classicfy.errors import ClassicfyError

GIVEN = "options_given"  # the Namespace attribute that names the options on the command line


def _record_given_options(parser: argparse.ArgumentParser) -> None:
    """Every option added to `parser` from now on records its name in `args.options_given` when it is
    on the command line: one given its default value must still override a recipe's value, so
    comparing with the default cannot tell."""
    for name in (None, "store", "store_true"):  # the actions of recipe and feature options
        action_class = parser._registry_get("action", name)

        class Recorded(action_class):  # type: ignore[valid-type,misc]
            def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
                setattr(namespace, GIVEN, {*getattr(namespace, GIVEN, ()), self.dest})
                super().__call__(parser, namespace, values, option_string)

        parser.register("action", name, Recorded)


def add_recipe_options(parser: argparse.ArgumentParser, models_default: str = ",".join(DEFAULT_MODELS)) -> None:
    """--config, --models and every training, augmentation and split option."""
    parser.add_argument(
        "--config",
        metavar="RECIPE",
        help="a recipe: demo or demo-quick (the demo's), or a TOML file with the schema of a run's config.toml "
        "(RUN/config.toml repeats a run); the options given on the command line override it (default: the "
        "defaults below)",
    )
    _record_given_options(parser)
    parser.add_argument(
        "--models",
        default=models_default,
        metavar="A,B",
        help="models to train: cnn, gru, vgg; vgg-pretrained, musicnn-pretrained (musicnn's taggers as "
        "backbones with a new head); vgg-probe (answers whole recordings from the spread of vgg-mtt's "
        "embeddings); notes-cnn, notes-gru (on the notes basic-pitch hears) (default: %(default)s)",
    )
    _add_training_options(parser)
    _add_augment_options(parser)
    _add_split_options(parser)


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    """The options of `TrainConfig`, with its defaults."""
    parser.add_argument(
        "--max-windows-per-class",
        type=positive_int,
        metavar="N",
        help="per epoch, draw at most N windows of each class (a fresh sample each epoch); bounds "
        "epochs when long works dominate (default: every window)",
    )
    parser.add_argument(
        "--finetune",
        action="store_true",
        help="pretrained models: train the backbone too, at a tenth of the learning rate",
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=TrainConfig.epochs, help="most epochs per model (default: %(default)s)"
    )
    parser.add_argument(
        "--batch-size",
        type=int_at_least(2),
        default=TrainConfig.batch_size,
        metavar="B",
        help="windows per batch, at least 2 for batch norm (default: %(default)s)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        default=TrainConfig.learning_rate,
        help="AdamW learning rate (default: %(default)s)",
    )
    parser.add_argument(
        "--patience",
        type=positive_int,
        default=TrainConfig.patience,
        help="epochs without a better validation macro-F1 before stopping (default: %(default)s)",
    )
    parser.add_argument(
        "--keep",
        choices=KEEPS,
        default=TrainConfig.keep,
        help="the weights saved: of the best validation epoch (with early stopping), or after the last epoch, "
        "every epoch run (default: %(default)s)",
    )
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="also log losses, validation metrics, learning rate and a confusion matrix per epoch for "
        "TensorBoard, in RUN/tb (needs the [tensorboard] extra); the CSV history is written either way",
    )
    parser.add_argument(
        "--seed",
        type=int_at_least(0),
        default=TrainConfig.seed,
        help="seed of the split, initialisation and augmentation (default: %(default)s)",
    )
    _add_regularisation_options(parser)


def _add_regularisation_options(parser: argparse.ArgumentParser) -> None:
    """Balancing, mixup, weight averaging and precision: the options of `TrainConfig` that shape each step."""
    parser.add_argument(
        "--balance",
        choices=BALANCE_STRATEGIES,
        default=TrainConfig.balance,
        help="oversample smaller classes, weight the loss, or neither (default: %(default)s)",
    )
    parser.add_argument(
        "--mixup",
        type=non_negative_float,
        default=TrainConfig.mixup,
        metavar="A",
        help="mixup alpha; 0 is off (default)",
    )
    parser.add_argument(
        "--ema",
        type=non_negative_float,
        default=TrainConfig.ema_epochs,
        metavar="EPOCHS",
        help="validate and keep a moving average of the weights over about this many epochs, which steadies "
        "models that overfit a few training works; 0 is off (default)",
    )
    parser.add_argument(
        "--balance-copies",
        action="store_true",
        help="draw every class with the same share of augmented copies, so that sounding processed is less of a "
        "cue for the classes that got more copies (--augment-fill); off by default: see docs/training.md",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=TrainConfig.precision,
        help="bf16: bfloat16 autocast while training, about twice as fast on CPUs that have it natively; "
        "auto (default): bf16 on such CPUs (AMX, AVX512-BF16), fp32 elsewhere",
    )


def _add_augment_options(parser: argparse.ArgumentParser) -> None:
    """The options of `AugmentConfig`, with its defaults."""
    parser.add_argument(
        "--augment-copies",
        type=int_at_least(0),
        default=AugmentConfig.copies,
        metavar="K",
        help="augmented copies of each training recording (default: %(default)s)",
    )
    parser.add_argument(
        "--augment-fill",
        type=positive_int,
        metavar="N",
        help="give the recordings of a class with fewer than N windows more copies (up to 4 each), so small "
        "classes are oversampled with new versions of their music rather than repeats; beware that the models "
        "can then learn 'sounds processed' as a small class (see --balance-copies and docs/training.md; "
        "default: off)",
    )
    parser.add_argument(
        "--pitch-shift",
        type=positive_float,
        default=AugmentConfig.max_semitones,
        metavar="SEMITONES",
        help="augmented copies are shifted by up to this many semitones either way; 6 reaches every key, so a "
        "model cannot tell a composer by the keys of the works it trained on (default: %(default)s)",
    )
    parser.add_argument("--background", type=Path, metavar="DIR", help="folder of noise recordings to mix in")


def _add_split_options(parser: argparse.ArgumentParser) -> None:
    """The split options of `RunConfig`, with its defaults."""
    for side in ("val", "test"):
        what = "validation" if side == "val" else "the test"
        parser.add_argument(
            f"--{side}-fraction",
            type=float,
            default=getattr(RunConfig, f"{side}_fraction"),
            metavar="F",
            help=f"share of each class's audio (windows) held out for {what}, in whole works: never more, "
            "unless even the class's smallest work is (default: %(default)s)",
        )
    parser.add_argument(
        "--rotate-validation",
        action="store_true",
        help="give each model its own validation works (drawn from those outside the test side, preferring "
        "works no earlier model validated on) and train it on the rest: the ensemble's models then train on "
        "different works, and together on all of them (default: every model validates on the same works)",
    )


def run_config(args: argparse.Namespace, data: str) -> RunConfig:
    """The run's configuration from the command line's options; a value that cannot train is refused."""
    try:
        return RunConfig(
            data=data,
            models=split_names(args.models),
            val_fraction=args.val_fraction,
            test_fraction=args.test_fraction,
            rotate_validation=args.rotate_validation,
            features=feature_config(args),
            train=TrainConfig(
                epochs=args.epochs,
                batch_size=args.batch_size,
                seed=args.seed,
                balance=args.balance,
                mixup=args.mixup,
                ema_epochs=args.ema,
                balance_copies=args.balance_copies,
                learning_rate=args.lr,
                patience=args.patience,
                keep=args.keep,
                finetune=args.finetune,
                max_windows_per_class=args.max_windows_per_class,
                precision=args.precision,
                tensorboard=args.tensorboard,
            ),
            augment=AugmentConfig(
                copies=args.augment_copies,
                fill_to=args.augment_fill,
                max_semitones=args.pitch_shift,
                seed=args.seed,
                background=str(args.background) if args.background else None,
            ),
        )
    except ValueError as error:
        raise ClassicfyError(str(error)) from None


def recipe_config(args: argparse.Namespace, data: str) -> RunConfig:
    """The recipe: `--config` (a named recipe or a TOML file) with the options given on the command line
    over it, or the options alone."""
    from classicfy.training.recipes import read_recipe

    config = run_config(args, data)
    if args.config is None:
        return config
    return _override(read_recipe(args.config, data), config, args)


def _override(recipe: RunConfig, given: RunConfig, args: argparse.Namespace) -> RunConfig:
    """`recipe` with every option given on the command line taken from `given`."""
    from dataclasses import fields, replace

    changed: set[str] = getattr(args, GIVEN, set())
    updates: dict[str, Any] = {}
    for section in ("train", "augment", "features"):
        base, mine = getattr(recipe, section), getattr(given, section)
        differing = {
            f.name: getattr(mine, f.name) for f in fields(mine) if getattr(mine, f.name) != getattr(base, f.name)
        }
        updates[section] = replace(base, **{k: v for k, v in differing.items() if _given(k, changed)})
    top = {name: getattr(given, name) for name in ("models", "val_fraction", "test_fraction", "rotate_validation")}
    return replace(recipe, **updates, **{k: v for k, v in top.items() if _given(k, changed)})


# Config fields named otherwise on the command line.
_OPTION_OF = {"learning_rate": "lr", "ema_epochs": "ema", "copies": "augment_copies", "fill_to": "augment_fill",
              "max_semitones": "pitch_shift", "audio": "window"}  # fmt: skip


def _given(field: str, changed: set[str]) -> bool:
    return _OPTION_OF.get(field, field) in changed or (field == "audio" and bool({"sr", "hop"} & changed))
