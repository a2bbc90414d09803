from __future__ import annotations

import subprocess
import sys

import pytest

from classicfy.cli import main
from helpers import run_cli, subcommands


def test_help_does_not_import_heavy_libraries():
    code = "import sys, classicfy.cli; print(sorted(m for m in ('numpy', 'librosa', 'torch') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_every_command_has_help_with_a_description(capsys):
    from classicfy.cli import build_parser

    commands = subcommands(build_parser())
    expected = ["demo", "train", "evaluate", "predict", "export", "tag", "features", "corpus"]
    assert {*((name,) for name in expected), ("corpus", "build")} <= set(commands)
    for command, parser in commands.items():
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--help"])
        out = capsys.readouterr().out
        assert exit_.value.code == 0 and out.startswith(f"usage: classicfy {' '.join(command)}"), command
        assert parser.description and " ".join(parser.description.split()[:4]) in " ".join(out.split()), command
    assert "--cache" in run_cli("features", "--help").stdout  # and from the shell


def test_invalid_window_is_a_usage_error(tmp_path):
    result = run_cli("features", str(tmp_path), "--window", "0")
    assert result.returncode == 2
    assert "must be positive" in result.stderr
    assert "Traceback" not in result.stderr


def test_negative_weight_averaging_is_a_usage_error(tmp_path):
    result = run_cli("train", str(tmp_path), "--ema", "-1")
    assert result.returncode == 2 and "must be 0 or more" in result.stderr


def _option(parser, dest: str):
    return next(action for action in parser._actions if action.dest == dest)


# Each option whose default is a config's default: (command, option dest) -> (config class, field).
CONFIG_DEFAULTS = {
    ("train", "epochs"): ("TrainConfig", "epochs"),
    ("train", "batch_size"): ("TrainConfig", "batch_size"),
    ("train", "lr"): ("TrainConfig", "learning_rate"),
    ("train", "patience"): ("TrainConfig", "patience"),
    ("train", "keep"): ("TrainConfig", "keep"),
    ("train", "seed"): ("TrainConfig", "seed"),
    ("train", "balance"): ("TrainConfig", "balance"),
    ("train", "mixup"): ("TrainConfig", "mixup"),
    ("train", "ema"): ("TrainConfig", "ema_epochs"),
    ("train", "precision"): ("TrainConfig", "precision"),
    ("train", "max_windows_per_class"): ("TrainConfig", "max_windows_per_class"),
    ("train", "balance_copies"): ("TrainConfig", "balance_copies"),
    ("train", "finetune"): ("TrainConfig", "finetune"),
    ("train", "augment_copies"): ("AugmentConfig", "copies"),
    ("train", "augment_fill"): ("AugmentConfig", "fill_to"),
    ("train", "pitch_shift"): ("AugmentConfig", "max_semitones"),
    ("train", "background"): ("AugmentConfig", "background"),
    ("train", "val_fraction"): ("RunConfig", "val_fraction"),
    ("train", "test_fraction"): ("RunConfig", "test_fraction"),
    ("train", "rotate_validation"): ("RunConfig", "rotate_validation"),
    ("train", "sr"): ("AudioConfig", "sample_rate"),
    ("train", "window"): ("AudioConfig", "window_s"),
    ("features", "sr"): ("AudioConfig", "sample_rate"),
    ("features", "window"): ("AudioConfig", "window_s"),
    ("corpus", "build", "timbre"): ("BuildOptions", "timbre"),
    ("corpus", "build", "max_pieces_per_composer"): ("BuildOptions", "max_pieces_per_composer"),
    ("corpus", "build", "seed"): ("BuildOptions", "seed"),
}


def test_every_cli_default_is_its_configs_default():
    import dataclasses

    from classicfy import config
    from classicfy.cli import build_parser

    commands = subcommands(build_parser())
    for (*command, dest), (class_name, field_name) in CONFIG_DEFAULTS.items():
        field = next(f for f in dataclasses.fields(getattr(config, class_name)) if f.name == field_name)
        action = _option(commands[tuple(command)], dest)
        assert action.default == field.default, (command, dest, action.default, field.default)
    train = commands[("train",)]
    assert _option(train, "models").default == ",".join(config.RunConfig.models)
    assert tuple(_option(train, "precision").choices) == config.PRECISIONS
    assert tuple(_option(train, "balance").choices) == config.BALANCE_STRATEGIES
    assert tuple(_option(commands[("tag",)], "model").choices) == config.TAGGERS
    assert tuple(_option(commands[("corpus", "build")], "timbre").choices) == config.TIMBRES


def test_the_config_module_imports_without_numpy_or_torch():
    code = "import sys, classicfy.config; print(sorted(m for m in ('numpy', 'torch') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_version_and_logging_options_after_the_command_name(capsys):
    from classicfy import __version__
    from classicfy.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"classicfy {__version__}"
    parser = build_parser()
    assert parser.parse_args(["predict", "-v", "RUN", "FILE"]).verbose is True
    assert parser.parse_args(["-v", "predict", "RUN", "FILE"]).verbose is True  # not reset by the subcommand
    assert parser.parse_args(["predict", "RUN", "FILE"]).verbose is False
    assert parser.parse_args(["corpus", "build", "-q", "--out", "X"]).quiet is True


def test_docs_cli_md_is_generated_from_the_parser():
    from pathlib import Path

    from classicfy.cli.reference import reference

    committed = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    assert committed.read_text() == reference(), "regenerate: python -m classicfy.cli.reference > docs/cli.md"


def test_crossval_options_given_override_the_named_recipe_and_the_rest_keep_it():
    from classicfy.cli import build_parser
    from classicfy.cli.recipe_options import recipe_config
    from classicfy.training.recipes import demo_config

    args = build_parser().parse_args(
        [
            "crossval",
            "DATA",
            "--out",
            "CV",
            "--config",
            "demo",
            "--epochs",
            "3",
            "--pitch-shift",
            "1.5",
            "--window",
            "5",
        ]
    )
    config = recipe_config(args, "DATA")
    demo = demo_config()
    assert (config.data, config.models) == ("DATA", demo.models)
    assert config.train.epochs == 3 and config.augment.max_semitones == 1.5 and config.features.audio.window_s == 5
    assert config.train.max_windows_per_class == demo.train.max_windows_per_class  # the recipe's, not the default
    assert config.train.patience == demo.train.patience and config.augment.copies == demo.augment.copies
