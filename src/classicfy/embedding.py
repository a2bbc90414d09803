"""Embeddings of recordings, for clustering, retrieval and plots elsewhere (`classicfy embed`).

Two sources: one model of a trained run (the features its last layers classify) or the backbone of a
pretrained musicnn tagger. Either way a recording is streamed, windowed and loudness-normalised as
`predict` does it (`classicfy.features.batches`), silent windows are dropped, and every window gets
one vector; a recording's vector is the mean of its windows'.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classicfy import __version__, atomic
from classicfy.config import MUSICNN_HOP, MUSICNN_SAMPLE_RATE, AudioConfig, MusicnnFeatureConfig
from classicfy.devices import device_of, in_passes, resolve_device, to_device
from classicfy.errors import ClassicfyError, RunError
from classicfy.features.audio import RecordingStream
from classicfy.features.batches import normalised_batches
from classicfy.features.spectral import MUSICNN_PATCH_FRAMES, MusicnnFeatureExtractor, musicnn_hop_frames
from classicfy.models import musicnn

LEVELS = ("window", "recording")
FORMATS = (".parquet", ".npz")
MARK = "classicfy_embeddings"  # in every file `embed` writes: only such a file is ever overwritten


@dataclass(frozen=True)
class Embeddings:
    """Rows of vectors: one per window, or one per recording (then `windows` counts its windows)."""

    source: str  # "RUN:MODEL" or a tagger's name
    level: str
    paths: list[str]
    start_s: np.ndarray
    end_s: np.ndarray
    labels: list[str | None]  # None where the label is not known
    windows: np.ndarray
    vectors: np.ndarray  # (rows, dimension) float32

    @classmethod
    def of_windows(
        cls, source: str, window_s: float, rows: Iterable[tuple[Path, str | None, np.ndarray, np.ndarray]]
    ) -> Embeddings:
        """From `(path, label, window starts, window vectors)` per recording."""
        paths, labels, starts, vectors = [], [], [], []
        for path, label, own_starts, own_vectors in rows:
            if not np.all(np.isfinite(own_vectors)):  # never a silently wrong answer: say whose and where
                raise RunError(f"{source} embeds {path} with numbers that are not finite")
            paths += [str(path)] * len(own_starts)
            labels += [label] * len(own_starts)
            starts.append(np.asarray(own_starts, dtype=np.float64))
            vectors.append(np.asarray(own_vectors, dtype=np.float32))
        if not vectors:
            raise ClassicfyError("no recording could be embedded")
        start_s = np.concatenate(starts).round(3)
        ones = np.ones(len(start_s), dtype=np.int32)
        return cls(
            source, "window", paths, start_s, (start_s + window_s).round(3), labels, ones, np.concatenate(vectors)
        )

    def per_recording(self) -> Embeddings:
        """One row per recording: the mean of its window vectors, from its first window's start to its last's end."""
        rows_of: dict[str, list[int]] = {}  # in order of first appearance
        for row, path in enumerate(self.paths):
            rows_of.setdefault(path, []).append(row)
        paths, at = list(rows_of), {path: np.array(rows) for path, rows in rows_of.items()}
        return Embeddings(
            self.source,
            "recording",
            paths,
            np.array([self.start_s[at[p]].min() for p in paths]),
            np.array([self.end_s[at[p]].max() for p in paths]),
            [self.labels[at[p][0]] for p in paths],
            np.array([len(at[p]) for p in paths], dtype=np.int32),
            np.stack([self.vectors[at[p]].mean(axis=0) for p in paths]).astype(np.float32),
        )

    def write(self, out: str | Path) -> None:
        """To `out` (.parquet or .npz) in one atomic step; an existing file is replaced only if `embed` wrote it."""
        out = Path(out)
        suffix = out.suffix.lower()
        if suffix not in FORMATS:
            raise ClassicfyError(f"--out must end in {' or '.join(FORMATS)}, got {out.name}")
        if out.exists() and not _written_by_embed(out):
            raise ClassicfyError(f"{out} exists and was not written by classicfy embed: not overwriting it")
        atomic.write_bytes(out, self._parquet() if suffix == ".parquet" else self._npz())

    def _columns(self) -> dict[str, np.ndarray | list]:
        columns: dict[str, np.ndarray | list] = {
            "path": self.paths,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "label": self.labels,
        }
        if self.level == "recording":
            columns["windows"] = self.windows
        return columns

    def _npz(self) -> bytes:
        arrays: dict[str, Any] = self._columns()
        arrays["path"] = np.array(self.paths, dtype=str)
        arrays["label"] = np.array(["" if label is None else label for label in self.labels], dtype=str)
        arrays |= {"embedding": self.vectors, MARK: np.array(__version__)}
        arrays |= {"source": np.array(self.source), "level": np.array(self.level)}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    def _parquet(self) -> bytes:
        pa, pq = _pyarrow()
        types = {"path": pa.string(), "label": pa.string()}  # a column of unknown labels is still text
        arrays = {name: pa.array(values, type=types.get(name)) for name, values in self._columns().items()}
        flat = pa.array(self.vectors.reshape(-1), type=pa.float32())
        arrays["embedding"] = pa.FixedSizeListArray.from_arrays(flat, self.vectors.shape[1])
        meta = {MARK: __version__, "source": self.source, "level": self.level}
        table = pa.table(arrays).replace_schema_metadata(meta)
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return buffer.getvalue()


def read_embeddings(path: str | Path) -> dict[str, np.ndarray]:
    """The columns of a file `embed` wrote, `embedding` as one (rows, dimension) array."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files if name not in (MARK, "source", "level")}
    _, pq = _pyarrow()
    table = pq.read_table(path)
    columns = {name: np.asarray(table[name].to_pylist(), dtype=object) for name in table.column_names}
    columns["embedding"] = np.array(table["embedding"].to_pylist(), dtype=np.float32)
    return columns


