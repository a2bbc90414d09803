"""Small building blocks shared by the model families."""

from __future__ import annotations

import torch
from torch import nn


class Standardize(nn.Module):
    """Subtract a per-channel mean and divide by a per-channel std learned from training data.

    The statistics are buffers, so they travel with the weights and a loaded model takes raw
    features, exactly as the extractor makes them.
    """

    def __init__(self, channels: int, axis: int) -> None:
        super().__init__()
        self.axis = axis
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std.clamp_min(1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.axis] = -1
        return (x - self.mean.view(shape)) / self.std.view(shape)


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU: the unit of the CNN and VGG families."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def bidirectional_gru(size: int, layers: int, dropout: float) -> nn.GRU:
    """A bidirectional GRU over (batch, steps, size), with dropout between layers (none for one layer)."""
    return nn.GRU(
        size, size, num_layers=layers, batch_first=True, bidirectional=True, dropout=dropout if layers > 1 else 0.0
    )
