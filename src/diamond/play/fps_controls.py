"""Keyboard and mouse to the engine's 51-entry action (spec §10), as the reference's play code does it.

A person holds keys and mouse buttons and moves the mouse. Each frame of play turns that into one action:

- **Held keys and buttons** (w/a/s/d, space, ctrl, shift, 1/2/3, r, the left and right mouse buttons) set
  their flags. Keys are taken in the order they were pressed, and a key that would complete one of the
  reference's forbidden pairs (w+s, a+d, two weapon keys, two opposite arrow keys) is left out: the key
  pressed first wins.
- **Mouse motion**: the relative motion since the last frame, times a sensitivity multiplier, clipped to
  the outermost bins (±1000 horizontally, ±200 vertically) and snapped to the nearest bin of each axis.
- **Arrow keys** stand for mouse moves and override the mouse on their axis: left/right ±60, up/down ∓50
  (up looks up: a negative vertical move, as a mouse pushed away from the player in screen coordinates).

The window and the browser page both call :func:`fps_action` with UI-independent names; everything here
is a pure function.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from diamond.fps_actions import BUTTONS, KEYS, MOUSE_X_BINS, MOUSE_Y_BINS, encode

ARROWS = {"left": (-60, None), "right": (60, None), "up": (None, -50), "down": (None, 50)}
CONTROLS = (*KEYS, *BUTTONS, *ARROWS)  # every name a UI may report as held
FORBIDDEN_PAIRS = (
    frozenset({"w", "s"}),
    frozenset({"a", "d"}),
    frozenset({"1", "2"}),
    frozenset({"1", "3"}),
    frozenset({"2", "3"}),
    frozenset({"up", "down"}),
    frozenset({"left", "right"}),
)
SENSITIVITIES = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)  # the multipliers a player cycles through


def allowed_controls(held_in_order: Iterable[str]) -> list[str]:
    """The held controls, in press order, without any that would complete a forbidden pair with one pressed
    earlier (and without repeats). Unknown names are an error: a UI maps its keys to CONTROLS first."""
    kept: list[str] = []
    for name in held_in_order:
        if name not in CONTROLS:
            raise ValueError(f"unknown control {name!r}; expected one of {CONTROLS}")
        if name in kept or any(pair <= {*kept, name} for pair in FORBIDDEN_PAIRS):
            continue
        kept.append(name)
    return kept


def mouse_move(held: Iterable[str], dx: float = 0.0, dy: float = 0.0, sensitivity: float = 1.0) -> tuple[float, float]:
    """The mouse move of one frame before snapping: the relative motion times the sensitivity, clipped to
    the outermost bins; a held arrow key replaces its axis."""
    x = float(np.clip(dx * sensitivity, MOUSE_X_BINS[0], MOUSE_X_BINS[-1]))
    y = float(np.clip(dy * sensitivity, MOUSE_Y_BINS[0], MOUSE_Y_BINS[-1]))
    for name in held:
        ax, ay = ARROWS.get(name, (None, None))
        x = x if ax is None else float(ax)
        y = y if ay is None else float(ay)
    return x, y


def fps_action(held_in_order: Iterable[str], dx: float = 0.0, dy: float = 0.0, sensitivity: float = 1.0) -> np.ndarray:
    """The (51,) float32 action of one frame of play from the held controls (in press order) and the
    relative mouse motion (dx right, dy down, in mouse units) since the last frame."""
    held = allowed_controls(held_in_order)
    x, y = mouse_move(held, dx, dy, sensitivity)
    return encode([h for h in held if h in KEYS or h in BUTTONS], x, y)
