"""The collector on the real ALE: whole episodes with true final observations, continued across calls."""

from __future__ import annotations

import json

import numpy as np
import pytest

from diamond.data.episode import Episode
from diamond.envs import AtariConfig, make_atari_env
from diamond.spaces import ActionSpace
from diamond.training.collector import Collector, CollectStats, RandomPolicy

SHORT = AtariConfig(game="Breakout", max_episode_frames=600)  # short games: many episodes in few steps


class ListSink:
    """The store's ``add`` on a list."""

    def __init__(self) -> None:
        self.episodes: list[Episode] = []

    def add(self, episode: Episode) -> int:
        self.episodes.append(episode)
        return len(self.episodes) - 1


class RecordingEnv:
    """Passes everything through to a real vector env and remembers what it returned."""

    def __init__(self, env) -> None:
        self.env = env
        self.num_envs, self.action_space, self.observation_shape = env.num_envs, env.action_space, env.observation_shape
        self.steps: list[tuple] = []
        self.resets: list[np.ndarray] = []

    def reset(self, seed=None):
        obs = self.env.reset(seed)
        self.resets.append(obs)
        return obs

    def step(self, actions):
        out = self.env.step(actions)
        self.steps.append((np.array(actions), *out))
        return out

    def protocol(self):
        return self.env.protocol()

    def close(self):
        self.env.close()


class RecordingPolicy(RandomPolicy):
    def __init__(self, space, seed: int) -> None:
        super().__init__(space, seed)
        self.resets: list[np.ndarray] = []

    def reset(self, done: np.ndarray) -> None:
        self.resets.append(done.copy())


def _collector(num_envs=2, seed=0, epsilon=0.0, policy=None, config=SHORT):
    env = RecordingEnv(make_atari_env(config, kind="train", num_envs=num_envs, seed=seed))
    sink = ListSink()
    policy = policy if policy is not None else RandomPolicy(env.action_space, seed=seed)
    return Collector(env, sink, policy, epsilon=epsilon, seed=seed), env, sink


def test_episodes_match_what_the_env_returned():
    collector, env, sink = _collector()
    stats = collector.collect(400)
    assert stats.steps == 400 and stats.episodes == len(sink.episodes) >= 4
    assert stats.returns == [e.return_ for e in sink.episodes]
    assert stats.lengths == [len(e) for e in sink.episodes]

    # Rebuild each env's episodes from the raw env outputs and compare field by field.
    for i in range(2):
        expected, current, obs = [], [], env.resets[0][i]
        for actions, next_obs, rew, end, trunc, info in env.steps:
            current.append((obs, actions[i], rew[i], end[i], trunc[i]))
            obs = next_obs[i]
            if end[i] or trunc[i]:
                expected.append((current, info["final_obs"][i]))
                current = []
        stored = [e for e in sink.episodes if e.info["env_index"] == i]
        assert len(stored) == len(expected)
        for episode, (steps, final) in zip(stored, expected):
            assert len(episode) == len(steps)
            np.testing.assert_array_equal(episode.obs, np.stack([s[0] for s in steps]))
            np.testing.assert_array_equal(episode.act, [s[1] for s in steps])
            np.testing.assert_array_equal(episode.rew, [s[2] for s in steps])
            np.testing.assert_array_equal(episode.end, [s[3] for s in steps])
            np.testing.assert_array_equal(episode.trunc, [s[4] for s in steps])
            np.testing.assert_array_equal(episode.final_obs, final)
            assert episode.end[-1] or episode.trunc[-1]
            assert not (episode.end[:-1].any() or episode.trunc[:-1].any())
            assert episode.obs.dtype == np.uint8 and episode.act.dtype == np.int64 and episode.rew.dtype == np.float32
            assert episode.info["seed"] == i and episode.info["kind"] == "train"
            json.dumps(episode.info)
    assert any(e.return_ > 0 for e in sink.episodes)  # rewards were really carried over
    assert any(e.end[-1] for e in sink.episodes) and any(e.trunc[-1] for e in sink.episodes)

    rewards = np.concatenate([rew for _, _, rew, *_ in env.steps])
    ends = int(sum(end.astype(bool).sum() for _, _, _, end, *_ in env.steps))
    assert stats.clipped_rewards == np.sign(rewards).sum() > 0
    assert stats.ends == ends == sum(int(e.end[-1]) for e in sink.episodes) > 0
    assert stats.rates() == {"collect/reward_mean": stats.clipped_rewards / 400, "collect/end_rate": ends / 400}


def test_life_loss_episodes_chain_without_a_game_reset():
    """Breakout has 5 lives: the first 4 stored episodes end by a lost life and the next starts where it ended."""
    collector, _, sink = _collector(num_envs=1, config=AtariConfig(game="Breakout"))
    while len(sink.episodes) < 6:
        collector.collect(50)
    first_game = sink.episodes[:5]
    assert all(e.end[-1] == 1 and e.trunc[-1] == 0 for e in first_game)
    for prev, nxt in zip(first_game, first_game[1:]):
        np.testing.assert_array_equal(prev.final_obs, nxt.obs[0])  # no reset between lives
    assert not np.array_equal(sink.episodes[4].final_obs, sink.episodes[5].obs[0])  # game over: a new game


