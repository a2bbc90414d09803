"""Training recipes as TOML files: the schema of a run's `config.toml`, so `--config RUN/config.toml`
repeats a run; the demo's two recipes ship in the package (`recipe_files/`).

A recipe change is adopted only on cross-validation (docs/experiments.md keeps each trial).
"""

from __future__ import annotations

import sys
from dataclasses import fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from classicfy.config import AudioConfig, AugmentConfig, FeatureConfig, RunConfig, TrainConfig
from classicfy.errors import ClassicfyError

NAMED_RECIPES = ("demo", "demo-quick")
# The keys a recipe may hold, section by section: those of the config it becomes.
SECTIONS: dict[str, type] = {"": RunConfig, "features": FeatureConfig, "features.audio": AudioConfig,
                             "train": TrainConfig, "augment": AugmentConfig}  # fmt: skip


def recipe_path(recipe: str | Path) -> Path:
    """The file of a named recipe, or the file given."""
    if str(recipe) in NAMED_RECIPES:
        return Path(str(resources.files("classicfy.training") / "recipe_files" / f"{recipe}.toml"))
    return Path(recipe)


def _check_keys(values: dict[str, Any], path: Path, section: str = "") -> None:
    known = {f.name for f in fields(SECTIONS[section])}
    for key, value in values.items():
        name = f"{section}.{key}" if section else key
        if key not in known:
            table = f"[{section}]" if section else "the top level"
            raise ClassicfyError(f"{path}: unknown key {name!r} (known in {table}: {', '.join(sorted(known))})")
        if isinstance(value, dict) != (name in SECTIONS):
            kind = "a [table]" if name in SECTIONS else "a value"
            raise ClassicfyError(f"{path}: {name!r} must be {kind}")
        if isinstance(value, dict):
            _check_keys(value, path, name)


def read_recipe(recipe: str | Path, data: str | None = None) -> RunConfig:
    """A named recipe or a recipe file, for the dataset `data` (else the file's own `data`). A missing
    file, bad TOML, an unknown key or a value that cannot train is one `ClassicfyError` naming the file."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    path = recipe_path(recipe)
    try:
        values = tomllib.loads(path.read_text())
    except OSError as error:
        raise ClassicfyError(f"{path}: cannot read the recipe ({error.strerror or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ClassicfyError(f"{path}: not TOML ({error})") from None
    _check_keys(values, path)
    values["data"] = data if data is not None else values.get("data")
    if values["data"] is None:
        raise ClassicfyError(f"{path}: the recipe names no data, and none was given")
    try:
        return RunConfig.from_dict(values)
    except (TypeError, ValueError) as error:
        raise ClassicfyError(f"{path}: {error}") from None


def demo_config(quick: bool = False, models: tuple[str, ...] | None = None, epochs: int | None = None) -> RunConfig:
    """The demo's run configuration, from its shipped recipe (also what cross-validation of the demo
    recipe trains)."""
    config = read_recipe("demo-quick" if quick else "demo")
    if models is not None:
        config = replace(config, models=models)  # an empty list is refused, not replaced
    return replace(config, train=replace(config.train, epochs=epochs)) if epochs else config
