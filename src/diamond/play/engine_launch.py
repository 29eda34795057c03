"""The jobs behind ``diamond play-engine`` and ``diamond make-spawns``: open an engine and its spawn points,
check that the players can drive it, and play in a window."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diamond.checkpoints.engine import load_engine
from diamond.configs.schema import ConfigError
from diamond.data.spawn import spawn_folders
from diamond.fps_actions import csgo_action_space
from diamond.models.engine import Engine
from diamond.play import compute
from diamond.play.engine_session import EngineSession


def open_engine(*args: Any, **kwargs: Any) -> tuple[Engine, list[Path]]:
    """``load_engine_and_spawns`` on the compute thread, where the players will step it (``play.compute``)."""
    return compute.run(load_engine_and_spawns, *args, **kwargs)


def load_engine_and_spawns(
    checkpoint: str | None,
    from_hub: str | None,
    spawn: str | None,
    device: str,
    log: Callable[[str], None] = print,
    layout: str = "channels_last",
    precision: str = "float32",
) -> tuple[Engine, list[Path]]:
    """The engine of ``checkpoint`` (or the authors' ``from_hub`` one, with its spawn points unless ``spawn``
    names others) on ``device`` with its weights in memory ``layout``, stepping in ``precision``, and the
    spawn-point folders."""
    from diamond.devices import check_precision, resolve_device, set_layout

    dev = resolve_device(device)
    check_precision(precision, dev, "--precision")  # before a (large) download or load

    if (checkpoint is None) == (from_hub is None):
        raise ConfigError("give exactly one of --checkpoint PATH and --from-hub csgo")
    if from_hub is not None:
        from diamond.checkpoints.hub import download_engine

        hub = download_engine(from_hub)
        log(f"pretrained {from_hub} engine: {hub.checkpoint}")
        path, spawn = hub.checkpoint, spawn or str(hub.spawn_dir)
    else:
        path = Path(checkpoint)  # type: ignore[arg-type]
    if spawn is None:
        raise ConfigError(
            "--spawn DIR is needed with --checkpoint: a folder of spawn points (make them from a dataset's "
            "held-out episodes with `diamond make-spawns DATASET DIR`)"
        )
    engine = set_layout(load_engine(path, dev), layout)
    engine.precision = precision
    space = engine.cfg.dynamics.net.action_space
    if (space.kind, space.size) != (csgo_action_space().kind, csgo_action_space().size):
        raise ConfigError(
            f"{path}: its dynamics model takes a {space}; the engine players drive the 51-entry keyboard-and-mouse "
            "layout of spec §10 (an Atari world model plays with `diamond play`)"
        )
    return engine, spawn_folders(spawn)


def play_engine_desktop(
    engine: Engine,
    spawns: list[Path],
    session_args: dict[str, Any],
    fps: float,
    scale: int | None,
    frames: int | None,
    screenshot: str | None,
    screenshot_dir: str,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """A window; returns the achieved frame rate and the model's own rate (frames per second)."""
    if frames is not None and frames < 1:
        raise ConfigError(f"--frames {frames} must be >= 1")
    from diamond.play.engine_window import ENGINE_HELP, EngineApp
    from diamond.play.launch import run_window

    session = compute.run(EngineSession, engine, spawns, **session_args)
    app = EngineApp(session, fps=fps, scale=scale, screenshot_dir=screenshot_dir, log=log)
    log(f"playing the engine from {len(spawns)} spawn point(s), {session.setting} setting; keys: {ENGINE_HELP}")
    shown, seconds, steps = run_window(app, frames, screenshot, log)
    return {
        "frames": shown,
        "seconds": seconds,
        "achieved_fps": shown / seconds if seconds > 0 else 0.0,
        "model_fps_median": 1.0 / statistics.median(steps) if steps else 0.0,
        "setting": session.setting,
        "denoising_steps": list(session.frame.denoising_steps) if session.frame else None,
        "precision": engine.precision,
    }


def play_engine_web(
    engine: Engine,
    spawns: list[Path],
    session_args: dict[str, Any],
    host: str,
    port: int,
    fps: float,
    log: Callable[[str], None] = print,
) -> None:
    """Serve the engine's browser player; each tab plays its own session, recording into ``record/client-N``."""
    from diamond.play.engine_web import EngineClient
    from diamond.play.launch import serve_web

    def make(record: str | None) -> EngineSession:
        return EngineSession(engine, spawns, **{**session_args, "record": record})

    serve_web(make, session_args, host, port, fps, log, client=EngineClient)
