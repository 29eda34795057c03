"""Where each epoch's experience comes from: the real steps it takes and the batches its networks learn from.

``ReplayAndImagination`` is Algorithm 1 (spec §1): the policy collects real steps into the replay store,
the world model learns from the store and the actor-critic from imagined rollouts. ``RealRollouts`` is
the model-free baseline: the actor-critic alone, on rollouts in real envs, each of whose steps counts
against the budget of agent steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from diamond.configs.schema import ConfigError, TrainConfig
from diamond.data.sampler import SegmentSampler
from diamond.training.agent import AgentTraining
from diamond.training.collector import Collector, CollectStats
from diamond.training.networks import REPLAY, ROLLOUTS
from diamond.training.schedule import EpochPlan, initial_collection_done, run_finished

Sources = dict[str, Callable[[], Any]]


def world_model_sources(agent: AgentTraining, sampler: SegmentSampler) -> Sources:
    """Segments of stored episodes, and the actor-critic's rollouts in the world model as it stands."""
    return {REPLAY: lambda: sampler, ROLLOUTS: lambda: agent.rollout_runner(agent.world_model_env(sampler))}


class ReplayAndImagination:
    imagines = True  # the final report shows the agent in imagination

    def __init__(self, cfg: TrainConfig, agent: AgentTraining, collector: Collector, store) -> None:
        self.cfg = cfg
        self.collector = collector
        self.store = store
        self.sampler = SegmentSampler(store, agent.rng)
        self.sources = world_model_sources(agent, self.sampler)

    def collect(self, plan: EpochPlan, state) -> tuple[EpochPlan, CollectStats]:
        """The epoch's real steps (the first epoch: the initial collection, spec §1); returns the plan and what
        the collection did."""
        sched = self.cfg.schedule
        if plan.epoch > 1:
            return plan, self.collector.collect(plan.collect_steps)
        collected = self.collector.collect(sched.initial_steps)
        while not initial_collection_done(collected.steps, self._all_rewards(), sched):
            collected = collected.add(self.collector.collect(sched.initial_extension))
        state.initial_steps = collected.steps
        if len(self.store) == 0:
            raise ConfigError(
                f"no {self.cfg.env.game} episode ended within the initial collection of {collected.steps} agent "
                "steps, so the world model has nothing to learn from; raise schedule.initial_steps (and "
                "initial_steps_max)"
            )
        return plan, collected

    def close(self) -> None:
        pass  # the collector's env and the store belong to the run

    def finished(self, state) -> bool:
        return run_finished(state.epoch, state.agent_steps, state.epochs_without_collection, self.cfg.schedule)

    def _all_rewards(self) -> np.ndarray:
        stored = [self.store.get(i).rew for i in range(len(self.store))]
        running = self.collector.running_rewards()
        return np.concatenate([*stored, running]) if stored else running


class RealRollouts:
    imagines = False

    def __init__(self, cfg: TrainConfig, agent: AgentTraining, env) -> None:
        im = cfg.actor_critic_training.imagination
        self.cfg = cfg
        self.steps_per_update = im.batch_size * im.horizon  # real agent steps of one update's rollouts
        self.updates_in = agent.components["actor_critic"].updates_in
        self.env = env
        runner = agent.rollout_runner(env)  # kept across epochs: its envs' episodes go on
        self.sources: Sources = {ROLLOUTS: lambda: runner}

    def affordable(self, planned: int, agent_steps: int) -> int:
        return min(planned, max(0, self.cfg.schedule.total_steps - agent_steps) // self.steps_per_update)

    def collect(self, plan: EpochPlan, state) -> tuple[EpochPlan, CollectStats]:
        """No collection: the budget pays for the updates' rollouts instead (as many updates as it affords)."""
        updates = self.affordable(plan.updates["actor_critic"], state.agent_steps)
        plan = replace(plan, updates={**plan.updates, "actor_critic": updates})
        return plan, CollectStats(steps=updates * self.steps_per_update)

    def close(self) -> None:
        self.env.env.close()

    def finished(self, state) -> bool:
        """Done once no further update fits the budget."""
        return self.affordable(self.updates_in(state.epoch + 1), state.agent_steps) == 0
