"""On-disk feature cache keyed by a file's content hash and the feature config's hash.

Entries are folders of `.npy` arrays plus `meta.json`, created atomically and read memory-mapped,
so a dataset larger than memory can be trained on and a killed run never leaves half an entry.
Each array's CRC32 is kept in the metadata: a damaged entry is detected, removed and recomputed.
Files found unusable are cached too (as `<hash>.error.json`), so a silent hour is decoded once.
"""

from __future__ import annotations

import json
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classicfy import atomic
from classicfy.config import AnyFeatureConfig
from classicfy.errors import AudioError
from classicfy.features.audio import RecordingAudio
from classicfy.features.spectral import FEATURE_NAMES, WindowFeatures


@dataclass(frozen=True)
class CachedRecording:
    """Features of one recording as stored: named arrays, read-only memory maps, one row per window."""

    arrays: dict[str, np.ndarray]
    starts_s: np.ndarray
    duration_s: float
    silent_windows: int

    @property
    def n_windows(self) -> int:
        return len(self.starts_s)

    @property
    def features(self) -> WindowFeatures:
        """The log-mel, MFCC and chroma arrays of a spectral-feature entry."""
        return WindowFeatures(*(self.arrays[name] for name in FEATURE_NAMES))


@dataclass(frozen=True)
class CachedFailure:
    """Why a file with this content could not be used, as found the first time."""

    kind: str
    detail: str


def _crc(array: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(array).view(np.uint8).data)


class FeatureCache:
    """Features of recordings under one feature config, in `root/features/<config key>/`."""

    def __init__(self, root: Path, config: AnyFeatureConfig) -> None:
        self.config = config
        self.directory = Path(root) / "features" / config.key()
        config_file = self.directory / "config.json"
        if not config_file.exists():
            atomic.write_text(config_file, json.dumps(config.to_dict(), indent=2))

    def _entry(self, digest: str) -> Path:
        return self.directory / digest[:2] / digest

    def _failure_file(self, digest: str) -> Path:
        return self.directory / digest[:2] / f"{digest}.error.json"

    def get(self, digest: str, verify: bool = True) -> CachedRecording | None:
        """The cached features, or None when absent or damaged (a damaged entry is removed)."""
        entry = self._entry(digest)
        if not entry.is_dir():
            return None
        try:
            meta = json.loads((entry / "meta.json").read_text())
            arrays = {}
            for name, spec in meta["arrays"].items():
                array = np.load(entry / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                if list(array.shape) != spec["shape"] or str(array.dtype) != spec["dtype"]:
                    raise ValueError(f"{name}: shape or dtype differs from meta.json")
                if verify and _crc(array) != spec["crc32"]:
                    raise ValueError(f"{name}: checksum mismatch")
                arrays[name] = array
            starts_s = arrays.pop("starts_s")
            return CachedRecording(
                arrays=arrays,
                starts_s=starts_s,
                duration_s=float(meta["duration_s"]),
                silent_windows=int(meta["silent_windows"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            shutil.rmtree(entry, ignore_errors=True)
            return None

    def put(
        self, digest: str, audio: RecordingAudio, features: dict[str, np.ndarray], extra: dict | None = None
    ) -> None:
        """Store one recording's named feature arrays (and `extra` metadata, such as how it was
        augmented); concurrent writers of the same entry are harmless."""
        arrays = dict(features)
        arrays["starts_s"] = np.asarray(audio.starts_s, dtype=np.float64)
        meta = {
            "duration_s": audio.duration_s,
            "silent_windows": audio.silent_windows,
            **(extra or {}),
            "arrays": {
                name: {"shape": list(a.shape), "dtype": str(a.dtype), "crc32": _crc(a)} for name, a in arrays.items()
            },
        }
        with atomic.new_directory(self._entry(digest)) as tmp:
            for name, array in arrays.items():
                np.save(tmp / f"{name}.npy", array, allow_pickle=False)
            (tmp / "meta.json").write_text(json.dumps(meta))

    def get_failure(self, digest: str) -> CachedFailure | None:
        try:
            found = json.loads(self._failure_file(digest).read_text())
            return CachedFailure(str(found["kind"]), str(found["detail"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put_failure(self, digest: str, error: AudioError) -> None:
        atomic.write_text(self._failure_file(digest), json.dumps({"kind": error.kind, "detail": error.detail}))
