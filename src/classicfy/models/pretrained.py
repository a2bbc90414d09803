"""Transfer learning: a pretrained musicnn network as the backbone of a new classifier.

The backbone (`vgg-mtt` or `musicnn-mtt`) takes musicnn's own 16 kHz input, cut into its 3 s
patches; a window's embedding is the mean over its patches, and a small new head classifies it. The
embedding pools every layer of the backbone (`features="layers"`, the default), not only the tagger's
penultimate output (`"last"`): on the built-in corpus's validation works that raised a linear
classifier's window macro-F1 from 0.56 to 0.65.
Frozen (the default), the backbone is a fixed feature extractor: the training loop feeds the head
embeddings computed once. With `finetune`, the backbone trains too, at a tenth of the learning
rate; its batch-norm statistics stay those of the pretraining either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from classicfy.devices import in_passes
from classicfy.models import musicnn
from classicfy.models.base import ClassifierModel
from classicfy.models.musicnn import load_pretrained


def _check_features(features: str) -> None:
    if features not in ("layers", "last"):
        raise ValueError(f"features must be 'layers' or 'last', got {features!r}")


@dataclass(frozen=True)
class PretrainedConfig:
    backbone: str = "vgg-mtt"
    hidden: int = 128
    dropout: float = 0.3
    finetune: bool = False
    backbone_lr_scale: float = 0.1
    features: str = "layers"  # "layers": pooled activations of every layer; "last": the penultimate output

    def __post_init__(self) -> None:
        _check_features(self.features)


@dataclass(frozen=True)
class ProbeConfig:
    backbone: str = "vgg-mtt"
    features: str = "layers"

    def __post_init__(self) -> None:
        _check_features(self.features)


class BackboneModel(ClassifierModel):
    """A model on a pretrained musicnn backbone: a window's embedding is the mean over its 3 s patches
    of the backbone's pooled layers (`features="layers"`) or its penultimate output (`"last"`)."""

    input_kind = "musicnn"
    backbone: musicnn.MusicnnVGG | musicnn.Musicnn
    config: PretrainedConfig | ProbeConfig

    @property
    def embedding_size(self) -> int:
        return self.backbone.layer_features_size if self.config.features == "layers" else self.backbone.embedding_size

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        batch, n_patches = patches.shape[:2]
        flat = patches.flatten(0, 1)
        layer = self.backbone.layer_features if self.config.features == "layers" else self.backbone.embed
        features = in_passes(layer, flat, musicnn.CPU_PATCHES_PER_PASS)
        return features.view(batch, n_patches, -1).mean(dim=1)

    def train(self, mode: bool = True) -> BackboneModel:
        super().train(mode)
        self.backbone.eval()  # keep the pretraining's batch-norm statistics
        return self


class PretrainedClassifier(BackboneModel):
    """Input (batch, patches, 187, 96), or (batch, embedding) when the embeddings are precomputed."""

    Config = PretrainedConfig
    config: PretrainedConfig
    # Model files written before `features` existed embedded the tagger's last layer.
    config_before_key: ClassVar[dict[str, str]] = {"features": "last"}
    default_backbone = "vgg-mtt"

    def __init__(self, input_shape: tuple[int, ...], n_classes: int, config: PretrainedConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or PretrainedConfig(backbone=self.default_backbone)
        self.backbone = load_pretrained(config.backbone)
        self.backbone.requires_grad_(config.finetune)
        size = self.embedding_size
        # The spreads of the layers' features differ up to 40-fold: batch norm evens them out.
        normalize = [nn.BatchNorm1d(size)] if config.features == "layers" else []
        self.head = nn.Sequential(
            *normalize,
            nn.Linear(size, config.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, n_classes),
        )

    @classmethod
    def config_for(cls, finetune: bool) -> PretrainedConfig:
        return PretrainedConfig(backbone=cls.default_backbone, finetune=finetune)

    @property
    def frozen(self) -> bool:
        return not self.config.finetune

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x if x.dim() == 2 else self.embed(x))

    def parameter_groups(self, learning_rate: float) -> list[dict]:
        groups = [{"params": list(self.head.parameters()), "lr": learning_rate}]
        if self.config.finetune:
            groups.append(
                {"params": list(self.backbone.parameters()), "lr": learning_rate * self.config.backbone_lr_scale}
            )
        return groups


class VGGPretrained(PretrainedClassifier):
    """musicnn's VGG tagger (MagnaTagATune) as the backbone."""

    default_backbone = "vgg-mtt"


class MusicnnPretrained(PretrainedClassifier):
    """musicnn's musicnn tagger (MagnaTagATune) as the backbone."""

    default_backbone = "musicnn-mtt"
