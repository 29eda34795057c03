"""A scripted ViZDoom player that moves like a person with keyboard and mouse, for recording FPS datasets.

It reads only the ``View`` of the last frame (game variables, the boxes of visible enemies from the labels
buffer, the depth of the left/centre/right of the screen) and answers with a 51-entry CS:GO action vector
made by ``fps_actions.encode``, so every recorded action is a valid one. What it does, per frame (17.5 Hz):

- walks forward most of the time, with strafing, stops and the odd step back, each key held for a
  drawn duration, as keys are held, not tapped at random;
- turns with a smooth mouse: a slowly wandering turn speed, idle stretches (mouse still), and now and then
  a look-around flick with a bell-shaped speed profile, so the moves fall in many bins, small and large;
- keeps the pitch near a slowly drifting target a few degrees from level;
- steers away from walls ahead (depth buffer), and when its position stops changing turns well away,
  backs off and presses use (doors);
- after a reaction time, turns towards the nearest visible enemy with a proportional, noisy mouse move and
  holds the left button while the enemy is near the crosshair, strafing meanwhile;
- sometimes jumps, crouches, runs (shift), changes weapon, presses use or right-clicks.

Deterministic given its seed (and the game's frames).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from diamond import fps_actions
from diamond.envs.vizdoom_fps import MOUSE_DEGREES_PER_UNIT, View

TAN_HALF_FOV_X = 1.0  # ViZDoom's horizontal field of view is 90° at any aspect (measured: 5° ≈ 17 px of 400)
NEAR_WALL = 8.0  # depth-buffer value below which the wall ahead is close
STUCK_FRAMES, STUCK_DISTANCE = 12, 12.0  # moving less than this (map units) in this many frames: stuck
# (probability per frame of starting to hold the key, (shortest, longest) hold in frames)
EXTRA_KEYS = {
    "space": (0.008, (1, 3)),
    "ctrl": (0.003, (5, 25)),
    "shift": (0.005, (10, 60)),
    "r": (0.004, (1, 2)),
    "rmb": (0.003, (1, 4)),
}


@dataclass
class _Flick:
    """A look-around: ``total`` mouse units spread over ``frames`` with a bell-shaped speed profile."""

    total: float
    frames: int
    done: int = 0

    def next(self) -> float:
        t0, t1 = self.done / self.frames, (self.done + 1) / self.frames
        self.done += 1
        ease = lambda t: (1 - math.cos(math.pi * t)) / 2  # noqa: E731 - smooth start and stop
        return self.total * (ease(t1) - ease(t0))

    @property
    def finished(self) -> bool:
        return self.done >= self.frames


@dataclass
class _State:
    held: dict[str, int] = field(default_factory=dict)  # key -> frames it stays held
    turn_speed: float = 0.0  # mouse units per frame, wandering
    mouse_idle: int = 0  # frames left with the mouse still
    flick: _Flick | None = None
    pitch_target: float = 0.0
    seen_for: int = 0  # frames an enemy has been in sight (reaction time)
    react_after: int = 4
    positions: list[tuple[float, float]] = field(default_factory=list)
    unstick: int = 0  # frames left backing off


class ScriptedPlayer:
    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.state = _State()

    def reset(self) -> None:
        """Forget the last life (after a death or a new game episode); the random stream goes on."""
        self.state = _State(pitch_target=float(self.rng.normal(0, 3)))

    def act(self, view: View | None) -> np.ndarray:
        if view is None or view.dead:
            return fps_actions.encode()
        self._count_down()
        aim = self._aim(view)
        dx = aim[0] if aim is not None else self._roam_mouse(view)
        dy = aim[1] if aim is not None else self._pitch_mouse(view)
        self._movement(view, engaged=aim is not None)
        self._extras(view)
        pressed = [k for k in self.state.held if k in fps_actions.KEYS or k in fps_actions.BUTTONS]
        if aim is not None and aim[2]:
            pressed.append("lmb")
        return fps_actions.encode(sorted(set(pressed)), dx, dy)

    # -- keys ------------------------------------------------------------------------------------------

    def _hold(self, key: str, low: int, high: int) -> None:
        self.state.held[key] = max(self.state.held.get(key, 0), int(self.rng.integers(low, high + 1)))

    def _count_down(self) -> None:
        self.state.held = {k: n - 1 for k, n in self.state.held.items() if n > 1}

    def _movement(self, view: View, engaged: bool) -> None:
        s, held, rng = self.state, self.state.held, self.rng
        s.positions = [*s.positions[-STUCK_FRAMES:], (view.variables["POSITION_X"], view.variables["POSITION_Y"])]
        walking = any(k in held for k in "wasd")
        if walking and len(s.positions) > STUCK_FRAMES and s.unstick == 0:
            (x0, y0), (x1, y1) = s.positions[0], s.positions[-1]
            if math.hypot(x1 - x0, y1 - y0) < STUCK_DISTANCE:  # against a wall or a monster: turn away, back off
                s.flick = _Flick(float(rng.choice([-1, 1]) * rng.uniform(1800, 3600)), int(rng.integers(5, 10)))
                s.unstick, s.positions = int(rng.integers(4, 10)), []
                held.pop("w", None)
                self._hold("r", 1, 2)
        if s.unstick > 0:
            s.unstick -= 1
            self._hold("s", 1, 1)
            return
        if not any(k in held for k in ("w", "s", "_still")) and rng.random() < (0.3 if engaged else 0.2):
            r = rng.random()
            if r < 0.8 - 0.3 * engaged:
                self._hold("w", 10, 60)
            elif r < 0.88:
                self._hold("s", 3, 12)
            else:
                held["_still"] = int(rng.integers(3, 15))  # a pause: neither forwards nor back
        if not any(k in held for k in "ad") and rng.random() < (0.15 if engaged else 0.04):
            self._hold(str(rng.choice(["a", "d"])), 4, 25)

    def _extras(self, view: View) -> None:
        for key, (p, (low, high)) in EXTRA_KEYS.items():
            if self.rng.random() < p:
                self._hold(key, low, high)
        weapon, ammo = view.variables["SELECTED_WEAPON"], view.variables["SELECTED_WEAPON_AMMO"]
        out_of_ammo = weapon > 1 and ammo <= 0
        if out_of_ammo or (weapon == 1 and self.rng.random() < 0.05) or self.rng.random() < 0.003:
            self._hold(str(self.rng.choice(["1", "2", "3"], p=[0.1, 0.4, 0.5])), 1, 2)

    # -- mouse -----------------------------------------------------------------------------------------

    def _roam_mouse(self, view: View) -> float:
        s, rng = self.state, self.rng
        if s.flick is not None:
            dx = s.flick.next() + rng.normal(0, 3)
            s.flick = None if s.flick.finished else s.flick
            return dx
        left, centre, right = view.depth
        if centre < NEAR_WALL:  # a wall ahead: steer to the more open side
            side = 1.0 if right >= left else -1.0
            return side * rng.uniform(60, 350)
        if rng.random() < 0.02:
            s.flick = _Flick(float(rng.normal(0, 900)), int(rng.integers(3, 12)))
        s.turn_speed = 0.9 * s.turn_speed + rng.normal(0, 6)
        if s.mouse_idle > 0:
            s.mouse_idle -= 1
            return 0.0
        if rng.random() < 0.08:
            s.mouse_idle = int(rng.integers(3, 25))
        return s.turn_speed + rng.normal(0, 4)

    def _pitch_mouse(self, view: View) -> float:
        s, rng = self.state, self.rng
        if rng.random() < 0.02:
            s.pitch_target = float(np.clip(rng.normal(0, 4), -10, 10))
        error = s.pitch_target - view.variables["PITCH"]  # degrees; > 0: look further down
        if abs(error) < 0.3 and rng.random() < 0.7:
            return 0.0
        return 0.25 * error / MOUSE_DEGREES_PER_UNIT + rng.normal(0, 2)

    def _aim(self, view: View) -> tuple[float, float, bool] | None:
        """(dx, dy, fire) towards the nearest visible enemy once the reaction time has passed, else None."""
        s, rng = self.state, self.rng
        if not view.enemies:
            s.seen_for = 0
            return None
        if s.seen_for == 0:
            s.react_after = int(rng.integers(2, 8))
        s.seen_for += 1
        if s.seen_for < s.react_after:
            return None
        x, y, w, h = max(view.enemies, key=lambda b: b[2] * b[3])  # the biggest box: the nearest enemy
        width, height = view.screen
        cx, cy = x + w / 2 - width / 2, y + 0.4 * h - height / 2
        yaw = math.degrees(math.atan(cx / (width / 2) * TAN_HALF_FOV_X))  # > 0: enemy to the right
        pitch = math.degrees(math.atan(cy / (width / 2) * TAN_HALF_FOV_X))  # > 0: below the crosshair
        gain = rng.uniform(0.35, 0.75)
        dx = gain * yaw / MOUSE_DEGREES_PER_UNIT + rng.normal(0, 3)
        dy = 0.3 * pitch / MOUSE_DEGREES_PER_UNIT + rng.normal(0, 2)
        half_width = math.degrees(math.atan(w / width * TAN_HALF_FOV_X))
        fire = abs(yaw) < max(2.0, 0.8 * half_width) and rng.random() < 0.9
        return dx, dy, fire
