"""`GRUModel`: a bidirectional GRU over the frame sequence of log-mel + chroma.

The mel bands rather than MFCCs: on the built-in corpus the GRU on MFCC + chroma scored no better
than the baseline's statistics of the same features (docs/experiments.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from classicfy.models.base import StandardizedModel
from classicfy.models.layers import Standardize, bidirectional_gru


@dataclass(frozen=True)
class GRUConfig:
    hidden: int = 64
    layers: int = 2
    time_pool: int = 4  # frames averaged into one step: 431 frames become 107 steps of 93 ms
    dropout: float = 0.3


class GRUModel(StandardizedModel):
    """Input (batch, frames, n_mels + n_chroma); mean and max of the GRU states feed the classifier."""

    input_kind = "mel_chroma"
    Config = GRUConfig

    def __init__(self, input_shape: tuple[int, ...], n_classes: int, config: GRUConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GRUConfig()
        n_features = input_shape[1]
        self.standardize = Standardize(n_features, axis=2)
        self.pool_time = nn.AvgPool1d(config.time_pool) if config.time_pool > 1 else nn.Identity()
        self.project = nn.Sequential(nn.Linear(n_features, config.hidden), nn.ReLU(inplace=True))
        self.gru = bidirectional_gru(config.hidden, config.layers, config.dropout)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(4 * config.hidden, n_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool_time(self.standardize(x).transpose(1, 2)).transpose(1, 2)
        states, _ = self.gru(self.project(x))
        return torch.cat([states.mean(dim=1), states.amax(dim=1)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))
