"""The run folder: the one module that knows its layout, and reads and writes its files.

```
RUN/config.toml              the resolved RunConfig (written first: --resume reads it back)
RUN/labels.json              class names in model output order
RUN/split.csv                path,label,group,split[,val_draws][,rendition_of]
RUN/dataset.json             recordings, windows and skipped files with reasons
RUN/models/NAME.safetensors  weights, beside NAME.json, the model card that rebuilds them
RUN/models/ensemble.json     the ensemble's members and weights
RUN/models/baseline.json     the logistic-regression baseline
RUN/checkpoints/NAME.safetensors, RUN/history/NAME.csv
RUN/metrics.json, RUN/predictions.csv, RUN/windows.safetensors, RUN/report.html, RUN/plots/
```

Every file is read as untrusted: a missing or damaged one is a one-line `RunError` naming it.
Tensors are safetensors (no pickle: loading never executes code) and everything else JSON or TOML.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from classicfy import atomic
from classicfy.config import MODEL_NAME, AnyFeatureConfig, RunConfig, feature_config_from
from classicfy.data.manifest import SPLITS, Recording, file_digest
from classicfy.errors import RunError

if TYPE_CHECKING:
    import torch

MODEL_FORMAT = 1  # version of models/NAME.json + NAME.safetensors; bump when old runs can no longer load
RUN_FILES = ("config.toml", "labels.json", "split.csv")
# What an evaluation writes, into the run or into `--out`; a run writes these and more.
EVALUATION_OUTPUTS = ("metrics.json", "predictions.csv", "windows.safetensors", "plots", "report.html")
CARD_FILE = "README.md"  # the run's model card (`classicfy.model_card`)
TB_FOLDER = "tb"  # TensorBoard's event files, with --tensorboard (`classicfy.training.curves`)
RUN_OUTPUTS = (
    *RUN_FILES,
    "dataset.json",
    "models",
    "checkpoints",
    "history",
    TB_FOLDER,
    CARD_FILE,
    *EVALUATION_OUTPUTS,
)
T = TypeVar("T")


def read_run_file(path: str | Path, load: Callable[[Path], T] | None = None) -> T:
    """`load(path)` (JSON by default) for a file of a run folder; missing or damaged, a one-line `RunError`."""
    path = Path(path)
    try:
        return load(path) if load is not None else json.loads(path.read_text())
    except FileNotFoundError:
        raise RunError(f"{path.parent} is not a complete run: {path.name} is missing") from None
    except (OSError, ValueError, KeyError, TypeError, csv.Error) as error:  # JSONDecodeError is a ValueError
        raise RunError(f"{path} is damaged: {error!r}") from None


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], state: dict[str, Any] | None = None) -> str:
    """Write tensors (and optional JSON state in the header, so the two never disagree) atomically;
    returns the SHA-256 of the bytes written."""
    path = Path(path)
    from safetensors.torch import save

    metadata = {"state": json.dumps(state)} if state is not None else None
    contiguous = {name: t.detach().contiguous().cpu() for name, t in tensors.items()}
    data = save(contiguous, metadata=metadata)
    atomic.write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    return file_digest(path, hashlib.sha256())


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """Tensors and the JSON state saved with them."""
    path = Path(path)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - not a dict
        metadata = handle.metadata() or {}
    return tensors, json.loads(metadata["state"]) if "state" in metadata else None


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
    """Numpy arrays and JSON metadata as one safetensors file, written atomically (no torch needed)."""
    from safetensors.numpy import save

    contiguous = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
    atomic.write_bytes(Path(path), save(contiguous, metadata={"json": json.dumps(metadata)}))


def load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and metadata `save_arrays` wrote; a missing or damaged file is a `RunError` naming it."""
    from safetensors import safe_open

    def read(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        path = Path(path)
        with safe_open(str(path), framework="np") as handle:
            arrays = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - not a dict
            return arrays, json.loads((handle.metadata() or {})["json"])

    try:
        return read_run_file(Path(path), read)
    except RunError:
        raise
    except Exception as error:  # safetensors raises its own SafetensorError for damaged files
        raise RunError(f"{path} is damaged: {type(error).__name__}") from None


@dataclass
class ModelCard:
    """What `models/NAME.json` says of a trained model: enough to rebuild it and feed it."""

    family: str
    input_kind: str
    input_shape: tuple[int, ...]
    labels: list[str]
    config: dict[str, Any]
    features: dict[str, Any]
    training: dict[str, Any] | None = None
    weights_sha256: str | None = None  # of models/NAME.safetensors: flipped bytes are found, not loaded
    format: int = MODEL_FORMAT
    extra: dict[str, Any] = field(default_factory=dict)  # keys this classicfy does not know, kept as read

    @property
    def feature_config(self) -> AnyFeatureConfig:
        return feature_config_from(self.features, self.input_kind)

    def to_json(self) -> str:
        values = asdict(self)
        extra = values.pop("extra")
        values = {"format": values.pop("format"), **values, **extra}
        values["input_shape"] = list(self.input_shape)
        for optional in ("training", "weights_sha256"):
            if values[optional] is None:
                del values[optional]
        return json.dumps(values, indent=2)

    @classmethod
    def read(cls, path: str | Path) -> ModelCard:
        """The card at `path`; a damaged, foreign or newer-format card is a `RunError` naming it."""
        path = Path(path)
        try:
            values: Any = json.loads(path.read_text())
        except FileNotFoundError:
            raise RunError(f"{path.parent} has no model card {path.name}") from None
        except (OSError, ValueError) as error:
            raise RunError(f"{path} is damaged: {error}") from None
        version = values.get("format", 1) if isinstance(values, dict) else None
        if version != MODEL_FORMAT:
            raise RunError(
                f"{path} has model format {version}; this classicfy reads format {MODEL_FORMAT} "
                "(train the run again, or use the classicfy version that wrote it)"
            )
        known = {"format", "family", "input_kind", "input_shape", "labels", "config", "features", "training"}
        known |= {"weights_sha256"}
        try:
            return cls(
                family=str(values["family"]),
                input_kind=str(values["input_kind"]),
                input_shape=tuple(int(n) for n in values["input_shape"]),
                labels=[str(label) for label in values["labels"]],
                config=dict(values["config"]),
                features=dict(values["features"]),
                training=values.get("training"),
                weights_sha256=str(values["weights_sha256"]) if values.get("weights_sha256") else None,
                extra={k: v for k, v in values.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise RunError(f"{path} does not describe a model this classicfy can build: {error!r}") from None


def _is_evaluation(folder: Path) -> bool:
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(metrics, dict) and {"labels", "models"} <= set(metrics)


def check_output_folder(folder: str | Path, outputs: tuple[str, ...], force: bool = False) -> None:
    """Refuse to write into a folder classicfy did not make: one that is not empty and holds no run
    or evaluation of ours, unless `force`; and even then, never over a file of the same name."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RunError(f"{folder} is a file, not a folder: choose another --out")
    if not folder.exists() or not any(folder.iterdir()):
        return
    if RunFolder(folder).exists() or _is_evaluation(folder):
        return
    if not force:
        raise RunError(
            f"{folder} is not empty and holds no classicfy run: choose an empty --out, or pass --force to "
            "write beside its files"
        )
    taken = [name for name in outputs if (folder / name).exists()]
    if taken:
        raise RunError(f"{folder / taken[0]} was not written by classicfy and is not overwritten: move it first")


class RunFolder:
    """A run folder at `path`: where each of its files lives, and how each is read and written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.toml")
    labels_path = property(lambda self: self.path / "labels.json")
    split_path = property(lambda self: self.path / "split.csv")
    dataset_path = property(lambda self: self.path / "dataset.json")
    metrics_path = property(lambda self: self.path / "metrics.json")
    models_dir = property(lambda self: self.path / "models")
    ensemble_path = property(lambda self: self.models_dir / "ensemble.json")
    baseline_path = property(lambda self: self.models_dir / "baseline.json")

    def weights_path(self, name: str) -> Path:
        return self._model_file("models", name, ".safetensors")

    def card_path(self, name: str) -> Path:
        return self._model_file("models", name, ".json")

    def checkpoint_path(self, name: str) -> Path:
        return self._model_file("checkpoints", name, ".safetensors")

    def history_path(self, name: str) -> Path:
        return self._model_file("history", name, ".csv")

    def _model_file(self, folder: str, name: str, suffix: str) -> Path:
        """A model's file, inside the run whatever the name says: a name from a crafted run is refused."""
        if not MODEL_NAME.fullmatch(name):
            raise RunError(f"{self.path}: {name!r} is not a model name (lower-case letters, digits and dashes)")
        return self.path / folder / f"{name}{suffix}"

    def exists(self) -> bool:
        return self.config_path.exists()

    def read_config(self) -> RunConfig:
        """The configuration the run was trained with; a missing or damaged run folder is a `RunError`."""
        missing = [name for name in RUN_FILES if not (self.path / name).is_file()]
        if missing:
            raise RunError(f"not a complete classicfy run ({', '.join(missing)} missing): {self.path}")
        try:
            return RunConfig.from_toml(self.config_path.read_text())
        except (ValueError, TypeError, KeyError) as error:  # TOMLDecodeError is a ValueError
            raise RunError(f"{self.config_path} cannot be read: {error}") from None

    def write_config(self, config: RunConfig) -> None:
        atomic.write_text(self.config_path, config.to_toml())

    def read_labels(self) -> list[str]:
        labels: Any = read_run_file(self.labels_path)
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise RunError(f"{self.labels_path} is damaged: not a list of label names")
        return labels

    def write_labels(self, labels: list[str]) -> None:
        atomic.write_text(self.labels_path, json.dumps(labels, indent=2))

    def read_split(self, labels: list[str] | None = None) -> list[Recording]:
        """The run's split; with `labels`, every row's label must be one of them."""
        split = read_run_file(self.split_path, _read_split)
        strangers = sorted({r.label for r in split} - set(labels)) if labels is not None else []
        if strangers:
            raise RunError(f"{self.split_path} is damaged: label {strangers[0]!r} is not in {self.labels_path.name}")
        return split

    def write_split(self, recordings: list[Recording]) -> None:
        """The run's split; the `val_draws` column (draw numbers, space-separated) only when validation
        rotates, the `rendition_of` column only when the dataset has renditions."""
        rotated = any(r.val_draws for r in recordings)
        renditions = any(r.rendition_of for r in recordings)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        optional = [*(["val_draws"] if rotated else []), *(["rendition_of"] if renditions else [])]
        writer.writerow(["path", "label", "group", "split", *optional])
        for r in recordings:
            draws = [" ".join(map(str, r.val_draws))] if rotated else []
            of = [str(r.rendition_of or "")] if renditions else []
            writer.writerow([str(r.path), r.label, r.group, r.split, *draws, *of])
        atomic.write_text(self.split_path, buffer.getvalue())

    def read_dataset_summary(self) -> dict[str, Any]:
        return read_run_file(self.dataset_path) if self.dataset_path.exists() else {}

    def read_test_metrics(self) -> dict[str, Any]:
        """Each model's metrics on the run's test works, per level (`metrics.json`); none before the
        run is evaluated or when it has no test side."""
        return self.read_json(self.metrics_path).get("models", {}) if self.metrics_path.exists() else {}

    def write_dataset_summary(self, summary: dict[str, Any]) -> None:
        atomic.write_text(self.dataset_path, json.dumps(summary, indent=2))

    def trained_model_names(self) -> list[str]:
        """Names of the deep models the run holds, in training order (as in config.toml)."""
        return [name for name in self.read_config().models if self.weights_path(name).is_file()]

    def read_card(self, name: str) -> ModelCard:
        if not self.card_path(name).is_file():
            raise RunError(f"{self.path} has no trained model {name!r}: {self.card_path(name).name} is missing")
        return ModelCard.read(self.card_path(name))

    def write_model(self, name: str, weights: dict[str, torch.Tensor], card: ModelCard | None) -> None:
        """The weights, then the card that rebuilds them and names their SHA-256 (none for a bare
        trainer's model)."""
        digest = save_tensors(self.weights_path(name), weights)
        if card is not None:
            atomic.write_text(self.card_path(name), replace(card, weights_sha256=digest).to_json())

    def read_json(self, path: str | Path) -> dict[str, Any]:
        """A JSON object of the run (ensemble, baseline); a `RunError` when missing, damaged or not an object."""
        path = Path(path)
        values: Any = read_run_file(path)
        if not isinstance(values, dict):
            raise RunError(f"{path} is damaged: not a JSON object")
        return values

    def write_json(self, path: str | Path, values: dict[str, Any], indent: int | None = 2) -> None:
        atomic.write_text(Path(path), json.dumps(values, indent=indent))

    def read_histories(self, names: list[str]) -> dict[str, list[dict[str, str]]]:
        """Each model's training history (one row per epoch), for those that have one."""
        return {
            name: read_run_file(self.history_path(name), _read_csv_rows)
            for name in names
            if self.history_path(name).exists()
        }


def _read_csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _read_split(path: Path) -> list[Recording]:
    """The run's split, every row checked: a damaged split.csv is an error, never a silent subset."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"path", "label", "group", "split"} - set(reader.fieldnames or ())
        if missing:
            raise RunError(f"{path} is damaged: no {', '.join(sorted(missing))} column")
        recordings = [_split_row(path, line, row) for line, row in enumerate(reader, start=2)]
    if not recordings:
        raise RunError(f"{path} is damaged: it lists no recording")
    return recordings


def _split_row(path: Path, line: int, row: dict[str, Any]) -> Recording:
    if not all(isinstance(row.get(key), str) and row[key] for key in ("path", "label", "group")):
        raise RunError(f"{path}:{line} is damaged: a row needs a path, a label and a group")
    if row["split"] not in SPLITS:
        raise RunError(f"{path}:{line} is damaged: split {row['split']!r} is not one of {', '.join(SPLITS)}")
    try:
        draws = tuple(int(draw) for draw in (row.get("val_draws") or "").split())
    except ValueError:
        raise RunError(f"{path}:{line} is damaged: val_draws {row.get('val_draws')!r} are not numbers") from None
    of = row.get("rendition_of")
    return Recording(Path(row["path"]), row["label"], row["group"], row["split"], draws, Path(of) if of else None)