def _written_by_embed(path: Path) -> bool:
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return MARK in data.files
        _, pq = _pyarrow()
        return MARK.encode() in (pq.read_schema(path).metadata or {})
    except (OSError, ValueError, ClassicfyError):
        return False


def _pyarrow() -> tuple[Any, Any]:
    """pyarrow and its Parquet module, or one line on how to install them."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ClassicfyError(
            "writing Parquet needs pyarrow: pip install 'classicfy[parquet]', or use --out FILE.npz"
        ) from None
    return pa, pq


class TaggerEmbedder:
    """A pretrained tagger's backbone (`embed`: its last layer before the tags) over 3-second windows."""

    def __init__(self, tagger: str, device: str = "cpu", overlap_s: float = 0.0) -> None:
        self.name = tagger
        self.backbone = musicnn.load_pretrained(tagger).to(resolve_device(device))
        patch_s = MUSICNN_PATCH_FRAMES * MUSICNN_HOP / MUSICNN_SAMPLE_RATE
        hop_s = musicnn_hop_frames(overlap_s) * MUSICNN_HOP / MUSICNN_SAMPLE_RATE
        self.audio = AudioConfig(sample_rate=MUSICNN_SAMPLE_RATE, window_s=patch_s, hop_s=hop_s)
        self.extractor = MusicnnFeatureExtractor(MusicnnFeatureConfig(audio=self.audio))
        self.window_s = patch_s

    @torch.no_grad()
    def embed_one(self, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
        """Start times (s) and backbone embeddings of a file's non-silent windows."""
        path = Path(path)
        device = device_of(self.backbone)
        starts, vectors = [], []
        for _, windows, window_starts in normalised_batches(
            str(path), lambda: RecordingStream(path, [self.audio]), [self.audio]
        ):
            patches = self.extractor.arrays(windows)["musicnn"][:, :MUSICNN_PATCH_FRAMES]
            embedded = in_passes(self.backbone.embed, to_device(patches, device), musicnn.CPU_PATCHES_PER_PASS)
            starts.append(window_starts)
            vectors.append(embedded.float().cpu().numpy())
        return np.concatenate(starts), np.concatenate(vectors)
