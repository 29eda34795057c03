"""The end of a ``diamond train`` run: final test episodes (and a random policy's, if asked), the learning
curve, videos and results.json (spec §1: 100 test episodes at the end)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from diamond.data.sampler import SegmentSampler
from diamond.fileio import write_json_atomically
from diamond.layout import AgentRun
from diamond.training.collector import RandomPolicy
from diamond.training.epoch import TEST_SEED_OFFSET, play
from diamond.training.evaluation_episodes import mean_ci95, run_evaluation_episodes
from diamond.training.run_state import RESULTS, Run


def final_report(run: Run) -> dict[str, Any]:
    from diamond.evaluation.agent_report import imagination_video, plot_learning_curve, real_game_video

    cfg, state, log = run.cfg, run.state, run.log
    t = time.monotonic()
    final = play(run, cfg.schedule.final_episodes, cfg.seed + TEST_SEED_OFFSET)
    mean, low, high = mean_ci95(final.returns)
    log(f"final: mean return {mean:.2f} (95% CI {low:.2f} to {high:.2f}) over {len(final.returns)} test episodes")
    results: dict[str, Any] = {
        "game": cfg.env.game,
        "env": cfg.env.family,
        "model_free": cfg.model_free,
        "seed": cfg.seed,
        "agent_steps": state.agent_steps,
        "epochs": state.epoch,
        "initial_steps": state.initial_steps,
        "final": {
            "mean_return": mean,
            "ci95": [low, high],
            "episodes": len(final.returns),
            "returns": final.returns,
            "lengths": final.lengths,
        },
        "test_history": [
            {
                "epoch": h["epoch"],
                "agent_steps": h["agent_steps"],
                "mean_return": float(np.mean(h["returns"])),
                "returns": h["returns"],
            }
            for h in state.test_history
        ],
        "train_seconds": float(sum(state.epoch_seconds)),
    }
    if cfg.schedule.random_episodes:
        results.update(random_policy(run, agent_low=low))
    results["learning_curve"] = str(plot_learning_curve(results, run.run_dir / AgentRun.LEARNING_CURVE))
    results["videos"] = {"real_game": str(real_game_video(final.episodes, run.run_dir / AgentRun.REAL_GAME_VIDEO))}
    if run.experience.imagines:
        sampler = SegmentSampler(run.store, np.random.default_rng(cfg.seed))
        video = imagination_video(run.agent, sampler, run.run_dir / AgentRun.IMAGINATION_VIDEO)
        results["videos"]["imagination"] = str(video)
    results["final_seconds"] = time.monotonic() - t
    write_json_atomically(run.run_dir / RESULTS, results)
    log(f"wrote {run.run_dir / RESULTS}, {results['learning_curve']} and {', '.join(results['videos'].values())}")
    return results


def random_policy(run: Run, agent_low: float) -> dict[str, Any]:
    """A uniformly random policy's test returns, and whether the agent's 95% interval (whose lower end is
    ``agent_low``) lies wholly above the random policy's."""
    cfg, sched = run.cfg, run.cfg.schedule
    env = run.make_env(cfg, "test", min(sched.random_episodes, 16), cfg.seed + TEST_SEED_OFFSET)
    try:
        rnd = run_evaluation_episodes(
            env,
            RandomPolicy(env.action_space, seed=cfg.seed),
            sched.random_episodes,
            seed=cfg.seed,
            keep_episodes=False,
            max_steps=sched.test_env_max_steps,
        )
    finally:
        env.close()
    r_mean, r_low, r_high = mean_ci95(rnd.returns)
    beats = bool(agent_low > r_high)
    run.log(
        f"uniformly random policy: mean return {r_mean:.2f} (95% CI {r_low:.2f} to {r_high:.2f}); "
        f"the agent {'beats' if beats else 'does not beat'} it with non-overlapping intervals"
    )
    return {
        "random": {
            "mean_return": r_mean,
            "ci95": [r_low, r_high],
            "episodes": len(rnd.returns),
            "returns": rnd.returns,
        },
        "beats_random": beats,
    }
