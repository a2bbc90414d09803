"""Training curves in TensorBoard (`--tensorboard`): per epoch the losses, accuracies and macro-F1 of
training and validation, the learning rate, the speed, and the validation confusion matrix, in
`RUN/tb/MODEL` (one TensorBoard run per model). The CSV history is written either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from classicfy.errors import ClassicfyError
from classicfy.rundir import TB_FOLDER

SCALARS = {"loss": "loss", "accuracy": "accuracy", "macro_f1": "macro-F1"}


def require_tensorboard() -> Any:
    """torch's SummaryWriter, or one line on how to install what it needs."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ClassicfyError("--tensorboard needs TensorBoard: pip install 'classicfy[tensorboard]'") from None
    return SummaryWriter


class TensorBoardCurves:
    """One model's event file; a resumed model's events after its checkpoint are dropped (`purge_step`)."""

    def __init__(self, run_dir: str | Path, model: str, labels: list[str], epochs_done: int) -> None:
        writer_type = require_tensorboard()
        self.folder = Path(run_dir) / TB_FOLDER / model
        self.labels = labels
        self.writer = writer_type(str(self.folder), purge_step=epochs_done + 1 if epochs_done else None)

    def epoch(self, row: dict[str, float], val_labels: np.ndarray, val_predictions: np.ndarray) -> None:
        """Log one epoch's row of the history and its validation confusion matrix."""
        from sklearn.metrics import confusion_matrix

        from classicfy.evaluation.plots import confusion_figure

        step = int(row["epoch"])
        for key, name in SCALARS.items():
            for side in ("train", "val"):
                self.writer.add_scalar(f"{name}/{side}", row[f"{side}_{key}"], step)
        self.writer.add_scalar("learning rate", row["lr"], step)
        self.writer.add_scalar("windows per second", row["windows_per_s"], step)
        matrix = confusion_matrix(val_labels, val_predictions, labels=range(len(self.labels))).tolist()
        figure = confusion_figure(matrix, self.labels, f"validation windows, epoch {step}")
        self.writer.add_figure("confusion matrix/val", figure, step)  # closes the figure
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
