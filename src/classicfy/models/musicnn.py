"""PyTorch ports of musicnn's pretrained taggers (Pons & Serra, 2019): `MTT_vgg`, `MSD_vgg`,
`MTT_musicnn` and `MSD_musicnn`, loaded from the TensorFlow checkpoints the `musicnn` 0.1.0 pip
package ships (read with numpy: no TensorFlow needed).

The ports reproduce musicnn's own preprocessing (`classicfy.features.spectral.musicnn_input`: 16 kHz,
96-band log-compressed mel), patching (187-frame patches, about 3 s, non-overlapping) and the
averaging of the sigmoid outputs.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from classicfy.config import MUSICNN_N_MELS as N_MELS
from classicfy.devices import device_of, in_passes, to_device
from classicfy.errors import ClassicfyError
from classicfy.features.spectral import MUSICNN_PATCH_FRAMES, musicnn_patches
from classicfy.models.tf_checkpoint import load_checkpoint, read_index

TF_BN_EPS = 1e-3  # TensorFlow's default, not PyTorch's 1e-5

MTT_TAGS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano", "ambient",
    "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals", "no vocals",
    "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man",
    "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip
MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
    "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
    "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient",
    "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb",
    "indie pop", "sad", "House", "happy",
)  # fmt: skip


@dataclass(frozen=True)
class PretrainedSpec:
    checkpoint: str  # folder in the musicnn package
    architecture: str  # "vgg" or "musicnn"
    tags: tuple[str, ...]


PRETRAINED = {
    "vgg-mtt": PretrainedSpec("MTT_vgg", "vgg", MTT_TAGS),
    "vgg-msd": PretrainedSpec("MSD_vgg", "vgg", MSD_TAGS),
    "musicnn-mtt": PretrainedSpec("MTT_musicnn", "musicnn", MTT_TAGS),
    "musicnn-msd": PretrainedSpec("MSD_musicnn", "musicnn", MSD_TAGS),
}


def _tf_batch_norm(module: nn.Module, weights: dict[str, np.ndarray], name: str) -> None:
    module.weight.data = torch.from_numpy(weights[f"{name}/gamma"].copy())
    module.bias.data = torch.from_numpy(weights[f"{name}/beta"].copy())
    module.running_mean.data = torch.from_numpy(weights[f"{name}/moving_mean"].copy())
    module.running_var.data = torch.from_numpy(weights[f"{name}/moving_variance"].copy())


def _tf_conv2d(module: nn.Module, weights: dict[str, np.ndarray], name: str) -> None:
    module.weight.data = torch.from_numpy(weights[f"{name}/kernel"].transpose(3, 2, 0, 1).copy())  # HWIO -> OIHW
    module.bias.data = torch.from_numpy(weights[f"{name}/bias"].copy())


def _tf_dense(module: nn.Linear, weights: dict[str, np.ndarray], name: str) -> None:
    module.weight.data = torch.from_numpy(weights[f"{name}/kernel"].T.copy())
    module.bias.data = torch.from_numpy(weights[f"{name}/bias"].copy())


def _bn(channels: int, dims: int = 2) -> nn.Module:
    return (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(channels, eps=TF_BN_EPS)


class MusicnnVGG(nn.Module):
    """musicnn's VGG-like tagger: five 3x3 conv blocks (128 filters) over a (187, 96) patch."""

    embedding_size = 256
    layer_features_size = 5 * 2 * 128

    def __init__(self, n_tags: int = 50, filters: int = 128) -> None:
        super().__init__()
        self.input_bn = _bn(1)
        self.convs = nn.ModuleList(nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5))
        self.bns = nn.ModuleList(_bn(filters) for _ in range(5))
        self.pools = nn.ModuleList(
            [nn.MaxPool2d((4, 1), stride=(2, 2)), nn.MaxPool2d(2), nn.MaxPool2d(2), nn.MaxPool2d(2), nn.MaxPool2d(4)]
        )
        self.dense = nn.Linear(self.embedding_size, n_tags)

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """(batch, 187, 96) log-mel patches to 256 features (TensorFlow's NHWC flattening order)."""
        x = self.input_bn(patches[:, None])
        for conv, bn, pool in zip(self.convs, self.bns, self.pools, strict=True):
            x = pool(bn(F.relu(conv(x))))
        return x.permute(0, 2, 3, 1).flatten(1)

    def layer_features(self, patches: torch.Tensor) -> torch.Tensor:
        """(batch, 187, 96) patches to the mean and max over frequency and time of every block's
        activations (1280 features): lower blocks keep the pitch and texture detail that the tagger's
        last layer pools away (Choi et al. 2017, "Transfer learning for music classification")."""
        x = self.input_bn(patches[:, None])
        pooled = []
        for conv, bn, pool in zip(self.convs, self.bns, self.pools, strict=True):
            x = bn(F.relu(conv(x)))
            pooled += [x.mean(dim=(2, 3)), x.amax(dim=(2, 3))]
            x = pool(x)
        return torch.cat(pooled, dim=1)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.dense(self.embed(patches))

    def load_tf(self, weights: dict[str, np.ndarray]) -> None:
        _tf_batch_norm(self.input_bn, weights, "batch_normalization")
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns, strict=True)):
            _tf_conv2d(conv, weights, f"{i + 1}CNN")
            _tf_batch_norm(bn, weights, f"batch_normalization_{i + 1}")
        _tf_dense(self.dense, weights, "dense")


