"""Env snapshots let a restored collector continue its running episodes exactly (Atari and MinAtar)."""

import numpy as np
import pytest

from diamond.checkpoints.trees import from_tensor_tree, to_tensor_tree
from diamond.envs import AtariConfig, make_atari_env
from diamond.training.collector import Collector, RandomPolicy
from diamond.training.evaluation_episodes import EpisodeList


def _make(family: str, backend: str):
    if family == "atari":
        return make_atari_env(AtariConfig(game="Breakout"), kind="train", num_envs=2, seed=3, backend=backend)
    pytest.importorskip("minatar")
    from diamond.envs import MinAtarConfig, make_minatar_env

    return make_minatar_env(MinAtarConfig(game="breakout", size=10), num_envs=2, seed=3, backend=backend)


@pytest.mark.parametrize("family,backend", [("atari", "sync"), ("minatar", "sync"), ("atari", "subproc")])
def test_restored_collector_continues_running_episodes_exactly(family, backend):
    env = _make(family, backend)
    try:
        first = EpisodeList()
        collector = Collector(env, first, RandomPolicy(env.action_space, seed=1), epsilon=0.5, seed=2)
        collector.collect(30)
        state = from_tensor_tree(to_tensor_tree(collector.state_dict()))  # as through a checkpoint file
        policy_state = collector.policy.rng.bit_generator.state
        assert state["env_snapshots"] is not None and any(len(p["act"]) for p in state["partials"])
        collector.collect(200)
        expected = first.episodes[len(first.episodes) - collector.total_episodes + state["total_episodes"] :]
    finally:
        env.close()

    env = _make(family, backend)
    try:
        second = EpisodeList()
        policy = RandomPolicy(env.action_space, seed=1)
        policy.rng.bit_generator.state = policy_state
        restored = Collector(env, second, policy, epsilon=0.5, seed=2)
        restored.load_state_dict(state)
        restored.collect(200)
    finally:
        env.close()
    assert len(second.episodes) == len(expected) > 0
    for x, y in zip(expected, second.episodes):
        assert np.array_equal(x.obs, y.obs) and np.array_equal(x.act, y.act) and np.array_equal(x.rew, y.rew)
        assert np.array_equal(x.end, y.end) and np.array_equal(x.trunc, y.trunc)
        assert not y.trunc[-1] or x.trunc[-1]  # nothing was cut short by the restore


def test_tensor_tree_round_trip():
    tree = {"a": np.arange(6, dtype=np.uint8).reshape(2, 3), "b": [b"\x00\x01", b""], "c": (1, "x", None)}
    back = from_tensor_tree(to_tensor_tree(tree))
    assert back["a"].dtype == np.uint8 and np.array_equal(back["a"], tree["a"])
    assert back["b"] == tree["b"] and back["c"] == tree["c"]