def test_collecting_in_small_pieces_equals_collecting_at_once():
    whole, _, sink_whole = _collector(seed=3)
    whole.collect(300)
    pieces, _, sink_pieces = _collector(seed=3)
    total = CollectStats()
    for n in (7, 50, 1, 100, 142):
        total = total.add(pieces.collect(n))
    assert total.steps == 300 + 2  # 7 and 1 round up to 8 and 2 with 2 envs
    assert total.returns == [e.return_ for e in sink_pieces.episodes] and total.episodes == len(sink_pieces.episodes)
    stored = np.concatenate([e.rew for e in sink_pieces.episodes] + [pieces.running_rewards()])
    assert total.clipped_rewards == np.sign(stored).sum() and total.ends == sum(
        e.end.sum() for e in sink_pieces.episodes
    )
    assert len(sink_whole.episodes) == len(sink_pieces.episodes) > 0
    for a, b in zip(sink_whole.episodes, sink_pieces.episodes):
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.act, b.act)
        np.testing.assert_array_equal(a.final_obs, b.final_obs)


class NegatedTripledRewards(RecordingEnv):
    """The real env with each reward r turned into −3r: rewards the collector must clip to −1."""

    def step(self, actions):
        next_obs, rew, end, trunc, info = super().step(actions)
        return next_obs, -3 * rew, end, trunc, info


def test_rewards_are_counted_clipped_to_their_sign():
    env = NegatedTripledRewards(make_atari_env(SHORT, kind="train", num_envs=2, seed=0))
    stats = Collector(env, ListSink(), RandomPolicy(env.action_space, seed=0), seed=0).collect(400)
    scored = int(sum((rew != 0).sum() for _, _, rew, *_ in env.steps))
    assert scored > 0 and stats.clipped_rewards == -scored and stats.rates()["collect/reward_mean"] == -scored / 400


def test_steps_round_up_to_a_multiple_of_num_envs():
    collector, _, _ = _collector(num_envs=3)
    assert collector.collect(10).steps == 12
    assert collector.collect(0).steps == 0
    assert collector.total_steps == 12
    with pytest.raises(ValueError, match="num_steps must be an integer >= 0, got -1"):
        collector.collect(-1)


class ConstantPolicy:
    def __call__(self, obs):
        return np.zeros(len(obs), dtype=np.int64)


def test_epsilon_replaces_the_policy_action_with_a_uniform_one():
    collector, env, _ = _collector(num_envs=2, epsilon=0.3, policy=ConstantPolicy())
    stats = collector.collect(1200)
    actions = np.concatenate([s[0] for s in env.steps])
    assert abs(stats.random_actions / 1200 - 0.3) < 0.06  # binomial sd 0.013
    assert abs(np.mean(actions != 0) - 0.3 * 3 / 4) < 0.06  # a uniform draw hits the policy's action 1/4 of the time
    assert set(np.unique(actions)) == {0, 1, 2, 3}

    greedy, env0, _ = _collector(num_envs=2, epsilon=0.0, policy=ConstantPolicy())
    assert greedy.collect(100).random_actions == 0
    assert all((s[0] == 0).all() for s in env0.steps)
    with pytest.raises(ValueError, match="epsilon must be a probability in \\[0, 1\\], got 1.5"):
        Collector(env0, ListSink(), ConstantPolicy(), epsilon=1.5)


def test_policy_reset_is_called_after_auto_resets():
    policy = RecordingPolicy(ActionSpace.discrete(4), seed=0)
    collector, env, _ = _collector(policy=policy)
    collector.collect(300)
    assert policy.resets[0].all()  # the first reset of all envs
    done_masks = [((end | trunc) > 0) for _, _, _, end, trunc, _ in env.steps if (end | trunc).any()]
    assert len(policy.resets) == 1 + len(done_masks)
    for got, expected in zip(policy.resets[1:], done_masks):
        np.testing.assert_array_equal(got, expected)


def test_bad_policy_output_is_reported():
    class BadPolicy:
        def __call__(self, obs):
            return np.zeros((len(obs), 1))

    collector, _, _ = _collector(policy=BadPolicy())
    with pytest.raises(ValueError, match=r"policy must return an integer array of shape \(2,\)"):
        collector.collect(2)


def test_state_dict_round_trip_ends_restored_partial_episodes_as_truncated():
    collector, _, _ = _collector(seed=4)
    collector.collect(30)
    state = collector.state_dict()
    running = [len(p["act"]) for p in state["partials"]]
    assert any(running)  # 15 steps per env: shorter than a Breakout life

    restored, env, sink2 = _collector(seed=99)
    restored.load_state_dict(state)
    assert restored.total_steps == 30
    np.testing.assert_equal(restored.rng.bit_generator.state, collector.rng.bit_generator.state)
    restored.collect(2)
    truncated = sink2.episodes[: sum(1 for r in running if r)]
    assert [len(e) for e in truncated] == [r for r in running if r]
    for e, i in zip(truncated, [i for i, r in enumerate(running) if r]):
        assert e.trunc[-1] == 1 and e.end[-1] == 0
        np.testing.assert_array_equal(e.final_obs, state["obs"][i])
    assert len(env.resets) == 1  # the envs were reset before stepping again

    restored.discard_partial_episodes()
    assert restored.collect(2).steps == 2


def test_random_policy():
    policy = RandomPolicy(ActionSpace.discrete(6), seed=0)
    actions = policy(np.zeros((500, 3, 64, 64), np.uint8))
    assert actions.shape == (500,) and actions.dtype == np.int64
    assert set(np.unique(actions)) == set(range(6))
