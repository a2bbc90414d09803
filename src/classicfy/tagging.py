"""Zero-shot tags for any recording from musicnn's pretrained taggers (`classicfy tag`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classicfy.config import MUSICNN_SAMPLE_RATE
from classicfy.devices import resolve_device
from classicfy.errors import MissingAudioError, SilentAudioError
from classicfy.features.audio import decode, resample
from classicfy.features.spectral import musicnn_hop_frames, musicnn_input
from classicfy.models.musicnn import PRETRAINED, load_pretrained, tag_probabilities

PEAK = 0.9  # musicnn's log compression is not loudness-invariant: every recording is tagged at one peak level


@dataclass(frozen=True)
class TagResult:
    path: Path
    model: str
    tags: dict[str, float]  # every tag of the model, in the model's order

    def top(self, k: int) -> list[tuple[str, float]]:
        return sorted(self.tags.items(), key=lambda item: -item[1])[:k]

    def csv_row(self, top_k: int) -> tuple[list[str], list[str]]:
        """Header and row for `classicfy tag --format csv`: the top K, then every tag's probability."""
        ranked = ";".join(f"{tag}:{p:.4f}" for tag, p in self.top(top_k))
        header = ["path", "model", "top_k", *(f"p_{tag}" for tag in self.tags)]
        return header, [str(self.path), self.model, ranked, *(f"{p:.6f}" for p in self.tags.values())]

    def to_json(self) -> dict:
        return {"path": str(self.path), "model": self.model, "tags": {t: round(p, 6) for t, p in self.tags.items()}}


def musicnn_samples(path: str | Path) -> np.ndarray:
    """A recording as musicnn hears it: mono, 16 kHz, peak-normalised to 0.9."""
    path = Path(path)
    samples, rate = decode(path)
    samples = resample(samples, rate, MUSICNN_SAMPLE_RATE)
    peak = float(np.abs(samples).max())
    if peak == 0.0:
        raise SilentAudioError(str(path), "all samples are zero")
    return (samples * (PEAK / peak)).astype(np.float32)


class Tagger:
    """One pretrained tagger, loaded once, applied to many recordings."""

    def __init__(self, model: str = "musicnn-mtt", device: str = "cpu", overlap_s: float = 0.0) -> None:
        self.name = model
        self.hop_frames = musicnn_hop_frames(overlap_s)
        self.model = load_pretrained(model).to(resolve_device(device))
        self.tags = PRETRAINED[model].tags

    def tag(self, path: str | Path) -> TagResult:
        """Tag probabilities of one file; raises `AudioError` for a file that cannot be used."""
        path = Path(path)
        if not path.exists():
            raise MissingAudioError(str(path))
        probabilities = tag_probabilities(self.model, musicnn_input(musicnn_samples(path)), self.hop_frames)
        return TagResult(path, self.name, {t: float(p) for t, p in zip(self.tags, probabilities, strict=True)})
