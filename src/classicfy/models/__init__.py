"""Model families, registered by name; each takes its input shape and class count from the data."""

from __future__ import annotations

from classicfy.models.cnn import CNNModel
from classicfy.models.gru import GRUModel
from classicfy.models.vgg import VGGModel

MODELS = {"cnn": CNNModel, "gru": GRUModel, "vgg": VGGModel}

__all__ = ["MODELS", "CNNModel", "GRUModel", "VGGModel"]
