"""Feature extractors: what a model sees of each window.

`AudioFeatureExtractor` computes log-mel, MFCC and chroma, all three from one STFT;
`MusicnnFeatureExtractor` computes the pretrained musicnn models' own 16 kHz log-compressed mel.
The same `extract` serves training and prediction, so a model always sees features made the same
way; `arrays` gives the named arrays that `classicfy.features.cache` stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classicfy.config import (
    MUSICNN_HOP,
    MUSICNN_N_FFT,
    MUSICNN_N_MELS,
    MUSICNN_SAMPLE_RATE,
    AnyFeatureConfig,
    FeatureConfig,
    MusicnnFeatureConfig,
    NotesFeatureConfig,
)
from classicfy.features.audio import RecordingAudio, load_recording

FEATURE_NAMES = ("mel", "mfcc", "chroma")
_WINDOWS_PER_CHUNK = 2  # small chunks keep the FFT buffers in cache: measured fastest


@dataclass(frozen=True)
class WindowFeatures:
    """Features of n windows: mel (n, n_mels, T) in dB, mfcc (n, n_mfcc, T), chroma (n, n_chroma, T)."""

    mel: np.ndarray
    mfcc: np.ndarray
    chroma: np.ndarray

    def __len__(self) -> int:
        return len(self.mel)

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in FEATURE_NAMES}


class AudioFeatureExtractor:
    """Turns windows of samples into log-mel, MFCC and chroma arrays (float32)."""

    def __init__(self, config: FeatureConfig | None = None) -> None:
        import librosa

        self.config = config or FeatureConfig()
        c, sr = self.config, self.config.audio.sample_rate
        # Filter banks are built once here (librosa.feature.* rebuild them on every call), stored
        # transposed so that (frames x bins) @ (bins x bands) runs on contiguous rows.
        mel = librosa.filters.mel(sr=sr, n_fft=c.n_fft, n_mels=c.n_mels, fmin=c.fmin, fmax=c.fmax)
        # Tuning is fixed at A440: estimating it per window is slow and noisy on 10 s of music.
        chroma = librosa.filters.chroma(sr=sr, n_fft=c.n_fft, n_chroma=c.n_chroma, tuning=0.0)
        self._mel_basis_t = np.ascontiguousarray(mel.T, dtype=np.float32)
        self._chroma_basis_t = np.ascontiguousarray(chroma.T, dtype=np.float32)
        self._fft_window = librosa.filters.get_window("hann", c.n_fft, fftbins=True).astype(np.float32)

    def extract(self, path: str | Path) -> tuple[RecordingAudio, WindowFeatures]:
        """Decode a file and featurise its windows; raises `AudioError` for unusable files."""
        audio = load_recording(path, self.config.audio)
        return audio, self.transform(audio.windows)

    def arrays(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        """The named arrays the feature cache stores for these windows."""
        return self.transform(windows).as_arrays()

    def transform(self, windows: np.ndarray) -> WindowFeatures:
        """Featurise a (n_windows, samples) array, a few windows at a time to bound memory."""
        windows = np.atleast_2d(np.asarray(windows, dtype=np.float32))
        parts = [
            self._transform_chunk(windows[i : i + _WINDOWS_PER_CHUNK])
            for i in range(0, len(windows), _WINDOWS_PER_CHUNK)
        ]
        return WindowFeatures(*(np.concatenate([p[k] for p in parts]) for k in range(3)))

    def power_spectrogram(self, windows: np.ndarray) -> np.ndarray:
        """|STFT|^2 of each window as (n, frames, bins): librosa.stft's centred, zero-padded frames.

        Framing a strided view and calling scipy's real FFT directly is faster than
        librosa.stft plus np.abs here, and the STFT is most of the cost of extraction.
        """
        import scipy.fft

        c = self.config
        padded = np.pad(windows, ((0, 0), (c.n_fft // 2, c.n_fft // 2)))
        frames = np.lib.stride_tricks.sliding_window_view(padded, c.n_fft, axis=-1)[:, :: c.hop_length]
        spectrum = scipy.fft.rfft(frames * self._fft_window, axis=-1, overwrite_x=True, workers=1)
        power = np.square(spectrum.real)
        power += np.square(spectrum.imag)
        return power

    def _transform_chunk(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import librosa

        c = self.config
        power = self.power_spectrogram(windows)
        mel_power = (power @ self._mel_basis_t).transpose(0, 2, 1)
        chroma = (power @ self._chroma_basis_t).transpose(0, 2, 1)
        # The same steps as librosa.feature.chroma_stft(S=...) and mfcc(S=power_to_db(...)); the
        # top_db floor of power_to_db is relative to its input's peak, so it is applied per window.
        chroma = librosa.util.normalize(chroma, norm=np.inf, axis=-2)
        log_mel = np.stack([librosa.power_to_db(m, ref=1.0, top_db=c.top_db) for m in mel_power])
        mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=c.n_mfcc)
        return log_mel.astype(np.float32), mfcc.astype(np.float32), chroma.astype(np.float32)


MUSICNN_PATCH_FRAMES = 187  # about 3 s: the input length the taggers were trained on


def musicnn_input(samples: np.ndarray) -> np.ndarray:
    """musicnn's log-compressed mel spectrogram of 16 kHz samples, (frames, 96) float32.

    As musicnn computes it: power mel (Slaney), centred with reflect padding, rounded through
    float16, then log10(10000 * S + 1), the log taken in float32 (under numpy 2, 10000 * float16
    would stay float16 and overflow).
    """
    import librosa

    mel = librosa.feature.melspectrogram(
        y=samples,
        sr=MUSICNN_SAMPLE_RATE,
        n_fft=MUSICNN_N_FFT,
        hop_length=MUSICNN_HOP,
        n_mels=MUSICNN_N_MELS,
        pad_mode="reflect",
    )
    rounded = np.swapaxes(mel, -1, -2).astype(np.float16).astype(np.float32)
    return np.log10(10000.0 * rounded + 1.0).astype(np.float32)


def musicnn_patches(representation: np.ndarray, hop_frames: int = MUSICNN_PATCH_FRAMES) -> np.ndarray:
    """187-frame patches every `hop_frames` (by default side by side), remainder dropped; a shorter
    input is repeated to fill one."""
    frames = len(representation)
    if frames < MUSICNN_PATCH_FRAMES:
        representation = np.tile(representation, (int(np.ceil(MUSICNN_PATCH_FRAMES / max(frames, 1))), 1))
    view = np.lib.stride_tricks.sliding_window_view(representation, MUSICNN_PATCH_FRAMES, axis=0)[::hop_frames]
    return np.ascontiguousarray(np.swapaxes(view, 1, 2))


def musicnn_hop_frames(overlap_s: float) -> int:
    """The patch hop, in frames, for patches overlapping by `overlap_s` seconds (musicnn's `input_overlap`)."""
    patch_s = MUSICNN_PATCH_FRAMES * MUSICNN_HOP / MUSICNN_SAMPLE_RATE
    overlap = round(overlap_s * MUSICNN_SAMPLE_RATE / MUSICNN_HOP) if 0 <= overlap_s < patch_s else -1
    if not 0 <= overlap < MUSICNN_PATCH_FRAMES:  # NaN fails the first test too
        raise ValueError(f"overlap must be at least 0 s and under a patch ({patch_s:.3f} s), got {overlap_s:g} s")
    return MUSICNN_PATCH_FRAMES - overlap


class MusicnnFeatureExtractor:
    """Turns windows of 16 kHz samples into musicnn's input, stored as the array `musicnn`."""

    def __init__(self, config: MusicnnFeatureConfig | None = None) -> None:
        self.config = config or MusicnnFeatureConfig()

    def arrays(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        windows = np.atleast_2d(np.asarray(windows, dtype=np.float32))
        parts = [musicnn_input(windows[i : i + _WINDOWS_PER_CHUNK]) for i in range(0, len(windows), _WINDOWS_PER_CHUNK)]
        return {"musicnn": np.concatenate(parts)}


def extractor_for(config: AnyFeatureConfig) -> Any:
    """The extractor that computes what `config` describes (each has `arrays(windows)`)."""
    if isinstance(config, MusicnnFeatureConfig):
        return MusicnnFeatureExtractor(config)
    if isinstance(config, NotesFeatureConfig):
        from classicfy.features.notes import NotesFeatureExtractor  # basic-pitch only when notes are asked for

        return NotesFeatureExtractor(config)
    return AudioFeatureExtractor(config)