class Musicnn(nn.Module):
    """musicnn: timbral (7x38, 7x67) and temporal (128/64/32 x 1) front-end convolutions pooled over
    frequency, a residual 1-D mid-end, and a dense back-end on max and mean over time."""

    embedding_size = 200

    def __init__(self, n_tags: int = 50, n_mels: int = N_MELS, midend: int = 64, backend: int = 200) -> None:
        super().__init__()
        timbral_filters, temporal_filters = int(1.6 * 128), int(1.6 * 32)
        self.input_bn = _bn(1)
        self.timbral = nn.ModuleList(nn.Conv2d(1, timbral_filters, (7, int(f * n_mels))) for f in (0.4, 0.7))
        self.timbral_bns = nn.ModuleList(_bn(timbral_filters) for _ in range(2))
        self.temporal = nn.ModuleList(nn.Conv2d(1, temporal_filters, (k, 1)) for k in (128, 64, 32))
        self.temporal_bns = nn.ModuleList(_bn(temporal_filters) for _ in range(3))
        front = 2 * timbral_filters + 3 * temporal_filters
        self.midend = nn.ModuleList(nn.Conv1d(front if i == 0 else midend, midend, 7, padding=3) for i in range(3))
        self.midend_bns = nn.ModuleList(_bn(midend, dims=1) for _ in range(3))
        pooled = self.layer_features_size = 2 * (front + 3 * midend)
        self.backend_bn = _bn(pooled, dims=1)
        self.dense = nn.Linear(pooled, backend)
        self.dense_bn = _bn(backend, dims=1)
        self.output = nn.Linear(backend, n_tags)

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """(batch, frames, 96) log-mel patches to the 200 penultimate features."""
        return self.dense_bn(F.relu(self.dense(self.backend_bn(self.layer_features(patches)))))

    def layer_features(self, patches: torch.Tensor) -> torch.Tensor:
        """(batch, frames, 96) patches to the max and mean over time of the front-end and every
        mid-end layer: musicnn's own multi-level features, before its back-end."""
        x = self.input_bn(patches[:, None])
        front = []
        for conv, bn in zip(self.timbral, self.timbral_bns, strict=True):
            front.append(bn(F.relu(conv(F.pad(x, (0, 0, 3, 3))))).amax(dim=3))
        for conv, bn in zip(self.temporal, self.temporal_bns, strict=True):
            k = int(conv.kernel_size[0])  # type: ignore[index]  # TensorFlow 'same': the odd extra frame of padding goes after
            front.append(bn(F.relu(conv(F.pad(x, (0, 0, (k - 1) // 2, k // 2))))).amax(dim=3))
        features = [torch.cat(front, dim=1)]
        for i, (conv, bn) in enumerate(zip(self.midend, self.midend_bns, strict=True)):
            out = bn(F.relu(conv(features[-1])))
            features.append(out if i == 0 else out + features[-1])
        stacked = torch.cat(features, dim=1)
        return torch.stack([stacked.amax(dim=2), stacked.mean(dim=2)], dim=2).flatten(1)  # interleaved

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.output(self.embed(patches))

    def load_tf(self, weights: dict[str, np.ndarray]) -> None:
        _tf_batch_norm(self.input_bn, weights, "batch_normalization")
        convs = [*self.timbral, *self.temporal]
        bns = [*self.timbral_bns, *self.temporal_bns, *self.midend_bns, self.backend_bn, self.dense_bn]
        for i, conv in enumerate(convs):
            _tf_conv2d(conv, weights, "conv2d" if i == 0 else f"conv2d_{i}")
        for i, conv in enumerate(self.midend):
            kernel = weights[f"conv2d_{len(convs) + i}/kernel"]  # (7, C, 1, 64) -> (64, C, 7)
            conv.weight.data = torch.from_numpy(kernel[:, :, 0, :].transpose(2, 1, 0).copy())
            conv.bias.data = torch.from_numpy(weights[f"conv2d_{len(convs) + i}/bias"].copy())
        for i, bn in enumerate(bns):
            _tf_batch_norm(bn, weights, f"batch_normalization_{i + 1}")
        _tf_dense(self.dense, weights, "dense")
        _tf_dense(self.output, weights, "dense_1")


def weights_folder() -> Path:
    """Where the musicnn package keeps its checkpoints (found without importing it)."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise ClassicfyError(
            "the pretrained musicnn weights are not installed: pip install --no-deps -r requirements-nodeps.txt "
            "(musicnn==0.1.0)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def load_pretrained(name: str) -> MusicnnVGG | Musicnn:
    """A pretrained tagger by CLI name (e.g. `vgg-mtt`), in evaluation mode."""
    if name not in PRETRAINED:
        raise ClassicfyError(f"unknown pretrained model {name!r}; available: {', '.join(PRETRAINED)}")
    spec = PRETRAINED[name]
    index = weights_folder() / spec.checkpoint / ".index"
    if not index.is_file():
        raise ClassicfyError(f"the musicnn package has no {spec.checkpoint} checkpoint at {index.parent}")
    # About two thirds of the checkpoint is Adam's optimiser state: read only the model's tensors.
    names = [n for n in read_index(index) if "Adam" not in n and not n.startswith(("beta1_power", "beta2_power"))]
    weights = load_checkpoint(index, names)
    model = MusicnnVGG(len(spec.tags)) if spec.architecture == "vgg" else Musicnn(len(spec.tags))
    model.load_tf(weights)
    if spec.architecture == "vgg":
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # faster on CPU; musicnn gains nothing
    return model.eval()


# On a CPU a pass over more than one patch spills the first block's activations (9 MB a patch) out
# of the cache, and runs two to four times slower (bench/embeddings.py).
CPU_PATCHES_PER_PASS = 1


@torch.no_grad()
def tag_probabilities(
    model: nn.Module, representation: np.ndarray, hop_frames: int = MUSICNN_PATCH_FRAMES
) -> np.ndarray:
    """Sigmoid tag outputs averaged over a recording's patches (one every `hop_frames`)."""
    patches = to_device(musicnn_patches(representation, hop_frames), device_of(model))
    return torch.sigmoid(in_passes(model, patches, CPU_PATCHES_PER_PASS)).mean(dim=0).float().cpu().numpy()
