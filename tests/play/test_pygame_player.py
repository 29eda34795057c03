"""The desktop players in a real pygame window (SDL's dummy video driver), driven by scripted key events."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
pygame = pytest.importorskip("pygame")

from diamond.play.dataset_browser import DatasetBrowser  # noqa: E402
from diamond.play.models import load_play_models  # noqa: E402
from diamond.play.pygame_app import HEADER_HEIGHT, BrowserApp, PlayerApp  # noqa: E402
from diamond.play.session import PlaySession  # noqa: E402

SCALE = 4


def press(*keys: int) -> None:
    for key in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))


def release(*keys: int) -> None:
    for key in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYUP, key=key, mod=0, unicode="", scancode=0))


def picture(app) -> np.ndarray:
    """The frame area of the window (below the header), as (W, H, 3)."""
    return pygame.surfarray.array3d(app.window.screen)[:, HEADER_HEIGHT:].copy()


def test_scripted_keys_switch_controller_change_horizon_pause_and_step(play_checkpoints, tmp_path):
    session = PlaySession(load_play_models(play_checkpoints["run"]), seed=0)
    app = PlayerApp(session, fps=0, scale=SCALE, screenshot_dir=tmp_path, log=lambda m: None)
    try:
        assert app.window.screen.get_size() == (64 * SCALE, 64 * SCALE + HEADER_HEIGHT)
        # the frame on screen is the session's frame, scaled up
        assert np.array_equal(picture(app)[::SCALE, ::SCALE], session.frame.image().transpose(1, 0, 2))
        assert app.run(max_frames=3, max_seconds=60) == 3

        press(pygame.K_LEFT)  # held: a control
        assert app.run(max_frames=2, max_seconds=60) == 2
        assert app.frame.action_name == "LEFT" and "human" in app.header()[0]
        release(pygame.K_LEFT)
        app.run(max_frames=1, max_seconds=60)
        assert app.frame.action_name == "NOOP"

        press(pygame.K_c)
        app.run(max_frames=1, max_seconds=60)
        assert session.controller == "policy" and " policy " in app.header()[0]
        press(pygame.K_c)
        app.run(max_frames=1, max_seconds=60)
        assert session.controller == "human"

        press(pygame.K_EQUALS)
        app.run(max_frames=1, max_seconds=60)
        assert session.horizon == 2000 and "horizon 2000" in app.header()[0]
        press(pygame.K_MINUS, pygame.K_MINUS)
        app.run(max_frames=1, max_seconds=60)
        assert session.horizon == 500 and session._world_model().horizon == 500

        press(pygame.K_p)
        app.run(max_frames=1, max_seconds=0.5)  # paused: nothing new is shown
        assert session.paused and app.header()[1].startswith("PAUSED")
        before, shown = picture(app), app.frames_shown
        assert app.run(max_frames=1, max_seconds=0.5) == 0 and np.array_equal(picture(app), before)
        press(pygame.K_n)  # one step
        assert app.run(max_frames=1, max_seconds=60) == 1 and app.frames_shown == shown + 1
        after = picture(app)
        assert not np.array_equal(after, before)
        assert np.array_equal(after[::SCALE, ::SCALE], app.frame.image().transpose(1, 0, 2))
        assert app.run(max_frames=1, max_seconds=0.5) == 0  # still paused
        press(pygame.K_p)
        assert app.run(max_frames=2, max_seconds=60) == 2 and not session.paused

        press(pygame.K_F5)  # bound to nothing
        app.handle_events()
        assert "key 'f5' does nothing here" in app.header()[1] and not app.queued

        press(pygame.K_m)  # the real test env
        app.run(max_frames=1, max_seconds=60)
        assert session.source == "test env" and "test env" in app.header()[0]
        press(pygame.K_r)
        app.run(max_frames=1, max_seconds=60)
        assert app.frame.timestep == 1

        press(pygame.K_F12)
        app.run(max_frames=1, max_seconds=60)
        shots = list(tmp_path.glob("screenshot_*.png"))
        assert len(shots) == 1
        import cv2

        image = cv2.imread(str(shots[0]))
        assert image.shape == (64 * SCALE + HEADER_HEIGHT, 64 * SCALE, 3) and image[HEADER_HEIGHT:].max() > 0

        press(pygame.K_q)
        assert app.run(max_seconds=10) == 0 and app.quit
    finally:
        app.close()


def test_threaded_and_synchronous_loops_show_the_same_game(play_checkpoints):
    """Sampling off the drawing path changes nothing in what is played: same seed, same frames."""
    frames = []
    for threaded in (True, False):
        session = PlaySession(load_play_models(play_checkpoints["world_model"], game="Breakout"), seed=5)
        app = PlayerApp(session, fps=0, scale=1, threaded=threaded, log=lambda m: None)
        try:
            press(pygame.K_RIGHT)
            app.run(max_frames=4, max_seconds=60)
            frames.append(app.frame.obs.copy())
        finally:
            app.close()
    assert np.array_equal(frames[0], frames[1])


def test_target_frame_rate_is_kept(play_checkpoints):
    session = PlaySession(load_play_models(play_checkpoints["world_model"], game="Breakout"), seed=0)
    app = PlayerApp(session, fps=10, scale=1, log=lambda m: None)
    try:
        import time

        t0 = time.perf_counter()
        app.run(max_frames=6, max_seconds=30)
        assert time.perf_counter() - t0 >= 0.45  # 6 frames at 10 FPS: 5 periods at least
    finally:
        app.close()


def test_dataset_browser_window_moves_with_keys(breakout_stores, tmp_path):
    train, test = breakout_stores
    browser = DatasetBrowser([train, test])
    app = BrowserApp(browser, scale=SCALE, screenshot_dir=tmp_path)
    try:

        def shown_is(obs):
            return np.array_equal(picture(app)[::SCALE, ::SCALE], obs.transpose(2, 1, 0))

        first = browser.stores[0].get(0)
        assert shown_is(first.obs[0])
        press(pygame.K_RIGHT, pygame.K_UP, pygame.K_UP)
        app.run(max_iterations=3)
        assert browser.view().timestep == 21 and shown_is(first.obs[21]) and "t=21/" in app.header()[0]
        press(pygame.K_DOWN, pygame.K_LEFT)
        app.run(max_iterations=3)
        assert browser.view().timestep == 10
        press(pygame.K_HOME)
        app.run(max_iterations=2)
        assert browser.view().timestep == 0
        press(pygame.K_PAGEDOWN)
        app.run(max_iterations=2)
        assert browser.view().episode == 1 and shown_is(browser.stores[0].get(1).obs[0])
        press(pygame.K_RIGHTBRACKET)
        app.run(max_iterations=2)
        assert browser.view().dataset_index == 1 and shown_is(browser.stores[1].get(0).obs[0])
        press(pygame.K_LEFTBRACKET, pygame.K_PAGEUP)
        app.run(max_iterations=2)
        v = browser.view()
        assert (v.dataset_index, v.episode) == (0, len(browser.stores[0]) - 1)
        press(pygame.K_F5)
        app.run(max_iterations=2)
        assert "does nothing" in app.header()[1]
        press(pygame.K_F12)
        app.run(max_iterations=2)
        assert len(list(tmp_path.glob("screenshot_*.png"))) == 1
    finally:
        app.close()


def _diamond(*args, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "diamond.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", **(env or {})},
    )


def test_play_and_browse_commands_record_then_browse(play_checkpoints, tmp_path):
    record, shot, stats = tmp_path / "recorded", tmp_path / "play.png", tmp_path / "play.json"
    out = _diamond(
        "play",
        "--checkpoint",
        str(play_checkpoints["run"]),
        "--frames",
        "6",
        "--fps",
        "0",
        "--record",
        str(record),
        "--screenshot",
        str(shot),
        "--json",
        str(stats),
        "--device",
        "cpu",
        "--precision",
        "bfloat16",
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(stats.read_text())
    assert result["frames"] == 6 and result["achieved_fps"] > 0 and result["recorded_episodes"] >= 1
    assert result["precision"] == "bfloat16" and "bfloat16" in out.stderr
    assert shot.stat().st_size > 1000
    out = _diamond("browse", str(record), "--frames", "3", "--screenshot", str(tmp_path / "browse.png"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "browse.png").exists()
    shutil.copytree(record, tmp_path / "run" / "data" / "train")  # a run folder stands for its replay store
    out = _diamond("browse", str(tmp_path / "run"), "--frames", "3", "--screenshot", str(tmp_path / "run.png"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "run.png").stat().st_size > 1000 and "browsing 1 dataset" in out.stderr


def test_commands_refuse_bad_input_clearly(play_checkpoints, tmp_path):
    out = _diamond("browse", str(tmp_path / "missing"), "--frames", "1")
    assert out.returncode == 2 and f"{tmp_path / 'missing'} does not exist: expected an episode store" in out.stderr
    out = _diamond("play", "--checkpoint", str(play_checkpoints["reference"]), "--game", "Pong", "--frames", "1")
    assert out.returncode == 2 and "trained with 4 actions, but Pong has 6" in out.stderr
    out = _diamond(
        "play",
        "--checkpoint",
        str(play_checkpoints["world_model"]),
        "--game",
        "Breakout",
        "--controller",
        "policy",
        "--frames",
        "1",
    )
    assert out.returncode == 2 and "holds no policy" in out.stderr
    out = _diamond(
        "play",
        "--checkpoint",
        str(play_checkpoints["run"]),
        "--precision",
        "float16",
        "--device",
        "cpu",
        "--frames",
        "1",
    )
    assert out.returncode == 2 and "--precision 'float16' is for CUDA devices" in out.stderr
    assert "Traceback" not in out.stderr
    out = _diamond(
        "play",
        "--checkpoint",
        str(play_checkpoints["run"]),
        "--record",
        str(tmp_path / "r" / "x"),
        "--frames",
        "1",
        "--fps",
        "0",
    )
    assert out.returncode == 0, out.stderr
    (tmp_path / "file").write_text("not a folder")
    out = _diamond(
        "play", "--checkpoint", str(play_checkpoints["run"]), "--record", str(tmp_path / "file"), "--frames", "1"
    )
    assert out.returncode == 2 and str(tmp_path / "file") in out.stderr


def test_from_hub_reads_the_huggingface_cache_offline(play_checkpoints, tmp_path):
    """--from-hub goes through huggingface_hub; offline, it finds the file in the cache laid out as the Hub does."""
    pytest.importorskip("huggingface_hub")
    cache = tmp_path / "hub"
    revision = "0" * 40
    repo = cache / "models--eloialonso--diamond"
    target = repo / "snapshots" / revision / "atari_100k" / "models" / "Breakout.pt"
    target.parent.mkdir(parents=True)
    target.write_bytes(play_checkpoints["reference"].read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    offline = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache)}
    out = _diamond(
        "play", "--from-hub", "Breakout", "--frames", "3", "--fps", "0", "--json", str(tmp_path / "s.json"), env=offline
    )
    assert out.returncode == 0, out.stderr
    assert str(target) in out.stderr and json.loads((tmp_path / "s.json").read_text())["frames"] == 3
    out = _diamond("play", "--from-hub", "Pong", "--frames", "1", env=offline)  # not in the cache
    assert out.returncode == 2 and "--from-hub Pong: could not get atari_100k/models/Pong.pt" in out.stderr
    out = _diamond("play", "--from-hub", "Pacman", "--frames", "1", env=offline)
    assert out.returncode == 2 and "Pacman" in out.stderr


def test_reference_conformance_checkpoint_plays_in_the_window(conformance_dir, tmp_path):
    session = PlaySession(load_play_models(conformance_dir / "small_agent_reference_format.pt", game="Breakout"))
    app = PlayerApp(session, fps=0, scale=2, log=lambda m: None)
    try:
        assert app.run(max_frames=3, max_seconds=120) == 3
        press(pygame.K_c)
        app.run(max_frames=2, max_seconds=120)
        assert session.controller == "policy"
        app.window.screenshot(tmp_path / "conformance.png")
        assert (tmp_path / "conformance.png").exists()
    finally:
        app.close()


def test_window_options_and_a_missing_display_are_refused_clearly(play_checkpoints, tmp_path):
    ckpt = str(play_checkpoints["run"])
    out = _diamond("play", "--checkpoint", ckpt, "--scale", "0", "--frames", "1")
    assert out.returncode == 2 and "--scale 0 must be >= 1" in out.stderr
    out = _diamond("play", "--checkpoint", ckpt, "--frames", "0")
    assert out.returncode == 2 and "argument --frames: 0 is invalid; expected an integer >= 1" in out.stderr
    out = _diamond("play", "--checkpoint", ckpt, "--frames", "1", env={"SDL_VIDEODRIVER": "no-such-driver"})
    assert out.returncode == 2 and "cannot open a window" in out.stderr and "diamond play-web" in out.stderr
    (tmp_path / "file").write_text("x")
    out = _diamond("play-web", "--checkpoint", ckpt, "--record", str(tmp_path / "file"), "--port", "0")
    assert out.returncode == 2 and "records each tab into" in out.stderr
