"""Data-parallel runs (torchrun): rank 0 runs the loop and tells the other processes each epoch's plan;
they make the same updates (``update_components``) on their shards of each batch and hand their random
state back for rank 0's checkpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from diamond.checkpoints.project import load_checkpoint
from diamond.configs.schema import TrainConfig
from diamond.data.sampler import SegmentSampler
from diamond.layout import AgentRun
from diamond.training.agent import AgentTraining, fit_to_env
from diamond.training.components import update_components
from diamond.training.distributed import DistInfo
from diamond.training.experience import world_model_sources
from diamond.training.run_state import CHECKPOINT, check_world_size
from diamond.training.schedule import EpochPlan


def broadcast(info: DistInfo, message: dict[str, Any] | None) -> dict[str, Any]:
    """Rank 0's message to every process (a no-op with one process)."""
    if not info.enabled:
        return message or {}
    box = [message]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def gather(info: DistInfo, item: Any) -> list[Any]:
    """Every process's item, at rank 0 (rank 0's own is dropped): the followers' RNG states."""
    if not info.enabled:
        return []
    out = [None] * info.world_size if info.is_main else None
    torch.distributed.gather_object(item, out, dst=0)
    return list(out[1:]) if out is not None else []


def follow(
    cfg: TrainConfig, run_dir: Path, device: torch.device, info: DistInfo, resume: bool, make_env: Callable[..., Any]
) -> dict[str, Any]:
    """A process of rank > 0: the same updates as rank 0 on its own shard of every batch, sampled from a
    read-only view of the replay data that rank 0 collects; no collection, evaluation or output."""
    env = make_env(cfg, "train", 1, cfg.seed)
    cfg = fit_to_env(cfg, env.action_space, int(env.observation_shape[0]))
    env.close()
    agent = AgentTraining(cfg, device, info)
    if resume and (run_dir / CHECKPOINT).exists():  # rank 0 starts afresh where none was written
        payload = load_checkpoint(run_dir / CHECKPOINT)  # on the CPU, like rank 0
        check_world_size(run_dir / CHECKPOINT, payload, info)
        agent.load_state_dict(payload["agent"])
        agent.load_rng_state(payload["follower_rngs"][info.rank - 1])
    from diamond.data import EpisodeStore

    store = sources = None
    while not (message := broadcast(info, None))["stop"]:
        plan = EpochPlan(**message["plan"])
        if store is None:  # rank 0 creates the store before its first message
            store = EpisodeStore.open(run_dir / AgentRun.TRAIN_DATA, read_only=True)
            sources = world_model_sources(agent, SegmentSampler(store, agent.rng, static=False))
        store.refresh()
        update_components(agent.components.values(), plan.updates, sources, time.monotonic)
        gather(info, agent.rng_state())
    return {"rank": info.rank}
