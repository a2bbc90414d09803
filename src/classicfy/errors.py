"""The one small error hierarchy: the CLI turns these into one-line messages and exit code 2."""

from __future__ import annotations


class ClassicfyError(Exception):
    """A problem with the user's input or environment, not a bug in classicfy."""


class DatasetError(ClassicfyError):
    """A dataset cannot be listed, labelled or split as asked."""


class RunError(ClassicfyError):
    """A run folder is missing, incomplete or inconsistent."""


class DivergedError(ClassicfyError):
    """A model's loss stopped being a finite number: its training cannot go on."""


def skip_reason(kind: str, detail: str) -> str:
    """The kind and the detail together, as a run lists a skipped file (remembered failures too)."""
    return f"{kind} ({detail})" if detail else kind


class AudioError(ClassicfyError):
    """A file that cannot be used as a recording; `kind` names why in one word."""

    kind = "unusable"
    cacheable = True  # the file's own fault: the same bytes will fail the same way, so remember it

    def __init__(self, path: str, detail: str = "") -> None:
        self.path = str(path)
        self.detail = detail
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self):
        # Rebuilt from (path, detail), not from the message, when sent back from a worker process.
        return type(self), (self.path, self.detail)

    @property
    def reason(self) -> str:
        return skip_reason(self.kind, self.detail)


class MissingAudioError(AudioError):
    kind = "not-found"


class EmptyAudioError(AudioError):
    kind = "empty"


class CorruptAudioError(AudioError):
    kind = "corrupt"


class UnreadableAudioError(AudioError):
    """Reading stopped part-way for a reason outside the file's bytes (an I/O error, no memory left)."""

    kind = "unreadable"
    cacheable = False  # the next run tries again


class NotAudioError(AudioError):
    kind = "not-audio"


class TooShortAudioError(AudioError):
    kind = "too-short"


class SilentAudioError(AudioError):
    kind = "silent"
