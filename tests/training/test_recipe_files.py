"""Recipes as TOML files: `--config` on train and crossval, command-line options over it."""

from __future__ import annotations

import pytest

from classicfy.cli import main
from classicfy.config import RunConfig
from classicfy.errors import ClassicfyError
from classicfy.training.recipes import demo_config, read_recipe, recipe_path

RECIPE = """
models = ["cnn"]
[train]
epochs = 5
max_windows_per_class = 40
learning_rate = 0.003
[features.audio]
window_s = 2.0
hop_s = 2.0
"""


def test_train_takes_the_recipe_and_the_options_given_over_it(data, tmp_path):
    recipe = tmp_path / "R.toml"
    recipe.write_text(RECIPE)
    run = tmp_path / "RUN"
    args = ["train", str(data), "--config", str(recipe), "--out", str(run), "--epochs", "1",
            "--cache", str(tmp_path / "cache"), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    config = RunConfig.from_toml((run / "config.toml").read_text())
    assert config.train.epochs == 1 and config.models == ("cnn",)  # the flag, then the file's
    assert (config.train.max_windows_per_class, config.train.learning_rate) == (40, 0.003)
    assert config.features.audio.window_s == 2.0 and config.data == str(data.resolve())
    assert read_recipe(run / "config.toml", config.data) == config  # a run's config.toml repeats it


@pytest.mark.parametrize(
    ("text", "named"),
    [("[train]\nepoch = 3\n", "'train.epoch'"), ("model = ['cnn']\n", "'model'"), ("train = 3\n", "'train'"),
     ("[features.audio]\nwindow = 2\n", "'features.audio.window'"), ("[train\n", "not TOML")],
)  # fmt: skip
def test_a_misspelt_key_exits_2_naming_the_key_and_the_file(tmp_path, capsys, text, named):
    recipe = tmp_path / "R.toml"
    recipe.write_text(text)
    assert main(["train", str(tmp_path), "--config", str(recipe), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(recipe) in error and named in error


def test_a_value_that_cannot_train_names_the_file(tmp_path):
    recipe = tmp_path / "R.toml"
    recipe.write_text("[train]\nepochs = 0\n")
    with pytest.raises(ClassicfyError, match=r"R\.toml: epochs"):
        read_recipe(recipe, "DATA")


def test_the_demo_runs_from_recipe_files_shipped_in_the_package():
    full, quick = demo_config(), demo_config(quick=True)
    assert recipe_path("demo").is_file() and recipe_path("demo-quick").is_file()
    assert (full.data, full.train.epochs, full.train.max_windows_per_class) == ("builtin:composers", 15, 300)
    assert (quick.data, quick.train.epochs, quick.train.max_windows_per_class) == ("builtin:composers-quick", 8, 100)
    assert full.models == ("cnn", "gru", "vgg", "vgg-pretrained", "vgg-probe") and full.augment.max_semitones == 6.0
    assert demo_config(models=("gru",), epochs=2).train.epochs == 2


@pytest.mark.parametrize("command", ["train", "crossval"])
def test_an_option_given_its_default_value_still_overrides_the_recipe(command):
    """`--config demo --models cnn,gru,vgg` ran the demo's four models: `cnn,gru,vgg` is the option's
    default, and options were told given by differing from their defaults."""
    from classicfy.cli import build_parser
    from classicfy.cli.recipe_options import recipe_config

    args = build_parser().parse_args(
        [command, "DATA", "--out", "OUT", "--config", "demo", "--models", "cnn,gru,vgg", "--epochs", "30"]
    )
    config = recipe_config(args, "DATA")
    assert config.models == ("cnn", "gru", "vgg")  # the demo's recipe has four
    assert config.train.epochs == 30  # the demo's has 15; 30 is the option's default
    assert config.train.max_windows_per_class == demo_config().train.max_windows_per_class  # not given: the recipe's
    untouched = recipe_config(build_parser().parse_args([command, "DATA", "--out", "OUT", "--config", "demo"]), "DATA")
    assert untouched.models == demo_config().models and untouched.train.epochs == demo_config().train.epochs
