"""Where models run (CPU, CUDA, Apple's MPS), and the mixed precision that suits each.

The rest of the code is device-agnostic: a model is moved once, and batches follow the model's
parameters (`device_of`). Weights are always saved from and loaded to the CPU, so a run trained on
one kind of machine loads on any other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from classicfy.errors import ClassicfyError
from classicfy.workspace import DEVICE_HELP


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """The device `name` asks for; one that is malformed or absent here is a one-line `ClassicfyError`."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ClassicfyError(f"--device {name!r} is not a device: use {DEVICE_HELP}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ClassicfyError(f"--device {name}: torch {torch.__version__} sees no CUDA device on this machine")
        if device.index is not None and device.index >= count:
            raise ClassicfyError(f"--device {name}: this machine has CUDA devices 0 to {count - 1}")
    elif device.type == "mps" and not _mps_available():
        raise ClassicfyError(f"--device {name}: this machine has no MPS device")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ClassicfyError(f"--device {name!r}: classicfy runs on {DEVICE_HELP}")
    return device


def device_of(model: nn.Module) -> torch.device:
    """Where a model's parameters (or, lacking any, its buffers) live."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def to_device(batch: torch.Tensor | np.ndarray, device: torch.device) -> torch.Tensor:
    """A CPU batch on `device`: through pinned memory and a non-blocking copy on CUDA."""
    tensor = torch.from_numpy(batch) if isinstance(batch, np.ndarray) else batch
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def in_passes(layer: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, cpu_pass: int) -> torch.Tensor:
    """`layer` over a batch in passes of `cpu_pass` examples on a CPU, where a pass whose activations
    outgrow the cache runs several times slower (bench/embeddings.py), and in one pass elsewhere."""
    # An exported graph keeps its batch dimension free: one pass, not a loop over a traced length.
    if batch.device.type != "cpu" or torch.compiler.is_exporting() or len(batch) <= cpu_pass:
        return layer(batch)
    return torch.cat([layer(batch[start : start + cpu_pass]) for start in range(0, len(batch), cpu_pass)])


@dataclass(frozen=True)
class Precision:
    """How a model trains on a device: the autocast type (None: float32) and whether gradients are
    scaled (float16 needs it, bfloat16 does not)."""

    device_type: str
    dtype: torch.dtype | None = None

    @property
    def name(self) -> str:
        return {torch.bfloat16: "bf16", torch.float16: "fp16", None: "fp32"}[self.dtype]

    @property
    def scales_gradients(self) -> bool:
        return self.dtype == torch.float16

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device_type, enabled=self.scales_gradients)


def _cpu_has_native_bf16() -> bool:
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private, so looked up with care
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def training_precision(precision: str, device: torch.device, prefers_bf16: bool) -> Precision:
    """The precision a model trains at: `precision` is "fp32", "bf16", or "auto".

    On CUDA "auto" is bfloat16 where the GPU has it, else float16 with a gradient scaler. On a CPU,
    bfloat16 makes a convolutional model's epoch about twice as fast where it is native (AMX,
    AVX512-BF16) and a GRU's slower, so "auto" takes it only for models that gain (`prefers_bf16`) on
    CPUs that have it. Evaluation and prediction run in float32 everywhere.
    """
    if precision == "fp32" or device.type == "mps":
        return Precision(device.type)
    if device.type == "cuda":
        if precision == "bf16" or torch.cuda.is_bf16_supported():
            return Precision("cuda", torch.bfloat16)
        return Precision("cuda", torch.float16)
    if precision == "bf16" or (prefers_bf16 and _cpu_has_native_bf16()):
        return Precision("cpu", torch.bfloat16)
    return Precision("cpu")
