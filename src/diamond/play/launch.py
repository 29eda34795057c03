"""The jobs behind ``diamond play``, ``diamond play-web`` and ``diamond browse``."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diamond.configs.schema import ConfigError
from diamond.play import compute
from diamond.play.models import PlayModels, download_from_hub, load_play_models
from diamond.play.session import CONTROLLERS, PlaySession


def open_models(*args: Any, **kwargs: Any) -> PlayModels:
    """``load_models`` on the compute thread, where the player will step them (``play.compute``)."""
    return compute.run(load_models, *args, **kwargs)


def load_models(
    checkpoint: str | None,
    from_hub: str | None,
    game: str | None,
    env: str | None,
    device: str,
    denoising_steps: int | None,
    log: Callable[[str], None] = print,
    precision: str = "float32",
) -> PlayModels:
    from diamond.devices import check_precision, resolve_device

    dev = resolve_device(device)
    check_precision(precision, dev, "--precision")  # before a download or load
    if (checkpoint is None) == (from_hub is None):
        raise ConfigError("give exactly one of --checkpoint PATH and --from-hub GAME")
    if from_hub is not None:
        if game is not None and game != from_hub:
            raise ConfigError(f"--game {game} and --from-hub {from_hub} name different games")
        path = download_from_hub(from_hub)
        log(f"pretrained {from_hub} model: {path}")
        game = from_hub
    else:
        path = Path(checkpoint)  # type: ignore[arg-type]
    models = load_play_models(path, dev, game=game, env=env)
    return models.with_denoising_steps(denoising_steps).with_precision(precision)


def new_session(
    models: PlayModels, seed: int, horizon: int, source: str, controller: str, record: str | None
) -> PlaySession:
    if controller not in CONTROLLERS:
        raise ConfigError(f"--controller {controller!r} is unknown; choose one of {', '.join(CONTROLLERS)}")
    if controller == "policy" and models.actor_critic is None:
        raise ConfigError(f"--controller policy: {models.path} holds no policy (actor-critic)")
    session = PlaySession(models, seed=seed, horizon=horizon, source=source, record=record)
    if controller == "policy":
        session.toggle_controller()
    return session


def run_window(app: Any, frames: int | None, screenshot: str | None, log: Callable[[str], None]) -> tuple:
    """Run a player window until quit or ``frames`` frames, screenshot it, close it; returns the frames
    shown, the seconds taken and the session's step times."""
    try:
        t0 = time.perf_counter()
        shown = app.run(frames)
        seconds = time.perf_counter() - t0
        if screenshot:
            app.redraw()
            log(f"wrote {app.window.screenshot(screenshot)}")
        steps = list(app.session.step_seconds)
    finally:
        app.close()
    return shown, seconds, steps


def play_desktop(
    models: PlayModels,
    session_args: dict[str, Any],
    fps: float,
    scale: int | None,
    frames: int | None,
    screenshot: str | None,
    screenshot_dir: str,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """A window; returns the achieved frame rate (frames shown per second of the loop)."""
    if frames is not None and frames < 1:
        raise ConfigError(f"--frames {frames} must be >= 1")
    from diamond.play.pygame_app import PLAYER_HELP, PlayerApp

    session = compute.run(new_session, models, **session_args)
    app = PlayerApp(session, fps=fps, scale=scale, screenshot_dir=screenshot_dir, log=log)
    log(
        f"playing {session.game} in the {session.source} ({models.kind} checkpoint {models.path}, "
        f"{models.cfg.sampler.num_steps_denoising} denoising steps, {models.precision}); keys: {PLAYER_HELP}"
    )
    shown, seconds, steps = run_window(app, frames, screenshot, log)
    result = {
        "game": session.game,
        "source": session.source,
        "controller": session.controller,
        "denoising_steps": models.cfg.sampler.num_steps_denoising,
        "precision": models.precision,
        "device": str(session.device),
        "frames": shown,
        "seconds": seconds,
        "achieved_fps": shown / seconds if seconds > 0 else 0.0,
        "target_fps": fps,
        "median_step_ms": 1000 * statistics.median(steps) if steps else None,
        "recorded_episodes": session.recorder.episodes_stored if session.recorder else 0,
    }
    log(
        f"{shown} frames in {seconds:.1f} s: {result['achieved_fps']:.1f} FPS"
        + (f" (median step {result['median_step_ms']:.1f} ms)" if steps else "")
    )
    return result


def play_web(
    models: PlayModels,
    session_args: dict[str, Any],
    host: str,
    port: int,
    fps: float,
    log: Callable[[str], None] = print,
) -> None:
    serve_web(
        lambda record: new_session(models, **{**session_args, "record": record}), session_args, host, port, fps, log
    )


def serve_web(
    make: Callable[[str | None], Any],
    session_args: dict[str, Any],
    host: str,
    port: int,
    fps: float,
    log: Callable[[str], None] = print,
    client: type | None = None,
) -> None:
    """Serve a browser player whose sessions ``make(record)`` builds (the networks shared); each tab records,
    with ``session_args["record"]``, into a folder of its own (``record/client-N``). A first session is built
    and closed before serving, so that bad arguments fail before the server starts."""
    import asyncio
    import signal
    import threading

    try:
        import websockets  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "the browser player needs websockets; install it with: pip install 'diamond-wm[play]'"
        ) from exc
    from diamond.play.web import ClientSession
    from diamond.play.web_server import WebPlayer

    record = session_args.get("record")
    if record is not None and Path(record).exists() and not Path(record).is_dir():
        raise ConfigError(f"--record {record} is a file; the browser player records each tab into {record}/client-N")
    compute.run(lambda: make(None).close())

    def make_session(n: int) -> Any:
        return make(record and str(Path(record) / f"client-{n}"))

    player = WebPlayer(make_session, host=host, port=port, fps=fps, log=log, client=client or ClientSession)
    # SIGTERM (a process manager, `kill`) stops the server as Ctrl+C does: each tab's session is closed, the
    # recordings finished and the real games' engine processes ended, instead of dying on the spot
    main = threading.current_thread() is threading.main_thread()  # only the main thread may set handlers
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler) if main else None
    try:
        asyncio.run(player.serve())
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def browse(
    paths: list[str],
    scale: int | None,
    frames: int | None,
    screenshot: str | None,
    screenshot_dir: str,
    log: Callable[[str], None] = print,
) -> None:
    from diamond.play.dataset_browser import DatasetBrowser
    from diamond.play.pygame_app import BROWSER_HELP, BrowserApp

    app = BrowserApp(DatasetBrowser(paths), scale=scale, screenshot_dir=screenshot_dir)
    log(f"browsing {len(paths)} dataset(s); keys: {BROWSER_HELP}")
    try:
        app.run(frames)
        if screenshot:
            log(f"wrote {app.window.screenshot(screenshot)}")
    finally:
        app.close()
