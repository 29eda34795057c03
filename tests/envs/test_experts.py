"""The scripted experts behind `diamond collect --policy expert` and the studies' datasets (spec §9)."""

from __future__ import annotations

import numpy as np
import pytest

from diamond.envs.atari import AtariConfig, make_atari_env
from diamond.envs.experts import make_expert
from diamond.errors import InvalidValue
from diamond.training.collection import collect_into_store

pytest.importorskip("ale_py")


def _play(game: str, policy_of, steps: int) -> float:
    env = make_atari_env(AtariConfig(game=game), "test", num_envs=2, seed=3)
    try:
        policy = policy_of(env)
        obs, total = env.reset(), 0.0
        if hasattr(policy, "reset"):
            policy.reset(np.ones(2, bool))
        for _ in range(steps):
            obs, rew, end, trunc, _ = env.step(policy(obs))
            total += float(rew.sum())
            if hasattr(policy, "reset") and (end | trunc).any():
                policy.reset(end | trunc)
        return total
    finally:
        env.close()


@pytest.mark.parametrize("game,steps", [("Breakout", 600), ("Boxing", 600)])
def test_expert_outscores_random_play(game, steps):
    rng = np.random.default_rng(0)
    random = _play(game, lambda env: lambda obs: env.action_space.sample(rng, len(obs)), steps)
    expert = _play(game, lambda env: make_expert(game, env), steps)
    # Over 2 × 600 steps random play scores about 2 points in Breakout and about 0 in Boxing.
    assert expert >= random + 8, (game, expert, random)


def test_expert_needs_a_known_game_and_in_process_atari_envs(tmp_path):
    env = make_atari_env(AtariConfig(game="Pong"), "test", num_envs=1, seed=0)
    with pytest.raises(InvalidValue, match="no scripted expert for 'Pong'.*Boxing"):
        make_expert("Pong", env)
    env.close()
    with pytest.raises(InvalidValue, match="--backend sync"):
        make_expert("Breakout", object())
    with pytest.raises(InvalidValue, match="--policy 'clever'"):
        collect_into_store("atari", "Breakout", "test", 10, tmp_path / "s", policy="clever")
    with pytest.raises(InvalidValue, match="--epsilon 1.5"):
        collect_into_store("atari", "Breakout", "test", 10, tmp_path / "s", policy="expert", epsilon=1.5)
    assert not (tmp_path / "s").exists()  # refused before a store was made


def test_collect_with_the_expert_writes_its_episodes(tmp_path):
    result = collect_into_store("atari", "Boxing", "test", 120, tmp_path / "s", policy="expert", epsilon=0.1)
    assert result["policy"] == "expert" and result["total_steps"] == 120
    from diamond.data.datasets import open_dataset

    store = open_dataset(tmp_path / "s", "test")
    ep = store.get(0)
    assert len(ep) == 120 and ep.act.max() < 18 and len(np.unique(ep.act)) > 3
