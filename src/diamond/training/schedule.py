"""Algorithm 1's schedule as pure functions (spec §1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diamond.configs.schema import ScheduleConfig


def rare_reward_count(rewards: np.ndarray) -> int:
    """Occurrences of the reward classes (sign-clipped) other than the most frequent one."""
    classes = np.sign(np.asarray(rewards, dtype=np.float64))
    if classes.size == 0:
        return 0
    _, counts = np.unique(classes, return_counts=True)
    return int(counts.sum() - counts.max())


def initial_collection_done(steps: int, rewards: np.ndarray, cfg: ScheduleConfig) -> bool:
    """5,000 steps, extended 100 at a time until 10 rare rewards or 10,000 steps (spec §1)."""
    if steps < cfg.initial_steps:
        return False
    return steps >= cfg.initial_steps_max or rare_reward_count(rewards) >= cfg.initial_min_rare_rewards


@dataclass(frozen=True)
class EpochPlan:
    epoch: int
    collect_steps: int  # 0 for the initial epoch (the initial collection rule decides) and the extra epochs
    denoiser_updates: int
    rew_end_updates: int
    actor_critic_updates: int
    evaluate: bool


def plan_epoch(epoch: int, agent_steps: int, cfg: ScheduleConfig) -> EpochPlan:
    """What epoch ``epoch`` (1-based) does, given the agent steps already taken."""
    first = epoch == 1
    collect = 0 if first else min(cfg.steps_per_epoch, max(0, cfg.total_steps - agent_steps))
    return EpochPlan(
        epoch=epoch,
        collect_steps=collect,
        denoiser_updates=cfg.denoiser_updates_first if first else cfg.denoiser_updates,
        rew_end_updates=cfg.rew_end_updates_first if first else cfg.rew_end_updates,
        actor_critic_updates=cfg.actor_critic_updates_first if first else cfg.actor_critic_updates,
        evaluate=epoch % cfg.eval_every == 0,
    )


def run_finished(epoch: int, agent_steps: int, epochs_without_collection: int, cfg: ScheduleConfig) -> bool:
    """Done once the budget is spent and ``extra_epochs`` epochs have trained without collecting."""
    return epoch >= 1 and agent_steps >= cfg.total_steps and epochs_without_collection >= cfg.extra_epochs


def regular_epoch_seconds(times: dict[str, float], first: EpochPlan, collected: int, cfg: ScheduleConfig) -> float:
    """Expected seconds of a later epoch, from the first epoch's time per collected step and per update
    (the first epoch's counts differ, so its own duration would mislead an ETA)."""
    def scaled(phase: str, done: int, planned: int) -> float:
        return times.get(phase, 0.0) / done * planned if done else 0.0

    return (scaled("collect", collected, cfg.steps_per_epoch)
            + scaled("denoiser", first.denoiser_updates, cfg.denoiser_updates)
            + scaled("rew_end", first.rew_end_updates, cfg.rew_end_updates)
            + scaled("actor_critic", first.actor_critic_updates, cfg.actor_critic_updates))
