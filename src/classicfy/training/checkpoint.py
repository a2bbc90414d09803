"""Weights and state as safetensors + JSON: loading never executes code (no pickle).

A training checkpoint is one safetensors file whose header metadata carries the JSON state
(epoch, best score, history, optimizer hyperparameters), so tensors and state can never disagree.
A model is `NAME.safetensors` beside `NAME.json` describing how to rebuild it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from classicfy import atomic

MODEL_FORMAT = 1  # version of models/NAME.json + NAME.safetensors; bump when old runs can no longer load


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], state: dict | None = None) -> None:
    """Write tensors (and optional JSON state in the header) atomically."""
    from safetensors.torch import save

    metadata = {"state": json.dumps(state)} if state is not None else None
    contiguous = {name: t.detach().contiguous().cpu() for name, t in tensors.items()}
    atomic.write_bytes(path, save(contiguous, metadata=metadata))


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """Tensors and the JSON state saved with them."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - not a dict
        metadata = handle.metadata() or {}
    return tensors, json.loads(metadata["state"]) if "state" in metadata else None


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer's state dict into tensors (per-parameter state) and JSON (the rest)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{key}"] = value
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], saved: dict) -> None:
    per_param: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            per_param.setdefault(int(index), {})[key] = value
    for name, value in saved["scalars"].items():
        index, key = name.split(".", 1)
        per_param.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": per_param, "param_groups": saved["param_groups"]})
