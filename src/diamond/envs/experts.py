"""Scripted expert players of Atari games, reading the emulator's RAM (the datasets of spec §9's studies).

The paper trains the DDPM and EDM world models of its comparison on frames collected by an expert policy;
these players stand in for it. Each reads object positions from the RAM of every env of a *sync* vector
env (the addresses are the AtariARI annotations of Anand et al., 2019, checked against the screen) and
returns actions of the game's minimal action set, so they plug into ``Collector`` like any ``Policy``.
Their scores under the spec §2 protocol are measured by ``diamond collect --policy expert`` and quoted in
the README.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from diamond.errors import InvalidValue

# Breakout's minimal action set: NOOP, FIRE, RIGHT, LEFT.
_B_NOOP, _B_FIRE, _B_RIGHT, _B_LEFT = 0, 1, 2, 3
# RAM addresses (AtariARI): paddle x, ball x, ball y (0 while no ball is in play).
_B_PADDLE_X, _B_BALL_X, _B_BALL_Y = 72, 99, 101
_B_BALL_TO_PADDLE = 9  # ball x minus paddle x in RAM units when the ball is over the paddle's centre
_B_PADDLE_Y = 180  # the ball's RAM y when it reaches the paddle
_B_WALLS = (57, 199)  # the ball's RAM x between the side walls


def _reflect(x: float, low: float, high: float) -> float:
    """Where a ball travelling freely to ``x`` really is after bouncing between walls at ``low`` and ``high``."""
    span = high - low
    y = (x - low) % (2 * span)
    return low + (y if y <= span else 2 * span - y)


class BreakoutExpert:
    """Moves the paddle under the point where the falling ball will reach it (wall bounces included),
    launches the ball when none is in play, and aims with a per-life random offset so that play varies."""

    def __init__(self, rams: Callable[[], np.ndarray], num_envs: int, seed: int = 0) -> None:
        self.rams = rams
        self.rng = np.random.default_rng(seed)
        self.prev = np.zeros((num_envs, 2))  # the ball's last (x, y)
        self.aim = self.rng.integers(-5, 6, num_envs)

    def reset(self, done: np.ndarray) -> None:
        self.prev[done] = 0
        self.aim[done] = self.rng.integers(-5, 6, int(done.sum()))

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        ram = self.rams().astype(np.int64)
        actions = np.empty(len(ram), np.int64)
        for i, r in enumerate(ram):
            paddle, bx, by = r[_B_PADDLE_X], r[_B_BALL_X], r[_B_BALL_Y]
            vx, vy = bx - self.prev[i, 0], by - self.prev[i, 1]
            self.prev[i] = bx, by
            if by == 0:
                actions[i] = _B_FIRE
                continue
            target = float(bx)
            if 0 < vy < 20 and abs(vx) < 20:  # falling: where will it be at the paddle's height?
                target = _reflect(bx + vx * (_B_PADDLE_Y - by) / vy, *_B_WALLS)
            diff = target - _B_BALL_TO_PADDLE + self.aim[i] - paddle
            actions[i] = _B_RIGHT if diff > 4 else _B_LEFT if diff < -4 else _B_NOOP
        return actions


# Boxing's minimal action set is all 18 actions: (dx, dy, fire) -> index.
_BOXING_ACTIONS = {
    (0, 0, 0): 0, (0, 0, 1): 1, (0, -1, 0): 2, (1, 0, 0): 3, (-1, 0, 0): 4, (0, 1, 0): 5,
    (1, -1, 0): 6, (-1, -1, 0): 7, (1, 1, 0): 8, (-1, 1, 0): 9, (0, -1, 1): 10, (1, 0, 1): 11,
    (-1, 0, 1): 12, (0, 1, 1): 13, (1, -1, 1): 14, (-1, -1, 1): 15, (1, 1, 1): 16, (-1, 1, 1): 17,
}  # fmt: skip
# RAM addresses (AtariARI): the player's and the opponent's x and y.
_X_PLAYER, _X_ENEMY, _Y_PLAYER, _Y_ENEMY = 32, 33, 34, 35
_REACH = 28  # horizontal distance at which a punch lands
_HEIGHT = 11  # vertical offset that gets past the opponent's guard (found by a search over 0..22)


class BoxingExpert:
    """Closes in on the opponent to punching distance, slightly above him (straight on, the opponent's guard
    blocks every punch), and punches when in reach."""

    def __init__(self, rams: Callable[[], np.ndarray], num_envs: int, seed: int = 0) -> None:
        self.rams = rams

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        ram = self.rams().astype(np.int64)
        actions = np.empty(len(ram), np.int64)
        for i, r in enumerate(ram):
            dx, dy = r[_X_ENEMY] - r[_X_PLAYER], r[_Y_ENEMY] - r[_Y_PLAYER] - _HEIGHT
            side = 1 if dx >= 0 else -1
            gap = abs(dx) - _REACH  # > 0: too far, < 0: too close
            mx = side if gap > 2 else -side if gap < -4 else 0
            my = int(np.sign(dy)) if abs(dy) > 2 else 0
            fire = int(abs(dy) < 8 and abs(gap) <= 8)
            actions[i] = _BOXING_ACTIONS[(mx, my, fire)]
        return actions


EXPERTS = {"Breakout": BreakoutExpert, "Boxing": BoxingExpert}


def make_expert(game: str, env, seed: int = 0):
    """The scripted expert of ``game`` playing the sync Atari vector env ``env`` (whose RAM it reads)."""
    if game not in EXPERTS:
        raise InvalidValue(
            f"--policy expert: there is no scripted expert for {game!r}; experts exist for {sorted(EXPERTS)}"
        )
    envs = getattr(env, "envs", None)
    if envs is None or not all(hasattr(e, "ale") for e in envs):
        raise InvalidValue(
            f"--policy expert reads the emulator's RAM, so it needs Atari envs stepped in this process "
            f"(--env atari --backend sync); got {type(env).__name__}"
        )
    return EXPERTS[game](lambda: np.stack([e.ale.getRAM() for e in envs]), len(envs), seed)
