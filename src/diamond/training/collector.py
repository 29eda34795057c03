"""Collect real experience with a policy and store whole episodes (spec §1 step 1, §2, §3).

``Collector.collect(num_steps)`` advances a ``VectorEnv`` and writes every completed episode, with its
true final observation, to a sink (the on-disk store, or anything with ``add(episode) -> int``).
Episodes still running when a call returns stay in memory and are continued by the next call, so
collecting 100 steps per epoch (spec §1) never cuts an episode.

Step accounting: one call to ``env.step`` advances every env by one agent step, so ``collect`` does
``ceil(num_steps / num_envs)`` vector steps, i.e. ``num_steps`` rounded *up* to a multiple of
``num_envs``; the exact count is returned in ``CollectStats.steps`` so the caller can charge it to the
interaction budget (spec §2, 100k agent steps).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import numpy as np

from diamond.data.episode import Episode, EpisodeBuffer
from diamond.envs.base import VectorEnv
from diamond.spaces import ActionSpace


class EpisodeSink(Protocol):
    def add(self, episode: Episode) -> int: ...


class Policy(Protocol):
    """``policy(obs)`` maps (N, C, H, W) uint8 observations to N actions of the env's action space.

    A recurrent policy may also define ``reset(done_mask)``: it is called with a (N,) bool mask
    right after the envs where the mask is True were reset (and once with all True at the start).
    """

    def __call__(self, obs: np.ndarray) -> np.ndarray: ...


class RandomPolicy:
    """Uniformly random actions; the untrained agent's behaviour (spec §1: initial collection)."""

    def __init__(self, space: ActionSpace, seed: int | None = 0) -> None:
        self.space = space
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.space.sample(self.rng, len(obs))


