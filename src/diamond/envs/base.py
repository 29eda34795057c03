"""The small environment interface shared by real and imagined environments (spec §2, ARCHITECTURE.md).

Two levels:

- ``Env``: one environment, no auto-reset. ``reset`` returns ``(obs, info)``, ``step`` returns
  ``(obs, reward, end, trunc, info)`` for a single action of its ``action_space``. Atari, MinAtar and Gymnasium pixel
  environments implement it.
- ``VectorEnv``: N environments stepped together with auto-reset, arrays in and out. This is what the
  collector and the actor-critic see; the world-model environment implements it too, so that the
  agent cannot tell real from imagined rollouts.

Observations are always uint8 RGB images, channels first: (3, H, W) for one env, (N, 3, H, W) batched.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from diamond.errors import InvalidValue
from diamond.spaces import ActionSpace

OBS_DTYPE = np.uint8


@runtime_checkable
class Env(Protocol):
    """One environment without auto-reset.

    ``end`` is the terminal flag for learning (game over; in the Atari training env also a lost life),
    ``trunc`` the time-limit flag. After ``end`` or ``trunc`` the caller must call ``reset()``.
    """

    action_space: ActionSpace
    observation_shape: tuple[int, int, int]
    seed: int | None  # the seed the env was last seeded with (None: OS entropy), recorded with the data

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]: ...

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]: ...

    def protocol(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@runtime_checkable
class VectorEnv(Protocol):
    """N environments stepped in lockstep, with auto-reset.

    ``step(actions)`` returns ``obs`` (N, C, H, W) uint8, ``rew`` (N,) float32 raw, ``end`` (N,) uint8,
    ``trunc`` (N,) uint8 and ``info``. Where ``end | trunc``, ``obs`` is already the first observation of
    the next episode and ``info["final_obs"]`` holds the true final observation of the finished one
    (for rows that did not finish, ``info["final_obs"]`` equals ``obs``). For a life loss in the Atari
    training env, ``end`` is 1 but the game goes on, so the final observation is also the next first one.
    """

    num_envs: int
    action_space: ActionSpace
    observation_shape: tuple[int, int, int]

    def reset(self, seed: int | None = None) -> np.ndarray: ...

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]: ...

    def protocol(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def check_action(action: Any, num_actions: int, where: str) -> int:
    """Return ``action`` as a Python int, or raise naming the bad value and the valid range."""
    try:
        a = int(action)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: action must be an integer in [0, {num_actions - 1}], got {action!r}") from None
    if a != action or not 0 <= a < num_actions:
        raise ValueError(f"{where}: action must be an integer in [0, {num_actions - 1}], got {action!r}")
    return a


def check_range(
    where: str, name: str, value: Any, low: float | None = None, high: float | None = None, what: str = "a number"
) -> None:
    """Raise an InvalidValue naming ``where.name``, its value and the allowed closed range [low, high]."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok and low is not None and value < low:
        ok = False
    if ok and high is not None and value > high:
        ok = False
    if not ok:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise InvalidValue(f"{where}.{name} must be {what} in [{lo}, {hi}], got {value!r}")


def check_int(where: str, name: str, value: Any, low: int, high: int | None = None) -> None:
    """Like ``check_range`` but the value must also be an integer."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        value = repr(value) + f" of type {type(value).__name__}"
        hi = "inf" if high is None else high
        raise InvalidValue(f"{where}.{name} must be an integer in [{low}, {hi}], got {value}")
    check_range(where, name, value, low, high, what="an integer")


def check_seed(where: str, seed: Any) -> int | None:
    """A seed is None (unseeded) or a non-negative integer."""
    if seed is None:
        return None
    check_int(where, "seed", seed, 0)
    return int(seed)
