"""`CNNModel`: 2-D convolutions over log-mel windows, batch norm, global pooling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from classicfy.models.base import StandardizedModel
from classicfy.models.layers import Standardize, conv_block

POOLINGS = ("max", "mean_max")


@dataclass(frozen=True)
class CNNConfig:
    channels: tuple[int, ...] = (16, 32, 64, 128)
    time_pool: int = 2  # frames averaged before the first convolution: 10 s windows need no finer grain
    dropout: float = 0.3
    # How the last feature maps become one vector: "max", the strongest response of each channel
    # anywhere in the window, or "mean_max", that and the channel's average. The average also
    # carries how much of a window a pattern fills; "max" won under cross-validation
    # (docs/experiments.md#cross-validated).
    pooling: str = "max"

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")


class CNNModel(StandardizedModel):
    """Input (batch, 1, n_mels, frames) log-mel; output class logits."""

    input_kind = "mel"
    cpu_windows_per_pass = 4
    prefers_bf16 = True
    Config = CNNConfig
    # Model files written before `pooling` existed pooled by mean and max.
    config_before_key: ClassVar[dict[str, str]] = {"pooling": "mean_max"}

    def __init__(self, input_shape: tuple[int, ...], n_classes: int, config: CNNConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or CNNConfig()
        n_mels = input_shape[1]
        self.standardize = Standardize(n_mels, axis=2)
        self.pool_time = nn.AvgPool2d((1, config.time_pool)) if config.time_pool > 1 else nn.Identity()
        blocks, previous = [], 1
        for channels in config.channels:
            blocks += [conv_block(previous, channels), nn.MaxPool2d(2)]
            previous = channels
        self.features = nn.Sequential(*blocks)
        pooled = 2 * previous if config.pooling == "mean_max" else previous
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(pooled, n_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.pool_time(self.standardize(x)))
        if self.config.pooling == "max":
            return x.amax(dim=(2, 3))
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))
