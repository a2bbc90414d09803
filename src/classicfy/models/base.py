"""`ClassifierModel`: what every model family declares, with defaults, so no caller probes a model.

A family is an `nn.Module` that takes `(input_shape, n_classes, config)` and maps a batch of one
input kind (`classicfy.config.INPUT_KINDS`) to class logits.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from classicfy.devices import device_of, in_passes, to_device
from classicfy.features.inputs import ModelInputs, iter_batches


class ClassifierModel(nn.Module):
    """The model interface. Defaults fit a model trained end to end from raw features."""

    input_kind: ClassVar[str]
    Config: ClassVar[type]
    # Its convolutions train about twice as fast under bfloat16 autocast, on CPUs that have it natively.
    prefers_bf16: ClassVar[bool] = False
    # Windows scored per pass on a CPU: a convolutional model's activations stay in the cache only a
    # few windows at a time; a recurrent one runs fastest on the whole batch (bench/scale.py).
    cpu_windows_per_pass: ClassVar[int] = 64
    # It standardises each input channel by statistics of its training windows (`set_input_statistics`).
    standardizes_inputs: ClassVar[bool] = False
    # It answers whole recordings only (a `RecordingProbe`); each window carries its recording's answer.
    answers_recordings: ClassVar[bool] = False
    # Config values that model files written before a key existed meant (a newer key's old behaviour).
    config_before_key: ClassVar[dict[str, Any]] = {}
    config: Any

    @classmethod
    def config_for(cls, finetune: bool) -> Any:
        """The config a run builds this family with (None: the family's defaults); `finetune` asks for
        a pretrained part to train too."""
        return None

    @property
    def frozen(self) -> bool:
        """Whether a pretrained part stays fixed: training then reads its embeddings, computed once."""
        return False

    def parameter_groups(self, learning_rate: float) -> list[dict[str, Any]]:
        """The optimizer's parameter groups: how fast each part learns."""
        return [{"params": list(self.parameters()), "lr": learning_rate}]

    def set_input_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not standardise its inputs")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """A batch of inputs to the features the last layers classify (what `classicfy embed` writes)."""
        raise NotImplementedError(f"{type(self).__name__} does not say what its embedding is")

    @torch.no_grad()
    def embeddings(self, inputs: ModelInputs, indices: np.ndarray | None = None, batch_size: int = 32) -> np.ndarray:
        """`embed` of every window of a set (or of those at `indices`), in order: what a frozen
        backbone gives its head, what a recording model describes, what `classicfy embed` writes."""
        self.eval()
        device = device_of(self)
        batches = (to_device(batch, device) for batch in iter_batches(inputs, batch_size, indices))
        return torch.cat([in_passes(self.embed, b, self.cpu_windows_per_pass).float().cpu() for b in batches]).numpy()


class StandardizedModel(ClassifierModel):
    """A model whose first layer is a `Standardize` named `standardize`."""

    standardizes_inputs = True
    standardize: nn.Module

    def set_input_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.standardize.set_statistics(mean, std)  # type: ignore[operator]