@dataclass
class CollectStats:
    """What one ``collect`` call did; ``returns``/``lengths``/``episode_ids`` list the completed episodes."""

    steps: int = 0
    episodes: int = 0
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    episode_ids: list[int] = field(default_factory=list)
    random_actions: int = 0  # how many actions epsilon replaced by uniform ones
    clipped_rewards: float = 0.0  # the sum of the steps' rewards clipped to their sign, as the world model learns them
    ends: int = 0  # steps that ended an episode (terminations, not truncations)

    def add(self, other: CollectStats) -> CollectStats:
        """Both calls' figures together: every field is a count, a sum or a list, so each adds up."""
        return CollectStats(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def rates(self) -> dict[str, float]:
        """Per real step: the mean clipped reward and the share of ends — the real counterparts of what the
        actor-critic imagines (``train/actor_critic_reward_mean``, ``train/actor_critic_end_rate``)."""
        if self.steps == 0:
            return {}
        return {"collect/reward_mean": self.clipped_rewards / self.steps, "collect/end_rate": self.ends / self.steps}


class Collector:
    """Run ``policy`` (epsilon-greedy-ised, spec §2) in ``env`` and write finished episodes to ``sink``."""

    def __init__(
        self, env: VectorEnv, sink: EpisodeSink, policy: Policy, epsilon: float = 0.0, seed: int | None = 0
    ) -> None:
        if not (isinstance(epsilon, (int, float)) and 0.0 <= epsilon <= 1.0):
            raise ValueError(
                f"Collector: epsilon must be a probability in [0, 1], got {epsilon!r} (spec §2: 0.01 train, 0 test)"
            )
        self.env = env
        self.sink = sink
        self.policy = policy
        self.epsilon = float(epsilon)
        self.seed = seed
        self.rng = np.random.default_rng(seed)  # epsilon draws only; the policy has its own randomness
        self.total_steps = 0
        self.total_episodes = 0
        self._obs: np.ndarray | None = None  # the observations the running episodes are at
        self._live = False  # True while self._obs is what the envs are really showing
        self._partials = [EpisodeBuffer() for _ in range(env.num_envs)]

    # -- collection ------------------------------------------------------------------------------

    def _start(self) -> None:
        if any(len(p) for p in self._partials):
            # Restored from a checkpoint: the emulator state is gone, so these cannot be continued.
            self.end_partial_episodes()
        self._obs = self.env.reset()
        self._live = True
        self._reset_policy(np.ones(self.env.num_envs, dtype=bool))

    def _reset_policy(self, done: np.ndarray) -> None:
        reset = getattr(self.policy, "reset", None)
        if callable(reset):
            reset(done)

    def _act(self, obs: np.ndarray, stats: CollectStats) -> np.ndarray:
        n, space = self.env.num_envs, self.env.action_space
        actions = np.asarray(self.policy(obs))
        kind = "an integer array" if space.is_discrete else "an array"
        if actions.shape != (n, *space.shape) or (space.is_discrete and not np.issubdtype(actions.dtype, np.integer)):
            raise ValueError(
                f"policy must return {kind} of shape {(n, *space.shape)} ({space}), got shape "
                f"{actions.shape} dtype {actions.dtype}"
            )
        actions = space.check(actions, "policy")
        # Always draw both, so the random stream does not depend on the policy's choices.
        explore = self.rng.random(n) < self.epsilon  # spec §2: per env, per step
        uniform = space.sample(self.rng, n)
        stats.random_actions += int(explore.sum())
        return np.where(explore.reshape(n, *(1,) * len(space.shape)), uniform, actions)

    def _episode_info(self, i: int) -> dict[str, Any]:
        full = self.env.protocol()  # asked each time: a reset(seed=...) elsewhere changes the seeds
        protocol = {k: v for k, v in full.items() if k != "env_seeds"}
        seeds = full.get("env_seeds")
        return {
            **protocol,
            "env_index": i,
            "seed": None if seeds is None else seeds[i],
            "epsilon": self.epsilon,
            "collector_seed": self.seed,
        }

    def _write(self, i: int, final_obs: np.ndarray, stats: CollectStats | None) -> None:
        partial = self._partials[i]
        episode = partial.to_episode(final_obs, self._episode_info(i))
        episode_id = self.sink.add(episode)
        self._partials[i] = EpisodeBuffer()
        self.total_episodes += 1
        if stats is not None:
            stats.episodes += 1
            stats.returns.append(episode.return_)
            stats.lengths.append(len(episode))
            stats.episode_ids.append(int(episode_id))

    def collect(self, num_steps: int) -> CollectStats:
        """Advance the envs by ``num_steps`` agent steps in total (rounded up to a multiple of num_envs)."""
        if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 0:
            raise ValueError(f"Collector.collect: num_steps must be an integer >= 0, got {num_steps!r}")
        n = self.env.num_envs
        stats = CollectStats()
        if num_steps == 0:
            return stats
        if not self._live:
            self._start()
        assert self._obs is not None
        for _ in range(-(-int(num_steps) // n)):
            actions = self._act(self._obs, stats)
            next_obs, rew, end, trunc, info = self.env.step(actions)
            final_obs = info["final_obs"]
            done = (end.astype(bool)) | (trunc.astype(bool))
            for i in range(n):
                self._partials[i].append(self._obs[i].copy(), actions[i], float(rew[i]), int(end[i]), int(trunc[i]))
                if done[i]:
                    self._write(i, final_obs[i], stats)
            self._obs = next_obs
            stats.steps += n
            stats.clipped_rewards += float(np.sign(rew).sum())
            stats.ends += int(end.astype(bool).sum())
            if done.any():
                self._reset_policy(done)
        self.total_steps += stats.steps
        return stats

    def running_rewards(self) -> np.ndarray:
        """The rewards of the episodes still running (not yet in the sink)."""
        rewards = [r for p in self._partials for r in p.rew]
        return np.asarray(rewards, dtype=np.float32)

    def end_partial_episodes(self) -> int:
        """Write every running episode as truncated (trunc = 1 on its last step) and start afresh.

        The final observation is the current one, which is true: the interaction simply stops there.
        Use it before a final evaluation, or let ``collect`` do it after ``load_state_dict``. Returns
        the number of episodes written.
        """
        written = 0
        for i, partial in enumerate(self._partials):
            if len(partial) == 0:
                continue
            if self._obs is None:
                raise RuntimeError("Collector: a running episode has no current observation (corrupt state)")
            partial.trunc[-1] = 1
            self._write(i, self._obs[i], None)
            written += 1
        self._obs = None
        self._live = False  # the envs are reset before the next step
        return written

    # -- checkpointing ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Running episodes, current observations, RNG state and counters (numpy arrays and plain types).

        Where the vector env can snapshot its envs (Atari and MinAtar can: emulator state and RNGs), the
        snapshots are included and ``load_state_dict`` restores them, so the running episodes continue
        exactly. Otherwise the next ``collect`` after ``load_state_dict`` resets the envs and first writes
        the restored running episodes as truncated ones (see ``end_partial_episodes``); a caller that
        prefers to drop them calls ``discard_partial_episodes``.
        """
        snapshots = None
        if self._live and hasattr(self.env, "snapshots"):
            snapshots = list(self.env.snapshots())  # the envs' exact state: the episodes continue on resume
        return {
            "num_envs": self.env.num_envs,
            "env_snapshots": snapshots,
            "obs": None if self._obs is None else np.array(self._obs),
            "partials": [p.state() for p in self._partials],
            "rng": self.rng.bit_generator.state,
            "total_steps": self.total_steps,
            "total_episodes": self.total_episodes,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["num_envs"] != self.env.num_envs:
            raise ValueError(
                f"Collector.load_state_dict: the state has {state['num_envs']} envs, this collector's env has {self.env.num_envs}"
            )
        self.rng.bit_generator.state = state["rng"]
        self.total_steps = int(state["total_steps"])
        self.total_episodes = int(state["total_episodes"])
        self._partials = [EpisodeBuffer.from_state(s) for s in state["partials"]]
        obs = state["obs"]
        self._obs = None if obs is None else np.array(obs, dtype=np.uint8)
        if self._obs is None and any(len(p) for p in self._partials):
            raise ValueError("Collector.load_state_dict: running episodes without current observations (corrupt state)")
        snapshots = state.get("env_snapshots")
        if snapshots is not None and self._obs is not None:
            self.env.restore(snapshots)  # the envs are back where the state was taken
            self._live = True
        else:
            self._live = False  # the envs are not at these observations: reset them at the next collect()

    def discard_partial_episodes(self) -> None:
        """Forget the running episodes (nothing is written); the envs are reset before the next step."""
        self._partials = [EpisodeBuffer() for _ in range(self.env.num_envs)]
        self._obs = None
        self._live = False
