"""One epoch of Algorithm 1 (spec §1) in named steps: collect, update the networks, evaluate, record
(metrics line, TensorBoard, the epoch's line of output), checkpoint."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import numpy as np

from diamond.checkpoints.project import save_checkpoint
from diamond.layout import AgentRun
from diamond.rl.policy import RecurrentPolicy
from diamond.training import follower, run_state
from diamond.training.collector import CollectStats
from diamond.training.components import update_components
from diamond.training.evaluation_episodes import EpisodeReturns, run_evaluation_episodes
from diamond.training.run_state import Run, RunState
from diamond.training.schedule import EpochPlan, plan_epoch, regular_epoch_seconds, remaining_epochs

TEST_SEED_OFFSET = 10_000


def run_epoch(run: Run) -> None:
    """Epoch ``state.epoch + 1``, ending with its checkpoint."""
    state = run.state
    state.epoch += 1
    first = state.epoch == 1  # the long one: the initial collection, then the first updates; said as it goes
    if first:
        run.log("epoch 1: collecting the initial steps (spec §1)")
    plan, collected, times = collect(
        run, plan_epoch(state.epoch, state.agent_steps, run.cfg.schedule, run.agent.update_counts)
    )
    if first:
        counts = ", ".join(f"{name} {n:,}" for name, n in plan.updates.items())
        run.log(f"epoch 1: {collected.steps:,} steps collected in {times['collect']:.1f}s; updates: {counts}")
    follower.broadcast(run.info, {"stop": False, "plan": asdict(plan)})  # the other processes update with us
    update_times, stats = update_components(
        run.agent.components.values(), plan.updates, run.experience.sources, time.monotonic
    )
    times.update(update_times)
    if run.experience.imagines:  # the real steps' rates beside the imagined ones (the model-free runs' are not)
        stats.update(collected.rates())
    follower_rngs = follower.gather(run.info, None)
    t = time.monotonic()
    if plan.evaluate:
        stats.update(evaluate(run))
    times["evaluation"] = time.monotonic() - t if plan.evaluate else 0.0
    state.training_done = run.experience.finished(state)
    record(run, plan, collected.steps, times, stats)
    run_state.save_state(run, follower_rngs)  # looked up at call time: tests kill the process here


def collect(run: Run, plan: EpochPlan) -> tuple[EpochPlan, CollectStats, dict[str, float]]:
    """The epoch's real steps; returns the plan (the experience may adjust it), what the collection did and
    the time taken."""
    state = run.state
    t = time.monotonic()
    plan, collected = run.experience.collect(plan, state)
    state.agent_steps += collected.steps
    # the extra epochs (spec §1) are those after the last collection: a budget raised on resume collects again
    state.epochs_without_collection = 0 if collected.steps else state.epochs_without_collection + 1
    return plan, collected, {"collect": time.monotonic() - t}


def play(run: Run, num_episodes: int, seed: int) -> EpisodeReturns:
    """Whole test episodes of the current policy (spec §1), in up to 16 envs at once."""
    env = run.make_env(run.cfg, "test", min(num_episodes, 16), seed)
    try:
        policy = RecurrentPolicy(run.agent.actor_critic, env.num_envs, seed=seed)
        return run_evaluation_episodes(
            env, policy, num_episodes, seed=seed, max_steps=run.cfg.schedule.test_env_max_steps
        )
    finally:
        env.close()


def evaluate(run: Run) -> dict[str, float]:
    """Test episodes, the networks' losses on them, and a snapshot of the actor-critic."""
    state, cfg = run.state, run.cfg
    result = play(run, cfg.schedule.eval_episodes, cfg.seed + TEST_SEED_OFFSET + state.epoch)
    stats = run.agent.held_out_stats(result.episodes, cfg.seed)
    stats["test/return"] = result.mean
    state.test_history.append({"epoch": state.epoch, "agent_steps": state.agent_steps, "returns": result.returns})
    save_checkpoint(
        run.run_dir / AgentRun.snapshot(state.epoch),
        run.config,
        actor_critic=run.agent.actor_critic.state_dict(),
        epoch=state.epoch,
        agent_steps=state.agent_steps,
    )
    return stats


def record(run: Run, plan: EpochPlan, collected: int, times: dict[str, float], stats: dict[str, float]) -> None:
    """The epoch's metrics line and TensorBoard scalars (against agent steps), and its line of output."""
    state = run.state
    state.epoch_seconds.append(sum(times.values()))
    stats = {**stats, **{f"time/{k}": v for k, v in times.items()}}
    for key, value in stats.items():
        run.writer.add_scalar(key, value, state.agent_steps)
    run_state.append_metrics(run.run_dir, {"epoch": state.epoch, "agent_steps": state.agent_steps, **stats})
    run.log(epoch_line(state, run.cfg.schedule.total_steps, times, stats, eta(run, plan, collected, times)))


def eta(run: Run, plan: EpochPlan, collected: int, times: dict[str, float]) -> float:
    """Seconds left: the mean of the last ten epochs (but the first) times the epochs left."""
    state, sched = run.state, run.cfg.schedule
    if state.training_done:
        return 0.0
    if state.epoch == 1:  # the first epoch's update counts differ: scale its per-update times instead
        regular = plan_epoch(2, state.agent_steps, sched, run.agent.update_counts)
        recent = [regular_epoch_seconds(times, plan, regular, collected, sched.steps_per_epoch)]
    else:
        recent = state.epoch_seconds[1:][-10:] or state.epoch_seconds[-1:]
    return float(np.mean(recent)) * remaining_epochs(state.agent_steps, state.epochs_without_collection, sched)


def _fmt_time(seconds: float) -> str:
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"


def epoch_line(state: RunState, total_steps: int, times: dict[str, float], stats: dict[str, Any], eta: float) -> str:
    split = " ".join(f"{k} {v:.1f}s" for k, v in times.items() if v > 0)
    parts = [
        f"epoch {state.epoch}",
        f"agent steps {state.agent_steps:,}/{total_steps:,}",
        f"{sum(times.values()):.1f}s ({split})",
    ]
    for kind in ("imagined", "real"):  # the actor-critic's rollouts: imagined, or real with the model-free switch
        if f"{kind}_frames_per_s" in stats:
            parts.append(f"{stats[f'{kind}_frames_per_s']:.0f} {kind} frames/s")
    if "test/return" in stats:
        parts.append(f"test return {stats['test/return']:.2f}")
    parts.append(f"ETA {_fmt_time(eta)}")
    return " | ".join(parts)
