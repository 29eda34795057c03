"""The scripted FPS player: valid CS:GO action vectors, mouse moves over many bins, aiming and shooting."""

from __future__ import annotations

import numpy as np
import pytest

from diamond import fps_actions
from diamond.envs.vizdoom_fps import View
from diamond.envs.vizdoom_player import ScriptedPlayer

VARS = {
    "POSITION_X": 0.0,
    "POSITION_Y": 0.0,
    "POSITION_Z": 0.0,
    "ANGLE": 90.0,
    "PITCH": 0.0,
    "HEALTH": 100.0,
    "SELECTED_WEAPON": 2.0,
    "SELECTED_WEAPON_AMMO": 50.0,
    "KILLCOUNT": 0.0,
    "FRAGCOUNT": 0.0,
    "HITCOUNT": 0.0,
    "DEATHCOUNT": 0.0,
}


def view(enemies=(), depth=(40.0, 40.0, 40.0), x: float = 0.0) -> View:
    return View({**VARS, "POSITION_X": x}, list(enemies), (400, 225), depth)


def play(player: ScriptedPlayer, views) -> list[tuple[tuple[str, ...], int, int]]:
    return [fps_actions.decode(player.act(v)) for v in views]


def test_it_turns_towards_an_enemy_and_fires_when_it_is_near_the_crosshair():
    centred, right, left = (190, 80, 20, 60), (330, 80, 20, 60), (30, 80, 20, 60)
    player = ScriptedPlayer(0)
    player.reset()
    moves = play(player, [view([centred], x=i * 10) for i in range(12)])
    assert sum("lmb" in held for held, _, _ in moves[8:]) >= 3  # after a reaction time of < 8 frames
    assert all(abs(dx) <= 20 for _, dx, _ in moves[8:])
    for box, sign in ((right, 1), (left, -1)):
        player.reset()
        moves = play(player, [view([box], x=i * 10) for i in range(10)])
        assert all(np.sign(dx) == sign and abs(dx) >= 100 for _, dx, _ in moves[8:])
        assert not any("lmb" in held for held, _, _ in moves)  # far from the crosshair: no shot yet


def test_it_steers_away_from_a_wall_and_turns_round_when_stuck():
    player = ScriptedPlayer(1)
    player.reset()
    moves = play(player, [view(depth=(30.0, 2.0, 5.0), x=i * 10) for i in range(5)])
    assert all(dx < 0 for _, dx, _ in moves)  # the left is more open
    player.reset()
    moves = play(player, [view(x=0.0) for _ in range(40)])  # walking but never moving
    assert any("s" in held for held, _, _ in moves) and sum(abs(dx) for _, dx, _ in moves) > 1500


def test_the_same_seed_gives_the_same_actions():
    views = [view([(100 + 5 * i, 80, 20, 60)] if i % 20 < 10 else [], x=i * 7) for i in range(200)]
    a, b = ScriptedPlayer(5), ScriptedPlayer(5)
    assert np.array_equal(np.stack([a.act(v) for v in views]), np.stack([b.act(v) for v in views]))
    assert not np.array_equal(np.stack([ScriptedPlayer(6).act(v) for v in views]), np.stack([a.act(v) for v in views]))


def test_it_plays_real_deathmatch_with_valid_varied_actions_and_shoots():
    pytest.importorskip("vizdoom", reason="ViZDoom is not installed (pip install 'diamond-wm[vizdoom]')")
    from diamond.envs.vizdoom_fps import VizdoomConfig, VizdoomFPSEnv
    from diamond.evaluation.fps_recording import GameTally, action_statistics

    env, player, tally = VizdoomFPSEnv(VizdoomConfig("deathmatch"), seed=0), ScriptedPlayer(0), GameTally()
    actions = []
    try:
        _, info = env.reset()
        for _ in range(500):
            actions.append(player.act(info.get("view")))
            before = info.get("view")
            _, _, end, trunc, info = env.step(actions[-1])
            tally.update(before, info.get("view"), died=end)
            if end or trunc:
                _, info = env.reset()
                player.reset()
    finally:
        env.close()
    actions = fps_actions.csgo_action_space().check(np.stack(actions), "scripted actions")
    stats = action_statistics(actions)
    assert stats["mouse_x_bins_used"] >= 15 and stats["mouse_y_bins_used"] >= 9
    assert 0.05 < stats["mouse_x_still_fraction"] < 0.6
    assert stats["held_fraction"]["w"] > 0.4 and 0 < stats["held_fraction"]["lmb"] < 0.6
    assert tally.enemy_visible_frames > 50 and tally.shots > 0 and tally.hits > 0
