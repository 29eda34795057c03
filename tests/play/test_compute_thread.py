"""The window player does all of its model work on one thread (``play.compute``): the models are loaded, the
session made, stepped, commanded and closed there, never on the thread that draws."""

import os
import threading

import pytest

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
pygame = pytest.importorskip("pygame")

from diamond.play import compute, launch  # noqa: E402
from diamond.play.session import PlaySession  # noqa: E402


def test_every_model_call_of_the_window_player_runs_on_the_compute_thread(play_checkpoints, monkeypatch, tmp_path):
    seen: list[tuple[str, str]] = []

    def spy(name, original):
        def call(*args, **kwargs):
            seen.append((name, threading.current_thread().name))
            return original(*args, **kwargs)

        return call

    for name in ("step", "reset", "toggle_controller", "close"):
        monkeypatch.setattr(PlaySession, name, spy(name, getattr(PlaySession, name)))
    monkeypatch.setattr(launch, "load_play_models", spy("load", launch.load_play_models))
    models = launch.open_models(str(play_checkpoints["run"]), None, None, None, "cpu", 1, log=lambda m: None)
    session_args = {"seed": 0, "horizon": 50, "source": "world model", "controller": "policy", "record": None}
    result = launch.play_desktop(models, session_args, 0.0, 1, 4, None, str(tmp_path), log=lambda m: None)
    assert result["frames"] == 4
    assert {name for name, _ in seen} == {"load", "reset", "toggle_controller", "step", "close"}
    assert all(thread.startswith(compute.THREAD_NAME) for _, thread in seen), seen
    assert not compute.on_compute_thread()  # this test's thread drew the window
