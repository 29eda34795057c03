"""Any Gymnasium env with a discrete action space, seen through its pixels (spec §2 observation format).

The image comes from the observation when it is one (H×W×3, H×W×1 or H×W uint8), otherwise from
``render()`` with ``render_mode="rgb_array"``. It is area-resized to size×size RGB, channels first,
like the Atari observations, so that the world model and the agent need no special case. No frame
skipping, max-pooling or NOOP resets are added here: those are Atari protocol (see ``atari.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from diamond.envs.base import OBS_DTYPE, VectorEnv, check_action, check_int, check_seed
from diamond.errors import InvalidValue
from diamond.spaces import ActionSpace, to_json

PIXEL_SOURCES: tuple[str, ...] = ("auto", "observation", "render")


@dataclass(frozen=True)
class GymPixelConfig:
    env_id: str = "ALE/Pong-v5"
    size: int = 64
    pixels_from: str = "auto"  # "observation", "render", or "auto": the observation if it is an image
    make_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to gymnasium.make

    def __post_init__(self) -> None:
        if not isinstance(self.env_id, str) or not self.env_id:
            raise InvalidValue(
                f"GymPixelConfig.env_id must be a Gymnasium id such as 'ALE/Pong-v5', got {self.env_id!r}"
            )
        check_int("GymPixelConfig", "size", self.size, 8, 1024)
        if self.pixels_from not in PIXEL_SOURCES:
            raise InvalidValue(f"GymPixelConfig.pixels_from must be one of {PIXEL_SOURCES}, got {self.pixels_from!r}")
        render_mode = self.make_kwargs.get("render_mode", "rgb_array")
        if self.pixels_from == "render" and render_mode != "rgb_array":
            raise InvalidValue(
                f"GymPixelConfig: pixels_from='render' needs render_mode='rgb_array', got make_kwargs render_mode={render_mode!r}"
            )


def _register_ale() -> None:
    """Make the ALE ids (ALE/Pong-v5, ...) known to Gymnasium too; harmless when ale-py is absent."""
    import gymnasium

    try:
        import ale_py

        gymnasium.register_envs(ale_py)
    except ImportError:
        pass


def validate_gym_id(env_id: str, where: str = "GymPixelConfig.env_id") -> str:
    """Return ``env_id`` if Gymnasium has it registered, else an InvalidValue with the closest ids."""
    import difflib

    import gymnasium

    _register_ale()
    if isinstance(env_id, str) and env_id in gymnasium.registry:
        return env_id
    close = difflib.get_close_matches(str(env_id), list(gymnasium.registry), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise InvalidValue(
        f"{where}: {env_id!r} is not a registered Gymnasium id.{hint} "
        "List them with: python -c 'import gymnasium; gymnasium.pprint_registry()'"
    )


def _is_image_space(space: Any) -> bool:
    from gymnasium import spaces

    if not isinstance(space, spaces.Box) or space.dtype != np.uint8:
        return False
    shape = space.shape
    return len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4))


def _to_rgb(frame: Any, where: str) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.dtype != np.uint8:
        raise ValueError(f"{where}: expected a uint8 image, got dtype {arr.dtype} shape {arr.shape}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"{where}: expected an H×W, H×W×1, H×W×3 or H×W×4 image, got shape {arr.shape}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return arr[:, :, :3]  # drop alpha


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


class GymPixelEnv:
    """A Gymnasium env with discrete actions, observed as size×size RGB images (no auto-reset)."""

    def __init__(self, config: GymPixelConfig, seed: int | None = None) -> None:
        import gymnasium
        from gymnasium import spaces

        _register_ale()
        self.config = config
        self._gymnasium_version = gymnasium.__version__
        kwargs = dict(config.make_kwargs)
        source = config.pixels_from
        if source == "render":
            kwargs["render_mode"] = "rgb_array"
        env = gymnasium.make(config.env_id, **kwargs)
        if not isinstance(env.action_space, spaces.Discrete):
            env.close()
            raise InvalidValue(
                f"{config.env_id}: only Discrete action spaces are supported, got {env.action_space} "
                "(the world model and actor-critic of spec §4-6 take categorical actions)"
            )
        if source == "auto":
            source = "observation" if _is_image_space(env.observation_space) else "render"
            if source == "render" and kwargs.get("render_mode") != "rgb_array":
                env.close()
                kwargs["render_mode"] = "rgb_array"
                env = gymnasium.make(config.env_id, **kwargs)
        elif source == "observation" and not _is_image_space(env.observation_space):
            env.close()
            raise InvalidValue(
                f"{config.env_id}: pixels_from='observation' needs an image observation space, "
                f"got {env.observation_space}; use pixels_from='render' or 'auto'"
            )
        self._env = env
        self._source = source
        self._action_start = int(env.action_space.start)
        meanings = getattr(env.unwrapped, "get_action_meanings", lambda: ())()
        self.action_space = ActionSpace.discrete(int(env.action_space.n), meanings)
        self.observation_shape = (3, config.size, config.size)
        self._needs_reset = True
        self.seed: int | None = None
        self._pending_seed: int | None = None
        self._set_seed(seed)

    def _set_seed(self, seed: int | None) -> None:
        seed = check_seed("GymPixelEnv", seed)
        self.seed = seed
        self._pending_seed = seed  # passed to the Gymnasium env at the next reset

    def _pixels(self, obs: Any) -> np.ndarray:
        frame = obs if self._source == "observation" else self._env.render()
        rgb = _to_rgb(frame, f"{self.config.env_id} ({self._source})")
        size = self.config.size
        small = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)  # same resize as Atari (spec §2)
        return np.ascontiguousarray(small.transpose(2, 0, 1), dtype=OBS_DTYPE)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            self._set_seed(seed)
        obs, info = self._env.reset(seed=self._pending_seed)
        self._pending_seed = None
        self._needs_reset = False
        return self._pixels(obs), dict(info)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError(
                f"{self.config.env_id}: call reset() before step() (at the start and after end or trunc)"
            )
        a = check_action(action, self.action_space.size, f"{self.config.env_id} step")
        obs, rew, terminated, truncated, info = self._env.step(a + self._action_start)
        end = bool(terminated)
        trunc = bool(truncated) and not end
        if end or trunc:
            self._needs_reset = True
        return self._pixels(obs), float(rew), end, trunc, dict(info)

    def protocol(self) -> dict[str, Any]:
        return {
            "env": "gym_pixels",
            **{k: _jsonable(v) for k, v in dataclasses.asdict(self.config).items()},
            "pixels_from_resolved": self._source,
            "resize_interpolation": "cv2.INTER_AREA",
            "num_actions": self.action_space.size,
            "action_space": to_json(self.action_space),
            "observation_shape": list(self.observation_shape),
            "gymnasium_version": self._gymnasium_version,
        }

    def close(self) -> None:
        self._env.close()


def make_gym_pixel_env(
    config: GymPixelConfig,
    num_envs: int = 1,
    seed: int | None = 0,
    backend: str = "sync",
    start_method: str = "spawn",
) -> VectorEnv:
    """``num_envs`` copies of a Gymnasium pixel env, env i seeded with ``seed + i``."""
    from diamond.envs.vector import make_vector_env

    check_int("make_gym_pixel_env", "num_envs", num_envs, 1)
    env_fns = [functools.partial(GymPixelEnv, config, None if seed is None else seed + i) for i in range(num_envs)]
    return make_vector_env(env_fns, backend=backend, start_method=start_method)
