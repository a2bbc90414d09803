"""`vgg-probe`: a model that answers whole recordings, not windows.

The frozen `vgg-mtt` backbone embeds each window as `vgg-pretrained`'s does; a recording is then
described by the mean and standard deviation of its windows' embeddings (which textures come and
go over it, what no single window holds), standardised, and a logistic regression names its label.
It is fitted in closed form (`classicfy.training.recording_fit`), not by epochs. Its scaler and
coefficients live in the module, so it is stored, checked and loaded as every model is. A lone
window has no spread: the probe answers recordings only, and each window of a recording carries
the recording's answer (docs/experiments.md measures why it is not asked about single windows).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from classicfy.devices import device_of
from classicfy.models.musicnn import load_pretrained
from classicfy.models.pretrained import BackboneModel, ProbeConfig


class RecordingProbe(BackboneModel):
    """Input: one recording's windows, (windows, patches, 187, 96) or (windows, embedding); output:
    its logits, as a batch of one."""

    Config = ProbeConfig
    config: ProbeConfig
    answers_recordings: ClassVar[bool] = True
    default_backbone = "vgg-mtt"
    center: torch.Tensor  # the scaler's buffers: each described feature's training mean and spread
    scale: torch.Tensor

    def __init__(self, input_shape: tuple[int, ...], n_classes: int, config: ProbeConfig | None = None) -> None:
        super().__init__()
        self.config = config or ProbeConfig(backbone=self.default_backbone)
        self.backbone = load_pretrained(self.config.backbone).requires_grad_(False)
        described = 2 * self.embedding_size
        self.register_buffer("center", torch.zeros(described))
        self.register_buffer("scale", torch.ones(described))
        self.linear = nn.Linear(described, n_classes)

    @classmethod
    def config_for(cls, finetune: bool) -> ProbeConfig:
        return ProbeConfig(backbone=cls.default_backbone)  # its backbone stays frozen: the fit is closed-form

    @property
    def frozen(self) -> bool:
        return True

    @staticmethod
    def describe(embeddings: torch.Tensor) -> torch.Tensor:
        """A recording's description: the mean and the standard deviation of its windows' embeddings."""
        return torch.cat([embeddings.mean(dim=0), embeddings.std(dim=0, correction=0)])

    def classify(self, described: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of recording descriptions."""
        return self.linear((described - self.center) / self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        embeddings = x if x.dim() == 2 else self.embed(x)
        return self.classify(self.describe(embeddings)[None])

    def set_fit(self, center: np.ndarray, scale: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> None:
        """The fitted scaler and logistic regression, as the module's own tensors."""
        targets: list[tuple[torch.Tensor, np.ndarray]] = [
            (self.center, center), (self.scale, scale), (self.linear.weight, weight), (self.linear.bias, bias)
        ]  # fmt: skip
        with torch.no_grad():
            for tensor, value in targets:
                tensor.copy_(torch.as_tensor(np.asarray(value), dtype=tensor.dtype))

    def describe_recordings(self, embeddings: np.ndarray, recording_of: np.ndarray) -> torch.Tensor:
        """Each recording's description (rows in the order of `np.unique(recording_of)`), on the model's device."""
        windows = torch.from_numpy(np.ascontiguousarray(embeddings)).to(device_of(self))
        return torch.stack([self.describe(windows[recording_of == r]) for r in np.unique(recording_of)])

    @torch.no_grad()
    def recording_answers(self, embeddings: np.ndarray, recording_of: np.ndarray) -> np.ndarray:
        """Each window's row: the class probabilities of its recording, from all its windows' embeddings."""
        self.eval()
        described = self.describe_recordings(embeddings, recording_of)
        answers = torch.softmax(self.classify(described).float(), dim=1).cpu().numpy()
        return answers[np.unique(recording_of, return_inverse=True)[1]]


class VGGProbe(RecordingProbe):
    """The probe on musicnn's VGG tagger (MagnaTagATune), the backbone `vgg-pretrained` shares."""

    default_backbone = "vgg-mtt"
