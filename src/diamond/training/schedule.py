"""Algorithm 1's schedule as pure functions (spec §1)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
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


SCHEDULED = ("denoiser", "rew_end", "actor_critic")  # the networks whose update counts ScheduleConfig holds


def scheduled_updates(cfg: ScheduleConfig, name: str) -> Callable[[int], int]:
    """Updates of network ``name`` in epoch e: ``<name>_updates_first`` in the first, ``<name>_updates`` after."""
    if name not in SCHEDULED:
        raise ValueError(f"the schedule holds no update counts for {name!r}; it has {SCHEDULED}")
    first, later = getattr(cfg, f"{name}_updates_first"), getattr(cfg, f"{name}_updates")
    return lambda epoch: first if epoch == 1 else later


@dataclass(frozen=True)
class EpochPlan:
    epoch: int
    collect_steps: int  # 0 for the initial epoch (the initial collection rule decides) and the extra epochs
    updates: dict[str, int]  # per trained network, in update order
    evaluate: bool


def plan_epoch(
    epoch: int, agent_steps: int, cfg: ScheduleConfig, counts: Mapping[str, Callable[[int], int]] | None = None
) -> EpochPlan:
    """What epoch ``epoch`` (1-based) does, given the agent steps already taken. ``counts``: each network's
    updates per epoch (default: the three of the schedule)."""
    counts = counts if counts is not None else {name: scheduled_updates(cfg, name) for name in SCHEDULED}
    first = epoch == 1
    collect = 0 if first else min(cfg.steps_per_epoch, max(0, cfg.total_steps - agent_steps))
    return EpochPlan(
        epoch=epoch,
        collect_steps=collect,
        updates={name: int(n(epoch)) for name, n in counts.items()},
        evaluate=epoch % cfg.eval_every == 0,
    )


def run_finished(epoch: int, agent_steps: int, epochs_without_collection: int, cfg: ScheduleConfig) -> bool:
    """Done once the budget is spent and ``extra_epochs`` epochs have trained without collecting."""
    return epoch >= 1 and agent_steps >= cfg.total_steps and epochs_without_collection >= cfg.extra_epochs


def remaining_epochs(agent_steps: int, epochs_without_collection: int, cfg: ScheduleConfig) -> int:
    """An estimate of the epochs left (for the ETA)."""
    collecting = max(0, cfg.total_steps - max(agent_steps, cfg.initial_steps))
    return math.ceil(collecting / cfg.steps_per_epoch) + max(0, cfg.extra_epochs - epochs_without_collection)


def regular_epoch_seconds(
    times: dict[str, float], first: EpochPlan, regular: EpochPlan, collected: int, steps_per_epoch: int
) -> float:
    """Expected seconds of a later epoch (``regular``), from the first epoch's time per collected step and
    per update (the first epoch's counts differ, so its own duration would mislead an ETA)."""

    def scaled(phase: str, done: int, planned: int) -> float:
        return times.get(phase, 0.0) / done * planned if done else 0.0

    return scaled("collect", collected, steps_per_epoch) + sum(
        scaled(name, n, regular.updates.get(name, 0)) for name, n in first.updates.items()
    )


@dataclass(frozen=True)
class RunTotals:
    """What a whole run does under a schedule (``run_totals``)."""

    epochs: int
    collect_steps: int  # real steps collected by the epochs, after the initial collection
    updates: dict[str, int]  # per network, the first epoch's included
    evaluations: int  # epochs that evaluate (each plays ``eval_episodes`` test episodes)


def run_totals(
    cfg: ScheduleConfig, initial_steps: int, counts: Mapping[str, Callable[[int], int]] | None = None
) -> RunTotals:
    """The epochs, collected steps, updates and evaluations of a whole run whose initial collection took
    ``initial_steps`` (the rule extends it by the data's rewards), following the training loop's own rules:
    ``plan_epoch`` for each epoch and ``run_finished`` for the end."""
    epoch = steps = without_collection = collected = evaluations = 0
    updates: Counter = Counter()
    while not run_finished(epoch, steps, without_collection, cfg):
        epoch += 1
        plan = plan_epoch(epoch, steps, cfg, counts)
        taken = initial_steps if epoch == 1 else plan.collect_steps
        steps += taken
        collected += plan.collect_steps
        without_collection = 0 if taken else without_collection + 1
        updates.update(plan.updates)
        evaluations += plan.evaluate
    return RunTotals(epoch, collected, dict(updates), evaluations)
