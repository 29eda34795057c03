"""Data-parallel training over several processes with torch.distributed (DDP), as launched by torchrun.

Every process holds a replica of a model and computes the loss on its shard of the global batch;
DDP averages the gradients during the backward pass, so every replica takes the same optimiser step.
The per-process loss must therefore be scaled so that the average of the processes' gradients is the
gradient of the loss on the whole batch: a mean over equal shards already is; a mean over unpadded
positions is not (shards hold different numbers of them), hence ``count_normaliser``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from diamond.configs.schema import ConfigError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_info() -> DistInfo:
    """The process's place in the job, from torchrun's RANK / WORLD_SIZE / LOCAL_RANK (one process if unset)."""
    try:
        return DistInfo(
            int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))
        )
    except ValueError as exc:
        raise ConfigError(f"RANK / WORLD_SIZE / LOCAL_RANK must be integers (torchrun sets them): {exc}") from None


def init(info: DistInfo, device: torch.device) -> None:
    """Join the process group: NCCL between GPUs, gloo on CPUs. Nothing to do for one process."""
    if info.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(info.local_rank)
        # the other processes wait while rank 0 collects and evaluates: allow long waits
        dist.init_process_group(
            "nccl" if device.type == "cuda" else "gloo",
            rank=info.rank,
            world_size=info.world_size,
            timeout=timedelta(hours=2),
        )


def finish(info: DistInfo) -> None:
    """Leave the process group in step with the other processes: wait until every process got here, then
    tear the group down. A process that exits with its group still open lets the backend's threads be
    destroyed while they run (with gloo, an abort of the process that exits first). The caller drops its
    DDP wrappers first: they hold the group too, and one freed only at interpreter exit (DDP's hooks make
    reference cycles) would destroy the group's threads there; hence the collection of cycles here."""
    if info.enabled and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def shard_size(global_batch: int, info: DistInfo, where: str) -> int:
    """Each process's share of a global batch; the global batch must split evenly."""
    if global_batch % info.world_size:
        raise ConfigError(
            f"{where}={global_batch} does not split evenly over {info.world_size} processes; "
            f"use a multiple of {info.world_size}"
        )
    return global_batch // info.world_size


def count_normaliser(info: DistInfo) -> Callable[[Tensor], Tensor] | None:
    """For losses averaged over a data-dependent number of positions: this process's count → the global
    count divided by the number of processes (what DDP's gradient average then turns into a global mean)."""
    if not info.enabled:
        return None

    def normalise(count: Tensor) -> Tensor:
        total = count.detach().clone()
        dist.all_reduce(total)
        return total / info.world_size

    return normalise


class Objective(nn.Module):
    """A model's training loss as a module's forward, so that DDP (which synchronises the gradients of
    what its forward computed) can wrap any loss method, however many network calls it makes."""

    def __init__(self, model: nn.Module, loss: Callable[..., Any]) -> None:
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.loss(self.model, *args, **kwargs)


def data_parallel(objective: Objective, info: DistInfo, device: torch.device) -> nn.Module:
    """DDP around the objective when there are several processes (replicas start from rank 0's weights)."""
    if not info.enabled:
        return objective
    return DistributedDataParallel(objective, device_ids=[info.local_rank] if device.type == "cuda" else None)
