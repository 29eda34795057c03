"""The keyboard-and-mouse action layout of the paper's CS:GO engine (spec §10): one place for it.

51 entries: 11 key flags, the two mouse buttons, a one-hot over 23 horizontal mouse bins and a one-hot
over 15 vertical ones. The ViZDoom family, the HDF5 import, the players and the engine all read this
module; nothing else spells the layout out.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from diamond.spaces import ActionSpace

KEYS = ("w", "a", "s", "d", "space", "ctrl", "shift", "1", "2", "3", "r")
BUTTONS = ("lmb", "rmb")  # left and right mouse buttons
MOUSE_X_BINS = (
    -1000,
    -500,
    -300,
    -200,
    -100,
    -60,
    -30,
    -20,
    -10,
    -4,
    -2,
    0,
    2,
    4,
    10,
    20,
    30,
    60,
    100,
    200,
    300,
    500,
    1000,
)
MOUSE_Y_BINS = (-200, -100, -50, -20, -10, -4, -2, 0, 2, 4, 10, 20, 50, 100, 200)
NAMES = (*KEYS, *BUTTONS, *(f"mouse_x{v:+d}" for v in MOUSE_X_BINS), *(f"mouse_y{v:+d}" for v in MOUSE_Y_BINS))
X_SLICE = slice(len(KEYS) + len(BUTTONS), len(KEYS) + len(BUTTONS) + len(MOUSE_X_BINS))
Y_SLICE = slice(X_SLICE.stop, X_SLICE.stop + len(MOUSE_Y_BINS))
SIZE = len(NAMES)  # 51


def csgo_action_space() -> ActionSpace:
    """The 51-entry multi-hot space; each mouse axis is a one-hot group."""
    return ActionSpace.multi_hot(
        NAMES, groups=(tuple(range(X_SLICE.start, X_SLICE.stop)), tuple(range(Y_SLICE.start, Y_SLICE.stop)))
    )


def nearest_bin(value: float, bins: tuple[int, ...]) -> int:
    """Index of the bin nearest to ``value`` (values beyond the ends go to the end bins; ties to the lower bin)."""
    return int(np.argmin(np.abs(np.asarray(bins, dtype=np.float64) - float(value))))


def encode(pressed: Iterable[str] = (), mouse_dx: float = 0.0, mouse_dy: float = 0.0) -> np.ndarray:
    """The action vector (float32, 51) of held keys/buttons (names from KEYS and BUTTONS) and a mouse move,
    snapped to the nearest bin of each axis."""
    vec = np.zeros(SIZE, dtype=np.float32)
    for name in pressed:
        if name not in KEYS and name not in BUTTONS:
            raise ValueError(f"unknown key or button {name!r}; expected one of {KEYS + BUTTONS}")
        vec[NAMES.index(name)] = 1
    vec[X_SLICE.start + nearest_bin(mouse_dx, MOUSE_X_BINS)] = 1
    vec[Y_SLICE.start + nearest_bin(mouse_dy, MOUSE_Y_BINS)] = 1
    return vec


def decode(vec: np.ndarray) -> tuple[tuple[str, ...], int, int]:
    """(held keys and buttons, horizontal mouse bin value, vertical mouse bin value) of one action vector."""
    vec = np.asarray(vec)
    held = tuple(n for i, n in enumerate(KEYS + BUTTONS) if vec[i] > 0.5)
    return held, MOUSE_X_BINS[int(np.argmax(vec[X_SLICE]))], MOUSE_Y_BINS[int(np.argmax(vec[Y_SLICE]))]
