"""The real game beside the engine (``--real-game``): ViZDoom played with the engine player's controls,
switched to and from the model, the model forked from the real frames just seen, real play recorded."""

import numpy as np
import pytest

from diamond.configs.schema import ConfigError
from diamond.data.engine_data import EngineSplit
from diamond.data.hdf5_episodes import LOW_RES
from diamond.fps_actions import decode
from diamond.imaging import downscale_frames, to_display
from diamond.play.engine_session import EngineSession
from diamond.play.fps_controls import fps_action
from diamond.play.real_game import RealGame, check_real_game

pytest.importorskip("vizdoom")


def test_the_real_game_keeps_the_context_the_model_goes_on_from():
    game = RealGame("deathmatch", seed=3, history=4)
    try:
        assert not game.started
        full, low = game.frame()
        assert game.started and full.shape == (3, 150, 280) and full.dtype == np.uint8
        np.testing.assert_array_equal(low, downscale_frames(full[None], LOW_RES)[0])
        actions = [fps_action(["w"], dx, 0.0) for dx in (0.0, 300.0, -300.0, 60.0, 0.0, 0.0)]
        frames = [full]
        for action in actions:
            full, low, died = game.step(action)
            assert not died
            frames.append(full)
        assert not np.array_equal(frames[0], frames[-1])  # walking and turning change the view
        context = game.context(4, 1)
        assert context.low_res.shape == (1, 4, 3, 30, 56) and context.full_res.shape == (1, 1, 3, 150, 280)
        np.testing.assert_array_equal(to_display(context.full_res[0, -1]).numpy(), frames[-1])
        np.testing.assert_array_equal(
            to_display(context.low_res[0]).numpy(), downscale_frames(np.stack(frames[-4:]), LOW_RES)
        )
        # the action taken in each of the last frames; the newest frame's (not yet taken) repeats the last one
        expected = np.stack([*actions[-3:], actions[-1]])
        np.testing.assert_array_equal(context.act[0].numpy(), expected)
    finally:
        game.close()


def test_m_switches_to_the_real_game_and_back_and_real_play_is_recorded(engine, spawns, tmp_path):
    session = EngineSession(engine, spawns, seed=0, real_game="deathmatch", record=tmp_path / "rec")
    try:
        spawn_frame = session.frame.full
        session.step(["w"], dx=100.0)  # one imagined step, recorded as a model episode
        frame, message = session.command("switch_world")
        assert frame.world == "real" and "new ViZDoom deathmatch" in message
        real = [session.step(["w", "lmb"], dx=dx).full for dx in (200.0, 200.0, -50.0, 0.0, 0.0)]
        assert session.frame.world == "real" and session.frame.held == ("w", "lmb")
        assert not np.array_equal(real[0], real[-1])

        frame, message = session.command("switch_world")  # back to the model, from the real frames just seen
        assert frame.world == "model" and "real game's last frames" in message
        np.testing.assert_array_equal(frame.full, real[-1])
        np.testing.assert_array_equal(to_display(session.state.full_res[0, -1]).numpy(), real[-1])
        np.testing.assert_array_equal(
            to_display(session.state.low_res[0]).numpy(), downscale_frames(np.stack(real[-4:]), LOW_RES)
        )
        assert decode(session.state.act[0, -2].numpy()) == (("w", "lmb"), 0, 0)
        imagined = session.step([], dx=0.0)
        assert imagined.world == "model" and not np.array_equal(imagined.full, spawn_frame)

        frame, message = session.command("switch_world")  # the real game waited where it was left
        assert frame.world == "real" and "where it was left" in message
        np.testing.assert_array_equal(frame.full, real[-1])
        session.step(["s"])
        session.command("restart")  # spawn commands go back to the model
        assert session.world == "model"
        np.testing.assert_array_equal(session.frame.full, spawn_frame)
    finally:
        session.close()
    recorded = EngineSplit(tmp_path / "rec", "train")
    assert list(recorded.lengths) == [2, 6, 2, 2]  # frames (the final one too): model, real, model (forked), real
    np.testing.assert_array_equal(recorded.full_res(1, 0, 5)[1:], np.stack(real[:4]))
    np.testing.assert_array_equal(recorded.actions(1, 0, 1)[0], fps_action(["w", "lmb"], 200.0, 0.0))
    np.testing.assert_array_equal(recorded.full_res(2, 0, 1)[0], real[-1])  # the fork starts from the real frame


def test_the_real_game_is_refused_where_it_cannot_be_and_missing_it_is_said(engine, spawns):
    with pytest.raises(ConfigError, match="'quake' is not a ViZDoom scenario; expected one of deathmatch"):
        EngineSession(engine, spawns, real_game="quake")
    with pytest.raises(ConfigError, match=r"the engine's frames are \(64, 64\).*ViZDoom's are \(150, 280\)"):
        check_real_game("deathmatch", (64, 64))
    session = EngineSession(engine, spawns)
    frame, message = session.command("switch_world")
    assert frame is None and "--real-game SCENARIO" in message and session.world == "model"
