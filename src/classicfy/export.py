"""ONNX export of a run's neural models (`classicfy export`), checked against PyTorch on the spot.

Each model becomes `NAME.onnx` (input `features`, batch dimension free; output `probabilities`,
the softmax over the run's labels) with `NAME.json` beside it: the labels, the input kind and
shape, and the feature config that makes the input. Feature extraction stays in Python
(`classicfy.features.spectral`): the STFT, mel and chroma steps do not export cleanly to ONNX.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from classicfy import atomic
from classicfy.errors import ClassicfyError, RunError
from classicfy.evaluation.ensemble import EnsembleModel
from classicfy.features.spectral import extractor_for
from classicfy.models.trained import TrainedModel, load_model
from classicfy.rundir import RunFolder

TOLERANCE = 1e-4  # largest accepted difference between onnxruntime's and PyTorch's probabilities
CHECK_BATCH = 3


@dataclass(frozen=True)
class ExportedModel:
    name: str
    path: Path
    max_difference: float  # onnxruntime against PyTorch, on a random batch


class _Probabilities(nn.Module):
    """The model and its softmax: ONNX users get probabilities, as `classicfy predict` reports."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(features), dim=1)


def _require_onnx() -> None:
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise ClassicfyError(
            "ONNX export needs onnx, onnxscript and onnxruntime: pip install -c constraints.txt -e '.[export]'"
        ) from None


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter reports its steps on stdout and logs and warns about its internals: keep the
    CLI's output to what the user asked for (failures still show the exporter's log)."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def export_run(run_dir: str | Path, out_dir: str | Path) -> list[ExportedModel]:
    """Export every trained neural model of a run to `out_dir`; fails if one disagrees with PyTorch."""
    _require_onnx()
    run, out_dir = RunFolder(run_dir), Path(out_dir)
    names = run.trained_model_names()
    if not names:
        raise RunError(f"{run.path} holds no trained model to export")
    labels = run.read_labels()
    out_dir.mkdir(parents=True, exist_ok=True)
    exported = [export_model(load_model(run.path, name), out_dir) for name in names]
    if run.ensemble_path.is_file():
        EnsembleModel.from_dict(run.read_json(run.ensemble_path), run.ensemble_path)  # a damaged file is refused
        atomic.write_bytes(out_dir / "ensemble.json", run.ensemble_path.read_bytes())
    if labels:
        atomic.write_bytes(out_dir / "labels.json", run.labels_path.read_bytes())
    return exported


def onnx_inputs(sidecar_path: str | Path, audio_path: str | Path) -> np.ndarray:
    """The `features` input an exported model takes for a recording: one row per window.

    The same decoding, windowing and features as training and `classicfy predict`.
    """
    from classicfy.config import feature_config_from
    from classicfy.features.audio import load_recording
    from classicfy.features.inputs import FeatureWindows, iter_batches

    sidecar = json.loads(Path(sidecar_path).read_text())
    config = feature_config_from(sidecar["features"], sidecar["input"]["kind"])
    audio = load_recording(audio_path, config.audio)
    arrays = extractor_for(config).arrays(audio.windows)
    windows = FeatureWindows(arrays, audio.starts_s, sidecar["input"]["kind"])
    return np.concatenate(list(iter_batches(windows, 64)))


def export_model(trained: TrainedModel, out_dir: str | Path) -> ExportedModel:
    """`NAME.onnx` and `NAME.json` for one model, written atomically once the check has passed."""
    out_dir = Path(out_dir)
    import onnxruntime

    card = trained.card
    input_shape = card.input_shape
    wrapper = _Probabilities(trained.module).eval()
    example = torch.from_numpy(np.random.default_rng(0).standard_normal((CHECK_BATCH, *input_shape), np.float32))
    batch = torch.export.Dim("batch", min=1)
    log = io.StringIO()
    with _quiet_exporter(), contextlib.redirect_stdout(log):
        try:
            program = torch.onnx.export(
                wrapper,
                (example,),
                dynamo=True,
                input_names=["features"],
                output_names=["probabilities"],
                dynamic_shapes=({0: batch},),
                external_data=False,
            )
        except Exception as error:
            raise RunError(f"model {trained.name!r} could not be exported to ONNX: {error}\n{log.getvalue()}") from None
    assert program is not None, "the dynamo exporter returns its program"
    model_bytes = program.model_proto.SerializeToString()

    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    check = example[:2]  # another batch size than the export's example: the batch dimension is free
    with torch.no_grad():
        expected = wrapper(check).numpy()
    try:
        actual = session.run(None, {"features": check.numpy()})[0]
    except Exception as error:  # onnxruntime raises its own kinds
        raise RunError(f"the ONNX export of {trained.name!r} cannot be run: {str(error).splitlines()[0]}") from None
    difference = float(np.max(np.abs(actual - expected)))
    if not difference <= TOLERANCE:
        raise RunError(f"ONNX export of {trained.name!r} differs from PyTorch by {difference:.2g} (> {TOLERANCE})")

    path = out_dir / f"{trained.name}.onnx"
    atomic.write_bytes(path, model_bytes)
    whole = trained.module.answers_recordings
    sidecar = {
        "model": trained.name,
        "family": card.family,
        "labels": card.labels,
        # A recording model takes all of one recording's windows and answers once.
        "answers": "recording" if whole else "window",
        "input": {
            "name": "features",
            "shape": ["windows" if whole else "batch", *input_shape],
            "kind": trained.input_kind,
        },
        "output": {"name": "probabilities", "shape": [1 if whole else "batch", len(card.labels)]},
        "features": card.features,
        "max_difference_vs_pytorch": difference,
    }
    atomic.write_text(path.with_suffix(".json"), json.dumps(sidecar, indent=2))
    return ExportedModel(trained.name, path, difference)
