"""Training on several processes with torch's DistributedDataParallel, as torchrun launches them.

`torchrun --nproc-per-node N -m classicfy train ...` starts N ranks; `join_launched_group` makes
each one a member of the group (gloo on CPUs, NCCL on GPUs). The leader (rank 0) alone extracts,
splits and writes: the others wait for it, then read what it made. Every rank trains on its shard
of each batch of the epoch's balanced sample, gradients are averaged, so every rank holds the same
weights after every step; the leader validates and writes checkpoints, models and history.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import torch
import torch.distributed as dist

from classicfy.errors import ClassicfyError
from classicfy.workspace import default_jobs

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1

    @property
    def leader(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def shard(self, batch: np.ndarray) -> np.ndarray:
        """This rank's part of a batch every rank drew alike."""
        return batch[self.rank :: self.world]


def ranks() -> Ranks:
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size())
    return Ranks()


def launched() -> bool:
    """Whether torchrun (or another launcher setting its variables) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join_launched_group(device: torch.device) -> torch.device:
    """Join the process group torchrun's variables describe, and the device this rank trains on
    (its own GPU, `LOCAL_RANK`, on CUDA); each rank takes its share of the CPUs."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    torch.set_num_threads(max(1, default_jobs() // local_world))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if dist.get_rank() != 0:
        logging.getLogger().setLevel(logging.WARNING)  # the leader tells the story once
    return device


def leave_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _broadcast(value: Any) -> Any:
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def leader_first(leader_work: Callable[[], T], follower_work: Callable[[], T] | None = None) -> T:
    """The leader's work first, while the others wait; then theirs (by default the same work, which
    finds what the leader wrote). A failure of the leader's reaches every rank as the same one-line
    error."""
    here = ranks()
    if not here.distributed:
        return leader_work()
    if here.leader:
        try:
            result = leader_work()
        except BaseException as error:
            _broadcast(str(error) if isinstance(error, ClassicfyError) else f"rank 0 failed: {error!r}")
            raise
        _broadcast(None)
        return result
    failure = _broadcast(None)
    if failure is not None:
        raise ClassicfyError(failure)
    return (follower_work or leader_work)()


def from_leader(value: T | None) -> T:
    """The leader's `value`, on every rank (the others pass None)."""
    return cast(T, _broadcast(value) if ranks().distributed else value)


def gathered(values: list[np.ndarray]) -> list[np.ndarray]:
    """Every rank's arrays, rank by rank, on every rank."""
    here = ranks()
    if not here.distributed:
        return values
    everyone: list[Any] = [None] * here.world
    dist.all_gather_object(everyone, values)
    return [array for part in everyone for array in part]
