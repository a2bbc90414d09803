"""The training loop: balanced batches, online augmentation, weight averaging, early stopping,
checkpoints, resume.

Every epoch draws its order and its augmentation from generators seeded by (seed, epoch), and a
checkpoint is written atomically after every epoch, so a run killed at any moment and resumed
ends with the same weights as a run never interrupted.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from classicfy import atomic
from classicfy.config import TrainConfig
from classicfy.devices import to_device, training_precision
from classicfy.errors import DivergedError, RunError
from classicfy.evaluation.metrics import macro_f1
from classicfy.features.inputs import LabelledInputs
from classicfy.models.base import ClassifierModel
from classicfy.models.trained import predict_logits
from classicfy.rundir import ModelCard, RunFolder, load_tensors, save_tensors
from classicfy.training import distributed
from classicfy.training.balance import DataBalancer
from classicfy.training.batch_augment import mixup, spec_augment
from classicfy.training.checkpoint import optimizer_tensors, restore_optimizer
from classicfy.training.curves import TensorBoardCurves

log = logging.getLogger(__name__)
HISTORY_COLUMNS = (
    "epoch",
    "lr",
    "train_loss",
    "train_accuracy",
    "train_macro_f1",
    "val_loss",
    "val_accuracy",
    "val_macro_f1",
    "windows_per_s",
    "seconds",
)


@dataclass
class TrainState:
    """Everything besides tensors needed to continue a run where it stopped."""

    epoch: int = 0  # epochs completed
    best_score: float = -1.0
    best_epoch: int = -1
    epochs_without_improvement: int = 0
    history: list[dict] = field(default_factory=list)
    stopped_early: bool = False


@dataclass
class EpochResult:
    """What one training pass saw: the learning rate it ran at, each batch's loss, predictions and targets."""

    lr: float
    losses: list[float] = field(default_factory=list)
    predictions: list[np.ndarray] = field(default_factory=list)
    targets: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, loss: float, predictions: np.ndarray, targets: np.ndarray) -> None:
        self.losses.append(loss)
        self.predictions.append(predictions)
        self.targets.append(targets)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Trains one model on a training set, scoring each epoch on a validation set.

    Writes `checkpoints/NAME.safetensors` every epoch, `models/NAME.safetensors` (with its model card
    beside it, when given one) whenever validation macro-F1 improves (with `keep="last"`, after every epoch), and
    `history/NAME.csv`. With `ema_epochs`, what is scored and saved is the moving average of the
    weights (and of the batch-norm statistics), not the weights the optimizer last left.
    """

    def __init__(
        self,
        name: str,
        model: ClassifierModel,
        config: TrainConfig,
        run: RunFolder | str | Path,
        card: ModelCard | None,
        n_classes: int,
        device: torch.device | None = None,
    ) -> None:
        self.device = device or torch.device("cpu")
        self.name, self.model, self.config = name, model.to(self.device), config
        self.run = run if isinstance(run, RunFolder) else RunFolder(run)
        self.card, self.n_classes = card, n_classes
        self.optimizer = torch.optim.AdamW(
            model.parameter_groups(config.learning_rate), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=config.epochs)
        self.precision = training_precision(config.precision, self.device, model.prefers_bf16)
        self.scaler = self.precision.grad_scaler()
        self.state = TrainState()
        self.ranks = distributed.ranks()
        self.network: nn.Module = self.model  # what trains: the model, or its DistributedDataParallel wrapper
        self.average: AveragedModel | None = None  # made in `fit`, once the epoch's length is known
        self.curves: TensorBoardCurves | None = None  # opened in `fit`, with `tensorboard`, by the leader
        self._resumed_average: dict[str, torch.Tensor] = {}

    @property
    def checkpoint_path(self) -> Path:
        return self.run.checkpoint_path(self.name)

    @property
    def finished(self) -> bool:
        """Whether training has nothing left to do: the epoch budget is spent or patience ran out."""
        return self.state.epoch >= self.config.epochs or self.state.stopped_early

    @property
    def scored(self) -> nn.Module:
        """The model that is validated and saved: the weight average when there is one."""
        return self.average.module if self.average is not None else self.model

    def _start_average(self, balancer: DataBalancer) -> None:
        """An exponential moving average with a horizon of `ema_epochs` epochs, over weights and buffers."""
        if not self.config.ema_epochs:
            return
        steps_per_epoch = max(1, len(balancer.epoch_indices(np.random.default_rng(0))) // self.config.batch_size)
        decay = 1.0 - 1.0 / max(1.0, self.config.ema_epochs * steps_per_epoch)
        self.average = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        if self._resumed_average:
            self.average.load_state_dict(self._resumed_average)

    def resume(self) -> bool:
        """Continue from the last checkpoint, if there is one; a damaged or foreign one is a `RunError`."""
        if not self.checkpoint_path.exists():
            return False
        try:
            tensors, saved = load_tensors(self.checkpoint_path)
            saved = cast(dict[str, Any], saved)  # None, from a file with no state, fails below as a TypeError
            self.model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
            self._resumed_average = {k[len("average.") :]: v for k, v in tensors.items() if k.startswith("average.")}
            restore_optimizer(self.optimizer, tensors, saved["optimizer"])
            self.scheduler.load_state_dict(saved["scheduler"])
            if saved.get("scaler"):
                self.scaler.load_state_dict(saved["scaler"])
            self.state = TrainState(**saved["train"])
        except Exception as error:  # safetensors, torch and JSON each raise their own kinds
            raise RunError(
                f"{self.checkpoint_path} is damaged or from another model ({type(error).__name__}): "
                "delete it to train that model afresh"
            ) from None
        return True

    def _save_checkpoint(self) -> None:
        opt_tensors, opt_state = optimizer_tensors(self.optimizer)
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()} | opt_tensors
        if self.average is not None:
            tensors |= {f"average.{k}": v for k, v in self.average.state_dict().items()}
        state = {
            "optimizer": opt_state,
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "train": self.state.__dict__,
        }
        save_tensors(self.checkpoint_path, tensors, state)

    def _save_model(self) -> None:
        summary = {
            "kept": self.config.keep,
            "epoch": self.state.epoch,
            "best_epoch": self.state.best_epoch,
            "val_macro_f1": self.state.history[-1]["val_macro_f1"],
            "precision": self.precision.name,
            "ema_epochs": self.config.ema_epochs,
        }
        card = replace(self.card, training=summary) if self.card is not None else None
        self.run.write_model(self.name, self.scored.state_dict(), card)

    def _write_history(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.state.history)
        atomic.write_text(self.run.history_path(self.name), buffer.getvalue())

    def fit(
        self, train: LabelledInputs, val: LabelledInputs, progress: bool = True, stop_after: int | None = None
    ) -> TrainState:
        """Train until the epoch budget or early stopping; `stop_after` ends after that many epochs
        (as a kill would), for testing resume."""
        config = self.config
        balancer = DataBalancer(config.balance, config.max_windows_per_class).fit(
            train.labels, self.n_classes, train.augmented if config.balance_copies else None
        )
        weights = balancer.loss_weights()
        loss_weights = to_device(torch.from_numpy(weights), self.device) if weights is not None else None
        self._start_average(balancer)
        self._wrap_for_ranks()
        if config.tensorboard and self.ranks.leader:
            labels = self.card.labels if self.card else [str(i) for i in range(self.n_classes)]
            self.curves = TensorBoardCurves(self.run.path, self.name, labels, self.state.epoch)
        try:
            self._fit_epochs(train, val, balancer, loss_weights, progress, stop_after)
        finally:
            if self.curves is not None:
                self.curves.close()
        return self.state

    def _fit_epochs(
        self,
        train: LabelledInputs,
        val: LabelledInputs,
        balancer: DataBalancer,
        loss_weights: torch.Tensor | None,
        progress: bool,
        stop_after: int | None,
    ) -> None:
        while not self.finished:
            start = time.perf_counter()
            epoch = self._gathered(self._train_epoch(train, balancer, loss_weights, progress and self.ranks.leader))
            epoch.seconds = time.perf_counter() - start
            val_loss, val_predictions = distributed.from_leader(self._validate(val) if self.ranks.leader else None)
            self._end_epoch(epoch, val_loss, val_predictions, val.labels, time.perf_counter() - start)
            if stop_after is not None and self.state.epoch >= stop_after:
                break

    def _wrap_for_ranks(self) -> None:
        """Under several ranks, train through DistributedDataParallel: it starts every rank from the
        leader's weights and averages the gradients of each step."""
        if self.ranks.distributed and self.network is self.model:
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [self.device] if self.device.type == "cuda" else None
            self.network = DistributedDataParallel(self.model, device_ids=device_ids)

    def _gathered(self, epoch: EpochResult) -> EpochResult:
        """Every rank's losses, predictions and targets of an epoch, so each reports the whole epoch."""
        if not self.ranks.distributed:
            return epoch
        losses = distributed.gathered([np.asarray(epoch.losses, dtype=np.float64)])
        epoch.losses = [float(loss) for part in losses for loss in part]
        epoch.predictions = distributed.gathered(epoch.predictions)
        epoch.targets = distributed.gathered(epoch.targets)
        return epoch

    def _train_epoch(
        self, train: LabelledInputs, balancer: DataBalancer, loss_weights: torch.Tensor | None, progress: bool
    ) -> EpochResult:
        """One pass over a balanced draw of the training windows, seeded by (seed, epoch)."""
        from tqdm import tqdm

        config, number = self.config, self.state.epoch
        seed = config.seed * 100_003 + number
        own_seed = seed + self.ranks.rank * 1_000_003  # each rank its own dropout and masks
        torch.manual_seed(own_seed)
        generator = torch.Generator().manual_seed(own_seed)
        order = balancer.epoch_indices(np.random.default_rng(seed))
        self.model.train()
        result = EpochResult(lr=self.optimizer.param_groups[0]["lr"])
        batches = range(0, len(order), config.batch_size)
        description = f"{self.name} epoch {number + 1}/{config.epochs}"
        bar = tqdm(batches, desc=description, unit="batch", disable=not progress, leave=False)
        for begin in bar:
            batch = order[begin : begin + config.batch_size]
            if len(batch) < 2 * self.ranks.world:
                continue  # batch norm needs two examples on every rank
            indices = self.ranks.shard(batch)
            labels = train.labels[indices]
            inputs = torch.from_numpy(train.inputs(indices))
            if config.spec_augment and train.kind == "mel":
                spec_augment(inputs, generator)  # on the CPU, where the generator draws
            inputs, targets = to_device(inputs, self.device), to_device(labels, self.device)
            logits, loss = self._step(inputs, targets, generator, loss_weights)
            result.add(loss, logits.argmax(1).cpu().numpy(), labels)
            bar.set_postfix(loss=f"{np.mean(result.losses):.3f}")
        self.scheduler.step()
        return result

    def _step(
        self, inputs: torch.Tensor, labels: torch.Tensor, generator: torch.Generator, loss_weights: torch.Tensor | None
    ) -> tuple[torch.Tensor, float]:
        """Mix up one batch, take one optimizer step, update the weight average; the logits and loss."""
        soft = nn.functional.one_hot(labels, self.n_classes).float()
        inputs, soft = mixup(inputs, soft, self.config.mixup, generator)
        with self.precision.autocast():
            logits = self.network(inputs)
        loss = soft_cross_entropy(logits.float(), soft, loss_weights)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.average is not None:
            self.average.update_parameters(self.model)
        return logits, loss.item()

    def _validate(self, val: LabelledInputs) -> tuple[float, np.ndarray]:
        val_logits = predict_logits(self.scored, val)
        val_loss = float(nn.functional.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(val.labels)))
        return val_loss, val_logits.argmax(1)

    def _check_finite(self, train_loss: float, val_loss: float) -> None:
        """Stop a diverged model before anything of its epoch is kept (a NaN would otherwise count as
        an epoch, and be saved as the best when nothing better came before it)."""
        if not (np.isfinite(train_loss) and np.isfinite(val_loss)):
            raise DivergedError(
                f"{self.name} diverged in epoch {self.state.epoch + 1} (training loss {train_loss}, validation "
                f"loss {val_loss}); {_kept_weights(self.state)}: lower --lr and train again"
            )

    def _end_epoch(
        self, epoch: EpochResult, val_loss: float, val_predictions: np.ndarray, val_labels: np.ndarray, seconds: float
    ) -> None:
        """Record the epoch, keep the weights if they are the ones to keep, decide on stopping, checkpoint."""
        predictions, targets = np.concatenate(epoch.predictions), np.concatenate(epoch.targets)
        self._check_finite(float(np.mean(epoch.losses)), val_loss)
        row = {
            "epoch": self.state.epoch + 1,
            "lr": epoch.lr,
            "train_loss": float(np.mean(epoch.losses)),
            "train_accuracy": float(np.mean(predictions == targets)),
            "train_macro_f1": macro_f1(targets, predictions, self.n_classes),
            "val_loss": val_loss,
            "val_accuracy": float(np.mean(val_predictions == val_labels)),
            "val_macro_f1": macro_f1(val_labels, val_predictions, self.n_classes),
            "windows_per_s": len(targets) / epoch.seconds,
            "seconds": seconds,
        }
        self.state.history.append(row)
        self.state.epoch += 1
        improved = row["val_macro_f1"] > self.state.best_score
        if improved:
            self.state.best_score, self.state.best_epoch = row["val_macro_f1"], self.state.epoch
            self.state.epochs_without_improvement = 0
        else:
            self.state.epochs_without_improvement += 1
            patience_spent = self.state.epochs_without_improvement >= self.config.patience
            self.state.stopped_early = self.config.keep == "best" and patience_spent
        if not self.ranks.leader:
            return  # the leader alone writes
        if improved or self.config.keep == "last":
            self._save_model()
        self._write_history()
        if self.curves is not None:
            self.curves.epoch(row, val_labels, val_predictions)
        self._save_checkpoint()
        log.info(
            "%s epoch %d/%d: loss %.3f acc %.3f | val loss %.3f acc %.3f macro-F1 %.3f%s (%.0f s)",
            self.name, self.state.epoch, self.config.epochs, row["train_loss"], row["train_accuracy"],
            val_loss, row["val_accuracy"], row["val_macro_f1"], " *" if improved else "", seconds,
        )  # fmt: skip


def _kept_weights(state: TrainState) -> str:
    return f"the weights of epoch {state.best_epoch} are kept" if state.best_epoch > 0 else "no weights were saved"


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, class_weights: torch.Tensor | None) -> torch.Tensor:
    """Cross-entropy against soft (mixed-up) targets, optionally weighted per class."""
    per_class = -targets * torch.log_softmax(logits, dim=1)
    if class_weights is not None:
        per_class = per_class * class_weights
    return per_class.sum(dim=1).mean()
