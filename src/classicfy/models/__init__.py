"""Model families, registered by name; each takes its input shape and class count from the data."""

from __future__ import annotations

from classicfy.models.base import ClassifierModel
from classicfy.models.cnn import CNNModel
from classicfy.models.gru import GRUModel
from classicfy.models.notes import NotesCNN, NotesGRU
from classicfy.models.pretrained import MusicnnPretrained, PretrainedClassifier, VGGPretrained
from classicfy.models.probe import RecordingProbe, VGGProbe
from classicfy.models.vgg import VGGModel

MODELS: dict[str, type[ClassifierModel]] = {
    "cnn": CNNModel,
    "gru": GRUModel,
    "vgg": VGGModel,
    "vgg-pretrained": VGGPretrained,
    "musicnn-pretrained": MusicnnPretrained,
    "vgg-probe": VGGProbe,
    "notes-cnn": NotesCNN,
    "notes-gru": NotesGRU,
}

__all__ = [
    "MODELS",
    "CNNModel",
    "ClassifierModel",
    "GRUModel",
    "MusicnnPretrained",
    "NotesCNN",
    "NotesGRU",
    "PretrainedClassifier",
    "RecordingProbe",
    "VGGModel",
    "VGGPretrained",
    "VGGProbe",
]
