"""Notes from audio: basic-pitch's note model (Spotify, Apache-2.0), run with onnxruntime.

The model ships as `nmp.onnx` inside the basic-pitch wheel (installed without its declared
dependencies: it declares TensorFlow, which is not used). It hears 22.05 kHz mono in windows of
about 2 s that overlap by 30 frames, and gives, per frame of 256 samples (11.6 ms), note and onset
activations for the 88 piano keys; its own note creation turns them into MIDI notes.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classicfy.config import NOTES_HOP, NOTES_KEYS, NOTES_SAMPLE_RATE, NotesFeatureConfig
from classicfy.errors import ClassicfyError, SilentAudioError
from classicfy.features.audio import decode, resample

SAMPLE_RATE, FRAME_HOP, KEYS = NOTES_SAMPLE_RATE, NOTES_HOP, NOTES_KEYS  # keys: A0 to C8
OVERLAP_FRAMES = 30  # frames shared by neighbouring windows; half of them are dropped at each side
MIN_NOTE_MS = 127.7  # basic-pitch's default shortest note


@dataclass
class Transcription:
    """What the note model heard: activations (frames x 88 keys, A0 first) and the notes made of them."""

    note: np.ndarray
    onset: np.ndarray
    midi: Any  # pretty_midi.PrettyMIDI
    events: list[tuple[float, float, int, float]]  # start s, end s, MIDI pitch, amplitude

    @property
    def seconds_per_frame(self) -> float:
        return FRAME_HOP / SAMPLE_RATE


@dataclass(frozen=True)
class _BasicPitch:
    model: Any  # basic_pitch.inference.Model over nmp.onnx
    window_samples: int  # AUDIO_N_SAMPLES: what the model hears at once
    unwrap_output: Any
    note_creation: Any


@functools.cache
def _basic_pitch() -> _BasicPitch:
    """basic-pitch's ONNX model and its helpers, imported once; its import warns about missing
    TensorFlow, CoreML and TFLite back-ends, none of which is used."""
    logging.disable(logging.WARNING)
    try:
        import basic_pitch
        from basic_pitch import note_creation
        from basic_pitch.constants import AUDIO_N_SAMPLES
        from basic_pitch.inference import Model, unwrap_output
    except ImportError as error:
        raise ClassicfyError(
            f"transcription needs basic-pitch ({error}): pip install --no-deps -r requirements-nodeps.txt"
        ) from None
    finally:
        logging.disable(logging.NOTSET)
    model_path = Path(basic_pitch.__file__).parent / "saved_models" / "icassp_2022" / "nmp.onnx"
    return _BasicPitch(Model(model_path), AUDIO_N_SAMPLES, unwrap_output, note_creation)


def activations(samples: np.ndarray) -> dict[str, np.ndarray]:
    """`note`, `onset` (frames x 88) and `contour` (frames x 264) of 22.05 kHz mono samples."""
    bp = _basic_pitch()
    overlap = OVERLAP_FRAMES * FRAME_HOP
    hop = bp.window_samples - overlap
    padded = np.concatenate([np.zeros(overlap // 2, np.float32), np.asarray(samples, np.float32)])
    outputs: dict[str, list[np.ndarray]] = {"note": [], "onset": [], "contour": []}
    for start in range(0, len(padded), hop):
        window = np.zeros(bp.window_samples, np.float32)
        chunk = padded[start : start + bp.window_samples]
        window[: len(chunk)] = chunk
        for name, value in bp.model.predict(window[None, :, None]).items():
            outputs[name].append(value)
    unwrap = bp.unwrap_output
    return {name: unwrap(np.concatenate(parts), len(samples), OVERLAP_FRAMES) for name, parts in outputs.items()}


def transcribe_samples(samples: np.ndarray, rate: int, name: str = "audio") -> Transcription:
    """Notes of mono samples at any rate; silence is an `AudioError`, as elsewhere."""
    samples = resample(np.asarray(samples, np.float32), rate, SAMPLE_RATE)
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak == 0.0:
        raise SilentAudioError(name, "no sound to transcribe")
    output = activations(samples)
    midi, events = _basic_pitch().note_creation.model_output_to_notes(
        output,
        onset_thresh=0.5,
        frame_thresh=0.3,
        min_note_len=round(MIN_NOTE_MS / 1000 * SAMPLE_RATE / FRAME_HOP),
    )
    notes = [(float(start), float(end), int(pitch), float(amplitude)) for start, end, pitch, amplitude, *_ in events]
    return Transcription(output["note"], output["onset"], midi, notes)


def transcribe(path: str | Path) -> Transcription:
    """Notes of a recording in any format `classicfy` decodes."""
    samples, rate = decode(path)
    return transcribe_samples(samples, rate, str(path))


class NotesFeatureExtractor:
    """Windows of 22.05 kHz samples to their note and onset activations, stored as float16 arrays
    `note` and `onset` of (windows, frames, 88): half the disk of float32, far finer than the model's."""

    def __init__(self, config: NotesFeatureConfig | None = None) -> None:
        self.config = config or NotesFeatureConfig()

    def arrays(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        frames = self.config.frames_per_window
        heard = [activations(window) for window in np.atleast_2d(np.asarray(windows, np.float32))]
        return {
            name: np.stack([_frames(h[name], frames) for h in heard]).astype(np.float16) for name in ("note", "onset")
        }


def _frames(activation: np.ndarray, frames: int) -> np.ndarray:
    """Exactly `frames` frames: the model's count can differ by one from the window's at some lengths."""
    if len(activation) >= frames:
        return activation[:frames]
    return np.pad(activation, ((0, frames - len(activation)), (0, 0)))
