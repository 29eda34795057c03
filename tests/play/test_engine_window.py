"""The engine's desktop player in a real pygame window (SDL's dummy video driver), driven by scripted key,
mouse-button and relative-mouse events."""

import os

import numpy as np
import pytest

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
pygame = pytest.importorskip("pygame")

from diamond.data.engine_data import EngineSplit  # noqa: E402
from diamond.fps_actions import decode  # noqa: E402
from diamond.play.engine_session import EngineSession  # noqa: E402
from diamond.play.engine_window import EngineApp  # noqa: E402
from diamond.play.pygame_app import HEADER_HEIGHT  # noqa: E402


def key(kind: int, *keys: int) -> None:
    for k in keys:
        pygame.event.post(pygame.event.Event(kind, key=k, mod=0, unicode="", scancode=0))


def mouse(kind: int, **attrs) -> None:
    pygame.event.post(pygame.event.Event(kind, **attrs))


def move(dx: int, dy: int) -> None:
    mouse(pygame.MOUSEMOTION, rel=(dx, dy), pos=(100, 100), buttons=(0, 0, 0))


def last_action(session: EngineSession):
    return decode(session.state.act[0, -2].numpy())


def picture(app) -> np.ndarray:
    return pygame.surfarray.array3d(app.window.screen)[:, HEADER_HEIGHT:].copy()


def test_keys_clicks_and_mouse_motion_make_the_action(engine, spawns, tmp_path):
    session = EngineSession(engine, spawns, seed=0, record=tmp_path / "rec")
    app = EngineApp(session, fps=0, scale=2, screenshot_dir=tmp_path, threaded=True, log=lambda m: None)
    try:
        assert app.window.screen.get_size() == (560, 300 + HEADER_HEIGHT)
        start = picture(app)
        assert np.array_equal(start[::2, ::2], session.frame.image().transpose(1, 0, 2))

        key(pygame.KEYDOWN, pygame.K_w, pygame.K_s, pygame.K_LSHIFT)  # s is forbidden after w
        mouse(pygame.MOUSEBUTTONDOWN, button=1, pos=(10, 10))
        move(25, -8)
        move(10, 0)  # the motion of one frame adds up: 35 → bin 30; -8 → bin -10
        assert app.run(max_frames=1, max_seconds=60) == 1
        assert last_action(session) == (("w", "shift", "lmb"), 30, -10)
        assert "keys w+shift+lmb | mouse +30,-10" in app.header()[1]
        assert not np.array_equal(picture(app), start)  # the frame changed

        app.run(max_frames=1, max_seconds=60)  # no motion since: the mouse bins go back to 0
        assert last_action(session) == (("w", "shift", "lmb"), 0, 0)

        key(pygame.KEYUP, pygame.K_w, pygame.K_LSHIFT)
        mouse(pygame.MOUSEBUTTONUP, button=1, pos=(10, 10))
        key(pygame.KEYDOWN, pygame.K_LEFT, pygame.K_DOWN)  # arrows stand for mouse moves
        move(400, 0)
        app.run(max_frames=1, max_seconds=60)
        assert last_action(session) == (("s",), -60, 50)  # s, still held, counts once w is up
        key(pygame.KEYUP, pygame.K_LEFT, pygame.K_DOWN, pygame.K_s)

        key(pygame.KEYDOWN, pygame.K_ESCAPE)  # frees the mouse: motion no longer counts
        app.run(max_frames=1, max_seconds=60)
        move(300, 0)
        app.run(max_frames=1, max_seconds=60)
        assert not app.grabbed and last_action(session)[1] == 0 and "click to grab" in app.header()[1]
        mouse(pygame.MOUSEBUTTONDOWN, button=1, pos=(10, 10))  # grabs again, is no click in the game
        move(-100, 0)
        app.run(max_frames=1, max_seconds=60)
        assert app.grabbed and last_action(session) == ((), -100, 0)

        key(pygame.KEYDOWN, pygame.K_PERIOD)  # sensitivity ×1.5
        move(40, 0)
        app.run(max_frames=1, max_seconds=60)
        assert last_action(session)[1] == 60

        key(pygame.KEYDOWN, pygame.K_F12)
        app.run(max_frames=1, max_seconds=60)
        shots = list(tmp_path.glob("screenshot_*.png"))
        assert len(shots) == 1 and pygame.image.load(str(shots[0])).get_size() == (560, 300 + HEADER_HEIGHT)
    finally:
        app.close()
    assert len(EngineSplit(tmp_path / "rec", "train")) == 1  # closing stored the episode being played


