"""Keyboard and mouse to the engine's 51-entry action: flags, forbidden pairs, mouse bins, arrow keys."""

import numpy as np
import pytest

from diamond.fps_actions import NAMES, decode
from diamond.play.fps_controls import allowed_controls, fps_action, mouse_move


def held_names(vec: np.ndarray) -> set[str]:
    return {NAMES[i] for i in np.flatnonzero(vec)}


def test_keys_and_buttons_set_their_flags_and_the_still_mouse_its_zero_bins():
    vec = fps_action(["w", "shift", "lmb", "r"])
    assert vec.dtype == np.float32 and vec.shape == (51,)
    assert held_names(vec) == {"w", "shift", "lmb", "r", "mouse_x+0", "mouse_y+0"}


@pytest.mark.parametrize(
    ("held", "kept"),
    [
        (["w", "s"], ["w"]),
        (["s", "w"], ["s"]),
        (["d", "w", "a"], ["d", "w"]),
        (["2", "1", "3"], ["2"]),
        (["1", "w", "3", "a"], ["1", "w", "a"]),
        (["left", "right", "down", "up"], ["left", "down"]),
        (["w", "w", "space"], ["w", "space"]),
    ],
)
def test_the_key_pressed_first_wins_a_forbidden_pair(held, kept):
    assert allowed_controls(held) == kept


def test_an_unknown_control_is_named():
    with pytest.raises(ValueError, match="unknown control 'q'"):
        fps_action(["w", "q"])


@pytest.mark.parametrize(
    ("dx", "dy", "sensitivity", "bins"),
    [
        (0, 0, 1, (0, 0)),
        (7, -3, 1, (4, -4)),  # ties (7 between 4 and 10, −3 between −4 and −2) go to the lower bin
        (8, -3.1, 1, (10, -4)),
        (45, 0, 1, (30, 0)),
        (46, 0, 1, (60, 0)),
        (30, 30, 2, (60, 50)),  # the sensitivity scales before snapping
        (-5000, 999, 1, (-1000, 200)),  # clipped to the outermost bins
        (12, 0, 0.25, (2, 0)),
    ],
)
def test_mouse_motion_snaps_to_the_nearest_bin(dx, dy, sensitivity, bins):
    _, x, y = decode(fps_action([], dx, dy, sensitivity))
    assert (x, y) == bins


def test_arrow_keys_stand_for_mouse_moves_and_override_their_axis_only():
    assert decode(fps_action(["left"], 300, 20))[1:] == (-60, 20)
    assert decode(fps_action(["right"]))[1:] == (60, 0)
    assert decode(fps_action(["up"], -700, 200))[1:] == (-500, -50)
    assert decode(fps_action(["down", "right"]))[1:] == (60, 50)
    assert decode(fps_action(["left", "right"]))[1:] == (-60, 0)  # the opposite arrow is forbidden
    assert mouse_move(["w"], 3.0, -2.0, 10.0) == (30.0, -20.0)
    held, *_ = decode(fps_action(["left", "w"]))
    assert held == ("w",)  # arrows are no flags of their own
