"""`VGGModel`: VGG-style stacks of 3x3 convolutions over log-mel windows, trained from scratch."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from classicfy.models.base import StandardizedModel
from classicfy.models.layers import Standardize, conv_block


@dataclass(frozen=True)
class VGGConfig:
    blocks: tuple[tuple[int, ...], ...] = ((16, 16), (32, 32), (64, 64), (128, 128))
    time_pool: int = 2
    hidden: int = 128
    dropout: float = 0.4


class VGGModel(StandardizedModel):
    """Input (batch, 1, n_mels, frames) log-mel; blocks of two convolutions then pooling, as in VGG."""

    input_kind = "mel"
    cpu_windows_per_pass = 4
    prefers_bf16 = True
    Config = VGGConfig

    def __init__(self, input_shape: tuple[int, ...], n_classes: int, config: VGGConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or VGGConfig()
        self.standardize = Standardize(input_shape[1], axis=2)
        self.pool_time = nn.AvgPool2d((1, config.time_pool)) if config.time_pool > 1 else nn.Identity()
        layers: list[nn.Module] = []
        previous = 1
        for block in config.blocks:
            for channels in block:
                layers.append(conv_block(previous, channels))
                previous = channels
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(previous, config.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, n_classes),
        )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.pool_time(self.standardize(x))).amax(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))