def test_spawn_cycling_quality_toggle_steps_pause_and_display_size(engine, spawns, tmp_path):
    session = EngineSession(engine, spawns, seed=0)
    app = EngineApp(session, fps=0, screenshot_dir=tmp_path, log=lambda m: None)
    try:
        app.run(max_frames=2, max_seconds=60)
        key(pygame.KEYDOWN, pygame.K_TAB)
        app.run(max_frames=1, max_seconds=60)
        assert session.spawn_index == 1 and app.frame.timestep == 1
        key(pygame.KEYDOWN, pygame.K_BACKSPACE, pygame.K_BACKSPACE)
        app.run(max_frames=1, max_seconds=60)
        assert session.spawn_index == 2  # cycles backwards
        key(pygame.KEYDOWN, pygame.K_RETURN)
        app.run(max_frames=1, max_seconds=60)
        assert session.spawn_index == 2 and app.frame.timestep == 1

        key(pygame.KEYDOWN, pygame.K_f)
        app.run(max_frames=1, max_seconds=60)
        assert app.frame.setting == "higher_quality" and app.header()[0].startswith("higher_quality (3+10 steps)")
        key(pygame.KEYDOWN, pygame.K_LEFTBRACKET, pygame.K_SEMICOLON, pygame.K_SEMICOLON)
        app.run(max_frames=1, max_seconds=60)
        assert app.frame.denoising_steps == (2, 8)
        key(pygame.KEYDOWN, pygame.K_f)
        app.run(max_frames=1, max_seconds=60)
        assert app.frame.denoising_steps == (1, 1)

        key(pygame.KEYDOWN, pygame.K_p)
        app.run(max_frames=1, max_seconds=0.5)
        paused_at = session.timestep
        assert session.paused and "PAUSED" in app.header()[1]
        assert app.run(max_frames=1, max_seconds=0.3) == 0  # nothing advances while paused
        key(pygame.KEYDOWN, pygame.K_n)
        assert app.run(max_frames=1, max_seconds=60) == 1 and session.timestep == paused_at + 1

        key(pygame.KEYDOWN, pygame.K_z)  # ×2 → ×3
        app.run(max_frames=1, max_seconds=0.3)  # still paused: only the key is handled
        assert app.window.screen.get_size() == (840, 450 + HEADER_HEIGHT)

        key(pygame.KEYDOWN, pygame.K_q)
        app.run(max_seconds=60)
        assert app.quit
    finally:
        app.close()


def test_m_plays_the_real_game_in_the_window_and_back(engine, spawns, tmp_path):
    pytest.importorskip("vizdoom")
    session = EngineSession(engine, spawns, seed=0, real_game="deathmatch")
    app = EngineApp(session, fps=0, screenshot_dir=tmp_path, log=lambda m: None)
    try:
        key(pygame.KEYDOWN, pygame.K_m, pygame.K_w)
        assert app.run(max_frames=3, max_seconds=60) == 3
        assert app.frame.world == "real" and app.frame.held == ("w",)
        assert app.header()[0].startswith("REAL GAME | t=3")
        real = picture(app)
        assert real.std() > 10  # the game's picture, drawn
        key(pygame.KEYDOWN, pygame.K_F12)
        app.run(max_frames=1, max_seconds=60)
        assert len(list(tmp_path.glob("screenshot_*.png"))) == 1
        key(pygame.KEYUP, pygame.K_w)
        key(pygame.KEYDOWN, pygame.K_m)
        app.run(max_frames=1, max_seconds=60)
        assert app.frame.world == "model" and app.frame.timestep == 1 and "spawn" in app.header()[0]
    finally:
        app.close()
