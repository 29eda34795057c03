"""The Atari 100k protocol as DIAMOND runs it (spec §2), in one place.

The raw emulator is Gymnasium's ``<Game>NoFrameskip-v4`` (emulator frameskip 1, no sticky actions,
minimal action set); everything on top of it is done here, explicitly:

- reset: U{1..noop_max} NOOPs, re-reset if the game ends during them, no FIRE-on-reset;
- one agent step: the action repeated ``frame_skip`` times, rewards summed, early stop at game over;
- observation: pixel-wise max of the last two raw RGB frames, INTER_AREA-resized to size×size, CHW uint8;
- lives: in the ``"train"`` env a lost life ends the stored episode (end = 1) without resetting the
  game, and the next life starts a new episode from the current frame; the ``"test"`` env ignores lives.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from diamond.envs.base import OBS_DTYPE, VectorEnv, check_action, check_int, check_range, check_seed
from diamond.envs.games import atari_env_id, validate_atari_game
from diamond.errors import InvalidValue
from diamond.spaces import ActionSpace, to_json

EnvKind = Literal["train", "test"]
ENV_KINDS: tuple[str, ...] = ("train", "test")
_MAX_RESET_ATTEMPTS = 100  # a game that ends during 30 NOOPs a hundred times in a row is broken, not unlucky


@dataclass(frozen=True)
class AtariConfig:
    """Every knob of the Atari 100k protocol; the defaults are the spec's (spec §2)."""

    game: str = "Breakout"
    noop_max: int = 30  # reset does U{1..noop_max} NOOPs (spec §2)
    frame_skip: int = 4  # emulator frames per agent step, rewards summed (spec §2)
    max_pool_last_two: bool = True  # observation = max of the last two raw frames (spec §2)
    size: int = 64  # observation is size×size RGB (spec §2)
    repeat_action_probability: float = 0.0  # no sticky actions (spec §2)
    full_action_space: bool = False  # minimal action set (spec §2)
    max_episode_frames: int = 108_000  # the ALE's own per-game frame limit; reaching it is a truncation
    only_atari100k: bool = True  # reject games outside the 26 of spec §2 unless explicitly allowed

    def __post_init__(self) -> None:
        where = "AtariConfig"
        validate_atari_game(self.game, self.only_atari100k, where=f"{where}.game")
        check_int(where, "noop_max", self.noop_max, 1)
        check_int(where, "frame_skip", self.frame_skip, 1)
        check_int(where, "size", self.size, 8, 1024)
        check_range(where, "repeat_action_probability", self.repeat_action_probability, 0.0, 1.0)
        check_int(where, "max_episode_frames", self.max_episode_frames, self.noop_max + 1)
        for name in ("max_pool_last_two", "full_action_space", "only_atari100k"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidValue(f"{where}.{name} must be True or False, got {getattr(self, name)!r}")

    @property
    def env_id(self) -> str:
        return atari_env_id(self.game)


def life_loss_is_terminal(kind: str) -> bool:
    """Lost lives end episodes in the training env only (spec §2)."""
    if kind not in ENV_KINDS:
        raise InvalidValue(f"Atari env kind must be one of {ENV_KINDS}, got {kind!r}")
    return kind == "train"


class AtariEnv:
    """One Atari game under the protocol of spec §2 (no auto-reset; see ``diamond.envs.vector``)."""

    def __init__(self, config: AtariConfig | None = None, kind: str = "train", seed: int | None = None) -> None:
        import ale_py
        import gymnasium

        self.config = config if config is not None else AtariConfig()
        self.kind = kind
        self.life_loss_is_terminal = life_loss_is_terminal(kind)
        gymnasium.register_envs(ale_py)
        cfg = self.config
        self._env = gymnasium.make(
            cfg.env_id,
            frameskip=1,
            repeat_action_probability=cfg.repeat_action_probability,
            full_action_space=cfg.full_action_space,
            max_num_frames_per_episode=cfg.max_episode_frames,
        )
        self._ale = self._env.unwrapped.ale
        # The same action set the Gymnasium env exposes; frames are stepped on the ALE directly for speed.
        actions = self._ale.getLegalActionSet() if cfg.full_action_space else self._ale.getMinimalActionSet()
        self._action_set = list(actions)
        if self._action_set[0] != ale_py.Action.NOOP:
            raise RuntimeError(
                f"{cfg.env_id}: action 0 is {self._action_set[0]}, expected NOOP (spec §2 resets with NOOPs)"
            )
        self._noop = self._action_set[0]
        self.observation_shape = (3, cfg.size, cfg.size)
        self._ale_py_version = ale_py.__version__
        self._gymnasium_version = gymnasium.__version__
        self._action_meanings = list(self._env.unwrapped.get_action_meanings())
        self.action_space = ActionSpace.discrete(len(self._action_set), self._action_meanings)

        height, width = self._ale.getScreenDims()
        self._frames = np.zeros((2, height, width, 3), dtype=np.uint8)  # the last two raw frames
        self._newest = 0
        self._pooled = np.zeros((height, width, 3), dtype=np.uint8)
        self._obs: np.ndarray | None = None
        self._lives = 0
        self._needs_reset = True
        self._game_finished = True  # False after a life loss: the next reset() continues the game

        self.seed: int | None = None
        self._ale_seed: int | None = None
        self._noop_rng = np.random.default_rng()
        self._set_seed(seed)

    # -- seeding ---------------------------------------------------------------------------------

    def _set_seed(self, seed: int | None) -> None:
        seed = check_seed("AtariEnv", seed)
        self.seed = seed
        self._ale_seed = seed  # applied to the emulator at the next hard reset
        self._noop_rng = np.random.default_rng(seed)  # NOOP counts reproducible per env

    # -- frames ----------------------------------------------------------------------------------

    def _grab(self) -> None:
        self._newest ^= 1
        self._ale.getScreenRGB(self._frames[self._newest])

    def _observe(self) -> np.ndarray:
        if self.config.max_pool_last_two:  # removes the flicker of sprites drawn every other frame (spec §2)
            frame = np.maximum(self._frames[0], self._frames[1], out=self._pooled)
        else:
            frame = self._frames[self._newest]
        size = self.config.size
        small = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)  # spec §2: area interpolation
        self._obs = np.ascontiguousarray(small.transpose(2, 0, 1), dtype=OBS_DTYPE)
        return self._obs

    # -- interface -------------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; after a life loss in the training env this continues the same game."""
        if seed is not None:
            self._set_seed(seed)
        if not self._game_finished and seed is None and self._needs_reset:
            # spec §2: the next life starts a new stored episode, but the game is not reset.
            self._needs_reset = False
            assert self._obs is not None
            return self._obs.copy(), {"lives": self._lives, "noops": 0, "game_reset": False}
        noops = self._hard_reset()
        return self._obs.copy(), {"lives": self._lives, "noops": noops, "game_reset": True}

    def _hard_reset(self) -> int:
        for _ in range(_MAX_RESET_ATTEMPTS):
            self._env.reset(seed=self._ale_seed)
            self._ale_seed = None  # reseed the emulator only when asked to
            self._ale.getScreenRGB(self._frames[0])
            self._frames[1] = self._frames[0]  # no stale frame from the previous game in the max-pool
            noops = int(self._noop_rng.integers(1, self.config.noop_max + 1))  # U{1..noop_max}, spec §2
            for _ in range(noops):
                self._ale.act(self._noop)
                self._grab()
                if self._ale.game_over(with_truncation=False):
                    break  # spec §2: the game ended during the NOOPs, reset again
            else:
                self._lives = self._ale.lives()
                self._needs_reset = False
                self._game_finished = False
                self._observe()
                return noops
        raise RuntimeError(
            f"{self.config.env_id}: the game ended during the reset NOOPs {_MAX_RESET_ATTEMPTS} times in a row"
        )

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError(
                f"{self.config.env_id}: call reset() before step() (at the start and after end or trunc)"
            )
        ale_action = self._action_set[check_action(action, self.action_space.size, f"{self.config.env_id} step")]
        reward = 0.0
        for _ in range(self.config.frame_skip):
            reward += self._ale.act(ale_action)
            self._grab()
            if self._ale.game_over(with_truncation=True):
                break  # spec §2: early stop at game over (and at the ALE's frame limit)
        terminal = self._ale.game_over(with_truncation=False)
        truncated = self._ale.game_truncated()
        lives = self._ale.lives()
        life_lost = lives < self._lives
        self._lives = lives
        end = terminal or (self.life_loss_is_terminal and life_lost)
        trunc = truncated and not end  # end and trunc are exclusive: a terminal is the stronger fact
        obs = self._observe()
        if end or trunc:
            self._needs_reset = True
            self._game_finished = terminal or truncated
        info = {
            "lives": lives,
            "life_lost": life_lost,
            "game_over": terminal or truncated,
            "episode_frame_number": int(self._ale.getEpisodeFrameNumber()),
        }
        return obs.copy(), float(reward), bool(end), bool(trunc), info

    def snapshot(self) -> bytes:
        """The whole state of this env (emulator with its RNG, frames, lives, NOOP RNG) as bytes."""
        state = {
            "ale": self._ale.cloneState(include_rng=True),
            "frames": self._frames.copy(),
            "newest": self._newest,
            "obs": None if self._obs is None else self._obs.copy(),
            "lives": self._lives,
            "needs_reset": self._needs_reset,
            "game_finished": self._game_finished,
            "seed": self.seed,
            "ale_seed": self._ale_seed,
            "noop_rng": self._noop_rng.bit_generator.state,
        }
        return pickle.dumps(state)

    def restore(self, snapshot: bytes) -> None:
        """Continue exactly where ``snapshot()`` was taken (same game, same future randomness)."""
        state = pickle.loads(snapshot)
        self._ale.restoreState(state["ale"])
        self._frames[...] = state["frames"]
        self._newest = state["newest"]
        self._obs = state["obs"]
        self._lives = state["lives"]
        self._needs_reset = state["needs_reset"]
        self._game_finished = state["game_finished"]
        self.seed = state["seed"]
        self._ale_seed = state["ale_seed"]
        self._noop_rng.bit_generator.state = state["noop_rng"]

    def protocol(self) -> dict[str, Any]:
        """Every knob that shapes the data, to be stored with it (JSON-serialisable)."""
        return {
            "env": "atari",
            "env_id": self.config.env_id,
            "kind": self.kind,
            **dataclasses.asdict(self.config),
            "life_loss_is_terminal": self.life_loss_is_terminal,
            "emulator_frameskip": 1,
            "noop_reset": f"U{{1..{self.config.noop_max}}} NOOPs, re-reset if the game ends, no FIRE",
            "resize_interpolation": "cv2.INTER_AREA",
            "num_actions": self.action_space.size,
            "action_meanings": self._action_meanings,
            "action_space": to_json(self.action_space),
            "observation_shape": list(self.observation_shape),
            "ale_py_version": self._ale_py_version,
            "gymnasium_version": self._gymnasium_version,
        }

    def close(self) -> None:
        self._env.close()

    # -- for tests and tools ---------------------------------------------------------------------

    @property
    def ale(self) -> Any:
        """The underlying ``ale_py.ALEInterface`` (cloneState/restoreState, lives, RAM)."""
        return self._ale

    @property
    def raw_env(self) -> Any:
        """The underlying Gymnasium env (emulator frameskip 1)."""
        return self._env


def make_atari_env(
    config: AtariConfig | None = None,
    kind: str = "train",
    num_envs: int = 1,
    seed: int | None = 0,
    backend: str = "sync",
    start_method: str = "spawn",
) -> VectorEnv:
    """``num_envs`` Atari envs under spec §2, env i seeded with ``seed + i``, behind the vector interface."""
    import functools

    from diamond.envs.vector import make_vector_env

    config = config if config is not None else AtariConfig()
    life_loss_is_terminal(kind)  # fail here, not in a worker process
    check_int("make_atari_env", "num_envs", num_envs, 1)
    env_fns = [functools.partial(AtariEnv, config, kind, None if seed is None else seed + i) for i in range(num_envs)]
    return make_vector_env(env_fns, backend=backend, start_method=start_method)
