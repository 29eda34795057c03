"""MinAtar games (Young & Tian 2019) as RGB pixel envs behind the same interface as Atari (spec §2 format).

The 10×10×k binary state is drawn with one fixed colour per channel (black background; where channels
overlap the highest channel index wins, as in MinAtar's own display), then upscaled by nearest
neighbour to size×size. The default size is 64, not the exact 40 (4 px per cell): the paper-sized
networks assume 64×64 inputs (spec §5 flattens 32×8×8, spec §6 flattens 64×4×4), so MinAtar data can
be fed to them unchanged; the price is that cells are 6 or 7 px wide. Pass size=40 for square cells.

Sticky actions (probability 0.1) and difficulty ramping are MinAtar's own protocol and stay on by
default; the action set is MinAtar's minimal set of each game. ``minatar`` is imported lazily
(it is an optional, GPL-licensed extra), so ``import diamond.envs`` works without it.
"""

from __future__ import annotations

import dataclasses
import functools
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np

from diamond.envs.base import OBS_DTYPE, VectorEnv, check_action, check_int, check_range, check_seed
from diamond.envs.games import validate_minatar_game
from diamond.errors import InvalidValue
from diamond.spaces import ActionSpace, to_json

# One colour per channel (the "tab10" colours), enough for the 10 channels of seaquest; index 0 is the background.
PALETTE = np.array(
    [
        (0, 0, 0),
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ],
    dtype=np.uint8,
)

INSTALL_HINT = "MinAtar is not installed; install it with: pip install 'diamond-wm[minatar]'"


def _import_minatar() -> Any:
    try:
        import minatar
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return minatar


@dataclass(frozen=True)
class MinAtarConfig:
    game: str = "breakout"
    size: int = 64  # 64 fits the paper-sized networks; 40 gives exact 4-px cells (see module docstring)
    sticky_action_prob: float = 0.1  # MinAtar's own protocol default
    difficulty_ramping: bool = True  # MinAtar's own protocol default
    max_episode_steps: int | None = None  # optional time limit (truncation); MinAtar has none of its own

    def __post_init__(self) -> None:
        validate_minatar_game(self.game, where="MinAtarConfig.game")
        check_int("MinAtarConfig", "size", self.size, 10, 1024)
        check_range("MinAtarConfig", "sticky_action_prob", self.sticky_action_prob, 0.0, 1.0)
        if not isinstance(self.difficulty_ramping, bool):
            raise InvalidValue(
                f"MinAtarConfig.difficulty_ramping must be True or False, got {self.difficulty_ramping!r}"
            )
        if self.max_episode_steps is not None:
            check_int("MinAtarConfig", "max_episode_steps", self.max_episode_steps, 1)


def render_state(state: np.ndarray, size: int) -> np.ndarray:
    """A (10, 10, k) binary MinAtar state as a (3, size, size) uint8 image."""
    k = state.shape[2]
    if k >= len(PALETTE):
        raise ValueError(f"MinAtar state has {k} channels, the palette has colours for {len(PALETTE) - 1}")
    # index of the highest set channel + 1, 0 where none is set
    colour_index = np.max(state.astype(np.int64) * np.arange(1, k + 1), axis=2)
    rows = (np.arange(size) * state.shape[0]) // size  # nearest-neighbour upscaling
    cols = (np.arange(size) * state.shape[1]) // size
    image = PALETTE[colour_index[rows[:, None], cols[None, :]]]
    return np.ascontiguousarray(image.transpose(2, 0, 1), dtype=OBS_DTYPE)


# MinAtar's full action set, in its own order ("n l u r d f"); a game's minimal set is a subset.
MEANINGS = ("NOOP", "LEFT", "UP", "RIGHT", "DOWN", "FIRE")


class MinAtarEnv:
    """One MinAtar game with pixel observations (no auto-reset)."""

    def __init__(self, config: MinAtarConfig | None = None, seed: int | None = None) -> None:
        minatar = _import_minatar()
        from importlib import metadata

        self.config = config if config is not None else MinAtarConfig()
        cfg = self.config
        self._game = minatar.Environment(
            env_name=cfg.game, sticky_action_prob=cfg.sticky_action_prob, difficulty_ramping=cfg.difficulty_ramping
        )
        self._action_set = list(self._game.minimal_action_set())
        self.action_space = ActionSpace.discrete(len(self._action_set), [MEANINGS[a] for a in self._action_set])
        self.observation_shape = (3, cfg.size, cfg.size)
        self._channels = dict(getattr(self._game.env, "channels", {}))
        try:
            self._version = metadata.version("minatar")
        except metadata.PackageNotFoundError:
            self._version = "unknown"
        self._needs_reset = True
        self._steps = 0
        self.seed: int | None = None
        self._set_seed(seed)

    def _set_seed(self, seed: int | None) -> None:
        seed = check_seed("MinAtarEnv", seed)
        if seed is not None:
            self._game.seed(seed)  # one RandomState drives the game and its sticky actions
        self.seed = seed

    def _observe(self) -> np.ndarray:
        return render_state(self._game.state(), self.config.size)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            self._set_seed(seed)
        self._game.reset()
        self._steps = 0
        self._needs_reset = False
        return self._observe(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError(
                f"MinAtar {self.config.game}: call reset() before step() (at the start and after end or trunc)"
            )
        a = check_action(action, self.action_space.size, f"MinAtar {self.config.game} step")
        reward, terminal = self._game.act(self._action_set[a])
        self._steps += 1
        end = bool(terminal)
        limit = self.config.max_episode_steps
        trunc = not end and limit is not None and self._steps >= limit
        if end or trunc:
            self._needs_reset = True
        return self._observe(), float(reward), end, trunc, {}

    def snapshot(self) -> bytes:
        """The whole state of the game (including its random state) as bytes."""
        return pickle.dumps(
            {"game": self._game, "steps": self._steps, "needs_reset": self._needs_reset, "seed": self.seed}
        )

    def restore(self, snapshot: bytes) -> None:
        state = pickle.loads(snapshot)
        self._game = state["game"]
        self._steps, self._needs_reset, self.seed = state["steps"], state["needs_reset"], state["seed"]

    def protocol(self) -> dict[str, Any]:
        order = sorted(self._channels, key=self._channels.get)
        return {
            "env": "minatar",
            **dataclasses.asdict(self.config),
            "action_set": [int(a) for a in self._action_set],
            "channel_colours": {name: PALETTE[i + 1].tolist() for i, name in enumerate(order)},
            "upscaling": "nearest",
            "num_actions": self.action_space.size,
            "action_space": to_json(self.action_space),
            "observation_shape": list(self.observation_shape),
            "minatar_version": self._version,
        }

    def close(self) -> None:
        pass


def make_minatar_env(
    config: MinAtarConfig | None = None,
    num_envs: int = 1,
    seed: int | None = 0,
    backend: str = "sync",
    start_method: str = "spawn",
) -> VectorEnv:
    """``num_envs`` MinAtar envs, env i seeded with ``seed + i``."""
    from diamond.envs.vector import make_vector_env

    _import_minatar()  # fail here with the install hint, not inside a worker
    config = config if config is not None else MinAtarConfig()
    check_int("make_minatar_env", "num_envs", num_envs, 1)
    env_fns = [functools.partial(MinAtarEnv, config, None if seed is None else seed + i) for i in range(num_envs)]
    return make_vector_env(env_fns, backend=backend, start_method=start_method)
