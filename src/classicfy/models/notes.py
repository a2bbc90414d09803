"""Models that read notes: note and onset activations of the 88 piano keys, (batch, 2, 88, frames).

`NotesCNN` convolves along pitch and time and pools its strongest responses over both: a transposed
passage moves its activations along pitch rather than changing them, so intervals and chords, not
keys, are what it learns. `NotesGRU` reads the frames in order, keys and all.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from classicfy.models.base import ClassifierModel
from classicfy.models.layers import bidirectional_gru, conv_block


@dataclass(frozen=True)
class NotesCNNConfig:
    channels: tuple[int, ...] = (16, 32, 64)
    interval_span: int = 13  # keys the first convolution spans: an octave and its both ends
    # Frames (11.6 ms each) pooled by their maximum before the first convolution: 93 ms steps still
    # part sixteenths at 120 bpm, at a fifth of the cost of 46 ms steps with twice the channels.
    time_pool: int = 8
    dropout: float = 0.3


class NotesCNN(ClassifierModel):
    """2-D convolutions over (pitch, time) of note and onset activations, max-pooled over both at the end."""

    input_kind = "notes"
    cpu_windows_per_pass = 4
    prefers_bf16 = True
    Config = NotesCNNConfig

    def __init__(self, input_shape: tuple[int, ...], n_classes: int, config: NotesCNNConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or NotesCNNConfig()
        channels = input_shape[0]
        self.pool_time = nn.MaxPool2d((1, config.time_pool)) if config.time_pool > 1 else nn.Identity()
        first = config.channels[0]
        self.intervals = nn.Sequential(
            nn.Conv2d(channels, first, (config.interval_span, 3), padding=(config.interval_span // 2, 1), bias=False),
            nn.BatchNorm2d(first),
            nn.ReLU(inplace=True),
        )
        blocks: list[nn.Module] = []
        previous = first
        for width in config.channels[1:]:
            blocks += [conv_block(previous, width), nn.MaxPool2d((1, 2))]  # time only: pitch stays equivariant
            previous = width
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(previous, n_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.intervals(self.pool_time(x))).amax(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


@dataclass(frozen=True)
class NotesGRUConfig:
    hidden: int = 64
    layers: int = 2
    time_pool: int = 8  # frames pooled by their maximum into one step: 93 ms
    dropout: float = 0.3


class NotesGRU(ClassifierModel):
    """A bidirectional GRU over frames of the 2 x 88 activations; mean and max of its states feed the head."""

    input_kind = "notes"
    Config = NotesGRUConfig

    def __init__(self, input_shape: tuple[int, ...], n_classes: int, config: NotesGRUConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or NotesGRUConfig()
        features = input_shape[0] * input_shape[1]
        self.pool_time = nn.MaxPool1d(config.time_pool) if config.time_pool > 1 else nn.Identity()
        # Activations are mostly zero and never standardised: a layer norm gives the GRU steps of one scale.
        self.project = nn.Sequential(
            nn.Linear(features, config.hidden), nn.LayerNorm(config.hidden), nn.ReLU(inplace=True)
        )
        self.gru = bidirectional_gru(config.hidden, config.layers, config.dropout)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(4 * config.hidden, n_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        frames = self.pool_time(x.flatten(1, 2)).transpose(1, 2)  # (batch, steps, 2 * 88)
        states, _ = self.gru(self.project(frames))
        return torch.cat([states.mean(dim=1), states.amax(dim=1)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))
