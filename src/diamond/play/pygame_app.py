"""The desktop players: play inside the world model (``diamond play``), browse datasets (``diamond browse``).

Both draw the frame scaled up (nearest neighbour) under a header. The player computes frames on a
worker thread, so the window keeps handling keys and redrawing while the model samples; commands
(switching source, controller, reset...) wait for the frame in flight, so they never race with it.
Headless use (tests, benchmarks): set ``SDL_VIDEODRIVER=dummy``.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from diamond.errors import InvalidValue
from diamond.play import compute
from diamond.play.dataset_browser import JUMP, DatasetBrowser
from diamond.play.session import Frame, PlaySession

HEADER_HEIGHT = 54
WINDOW_WIDTH = 512  # the default scale makes frames about this wide
MESSAGE_SECONDS = 4.0  # how long a message stays in the header


def _pygame():
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as exc:
        raise InvalidValue("the desktop player needs pygame; install it with: pip install 'diamond-wm[play]'") from exc
    return pygame


def player_keys(pygame) -> tuple[dict[int, str], dict[int, str]]:
    """pygame key → control (held), and pygame key → command (pressed)."""
    controls = {
        pygame.K_UP: "up",
        pygame.K_w: "up",
        pygame.K_DOWN: "down",
        pygame.K_s: "down",
        pygame.K_LEFT: "left",
        pygame.K_a: "left",
        pygame.K_RIGHT: "right",
        pygame.K_d: "right",
        pygame.K_SPACE: "fire",
    }
    commands = {
        pygame.K_c: "toggle_controller",
        pygame.K_m: "next_source",
        pygame.K_TAB: "next_source",
        pygame.K_PAGEUP: "horizon_up",
        pygame.K_EQUALS: "horizon_up",
        pygame.K_PLUS: "horizon_up",
        pygame.K_KP_PLUS: "horizon_up",
        pygame.K_PAGEDOWN: "horizon_down",
        pygame.K_MINUS: "horizon_down",
        pygame.K_KP_MINUS: "horizon_down",
        pygame.K_p: "pause",
        pygame.K_n: "step",
        pygame.K_PERIOD: "step",
        pygame.K_r: "reset",
        pygame.K_F12: "screenshot",
        pygame.K_h: "help",
        pygame.K_ESCAPE: "quit",
        pygame.K_q: "quit",
    }
    return controls, commands


PLAYER_HELP = (
    "arrows/WASD move, space fire | C human/policy | M source | +/- horizon | P pause | N step | "
    "R reset | F12 screenshot | Q quit"
)
BROWSER_HELP = (
    "left/right ±1 step | up/down ±10 steps | PgUp/PgDn episode | [ ] dataset | Home start | F12 screenshot | Q quit"
)


class Window:
    """A pygame window of a scaled frame under a two-line header; screenshots to PNG."""

    def __init__(self, frame_shape: tuple[int, int], scale: int | None, title: str, screenshot_dir: str | Path) -> None:
        h, w = frame_shape
        if scale is None:  # about 512 pixels wide, whatever the frame size (64×64 Atari, 10×10 MinAtar)
            scale = max(1, WINDOW_WIDTH // w)
        if scale < 1:
            raise InvalidValue(f"--scale {scale} must be >= 1 (screen pixels per frame pixel)")
        self.pg = pg = _pygame()
        self.frame_shape = (h, w)
        self.scale = scale
        self.size = (w * scale, h * scale)
        try:
            pg.display.init()  # no audio: the mixer is never needed
            pg.font.init()
            self.screen = pg.display.set_mode((self.size[0], self.size[1] + HEADER_HEIGHT))
        except pg.error as exc:
            raise InvalidValue(
                f"cannot open a window ({exc}); on a machine without a display use `diamond play-web`, "
                "or set SDL_VIDEODRIVER=dummy to run headless"
            ) from exc
        pg.display.set_caption(title)
        self.font = pg.font.Font(None, 20)
        self.screenshot_dir = Path(screenshot_dir)
        self.screenshots = 0

    def set_scale(self, scale: int) -> None:
        """Show frames ``scale`` screen pixels per frame pixel from now on (the window is resized)."""
        h, w = self.frame_shape
        self.scale = scale
        self.size = (w * scale, h * scale)
        self.screen = self.pg.display.set_mode((self.size[0], self.size[1] + HEADER_HEIGHT))

    def draw(self, image: np.ndarray, lines: list[str]) -> None:
        pg = self.pg
        self.screen.fill((0, 0, 0))
        surface = pg.surfarray.make_surface(image.transpose(1, 0, 2))
        self.screen.blit(pg.transform.scale(surface, self.size), (0, HEADER_HEIGHT))
        for i, line in enumerate(lines):
            self.screen.blit(self.font.render(line, True, (255, 255, 255)), (6, 4 + 17 * i))
        pg.display.flip()

    def screenshot(self, path: str | Path | None = None) -> Path:
        if path is None:
            self.screenshots += 1
            path = self.screenshot_dir / f"screenshot_{time.strftime('%Y%m%d-%H%M%S')}_{self.screenshots}.png"
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pg.image.save(self.screen, str(path))
        return path

    def close(self) -> None:
        self.pg.display.quit()
        self.pg.quit()


class PlayerApp:
    """Play in a window. ``run(max_frames)`` returns after that many new frames (or when the user quits)."""

    def __init__(
        self,
        session: PlaySession,
        fps: float = 15.0,
        scale: int | None = None,
        screenshot_dir: str | Path = ".",
        threaded: bool = True,
        log: Callable[[str], None] = print,
    ) -> None:
        self._start_loop(session, fps, threaded, log)
        h, w = session.obs_shape[1:]
        self.window = Window((h, w), scale, f"DIAMOND: {session.game}", screenshot_dir)
        self.controls, self.commands = player_keys(self.window.pg)
        self.held: set[str] = set()
        self.say(f"{session.models.kind} checkpoint; H: keys")
        self.frame: Frame = session.frame  # type: ignore[assignment]
        self.redraw()

    def _start_loop(self, session, fps: float, threaded: bool, log: Callable[[str], None]) -> None:
        """The state of the loop that ``run`` drives, whatever the session (the engine player shares it)."""
        if fps < 0:
            raise InvalidValue(f"--fps {fps} must be >= 0 (0: as fast as the model goes)")
        self.session = session
        self.fps = fps
        self.log = log
        self.queued: list[str] = []
        self.threaded = threaded  # steps and commands on the compute thread (``play.compute``), else here
        self.pending: Future | None = None
        self.step_once = False
        self.quit = False
        self.shown: deque[float] = deque(maxlen=60)  # display times of the latest frames
        self.frames_shown = 0

    # -- header --------------------------------------------------------------------------------------

    def achieved_fps(self) -> float:
        if len(self.shown) < 2:
            return 0.0
        return (len(self.shown) - 1) / max(self.shown[-1] - self.shown[0], 1e-9)

    def header(self) -> list[str]:
        f, s = self.frame, self.session
        first = (
            f"{s.game} | {s.source} | {s.controller} | t={f.timestep} | horizon {s.horizon} | "
            f"action {f.action_name} | {self.achieved_fps():.1f} FPS"
        )
        state = "PAUSED | " if s.paused else ""
        message = self.message if time.perf_counter() < self.message_until else ""
        second = f"{state}return {f.episode_return:g} | {message}"
        return [first, second]

    def redraw(self) -> None:
        self.window.draw(self.frame.image(), self.header())

    # -- input ---------------------------------------------------------------------------------------

    def say(self, message: str) -> None:
        self.message, self.message_until = message, time.perf_counter() + MESSAGE_SECONDS

    def handle_events(self) -> bool:
        """Read the window's events; returns whether there were any."""
        pg = self.window.pg
        events = pg.event.get()
        for event in events:
            if event.type == pg.QUIT:
                self.quit = True
            elif event.type == pg.KEYDOWN:
                if event.key in self.controls:
                    self.held.add(self.controls[event.key])
                elif event.key in self.commands:
                    self.queued.append(self.commands[event.key])
                else:
                    self.say(f"key '{pg.key.name(event.key)}' does nothing here (H lists the keys)")
            elif event.type == pg.KEYUP and event.key in self.controls:
                self.held.discard(self.controls[event.key])
        return bool(events)

    def apply(self, command: str) -> None:
        s = self.session
        if command == "quit":
            self.quit = True
        elif command == "help":
            self.say(PLAYER_HELP)
            self.log(PLAYER_HELP)
        elif command == "screenshot":
            self.say(f"saved {self.window.screenshot()}")
        elif command == "toggle_controller":
            self.say(self.call(s.toggle_controller))
        elif command == "next_source":
            self.frame = self.call(s.next_source)
            self.say(self.frame.message)
        elif command in ("horizon_up", "horizon_down"):
            self.say(self.call(s.change_horizon, 1 if command == "horizon_up" else -1))
        elif command == "pause":
            self.say(self.call(s.toggle_pause))
        elif command == "step":
            self.step_once = s.paused
            self.say("one step" if s.paused else "N steps one frame while paused (P pauses)")
        elif command == "reset":
            self.frame = self.call(s.reset)
            self.say("new episode")

    # -- loop ----------------------------------------------------------------------------------------

    def step_arguments(self) -> tuple:
        """What ``session.step`` gets for the next frame: the held controls."""
        return (frozenset(self.held),)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A session command, where the session's steps run (after the step in flight, if any)."""
        return compute.run(fn, *args) if self.threaded else fn(*args)

    def _submit(self) -> None:
        args = self.step_arguments()
        if not self.threaded:
            done: Future = Future()
            done.set_result(self.session.step(*args))
            self.pending = done
        else:
            self.pending = compute.submit(self.session.step, *args)

    def run(self, max_frames: int | None = None, max_seconds: float | None = None) -> int:
        """The loop, until the user quits, ``max_frames`` new frames were shown or ``max_seconds`` passed;
        returns the number of frames shown. Steps start at most ``fps`` times a second."""
        clock = self.window.pg.time.Clock()
        period = 1.0 / self.fps if self.fps > 0 else 0.0
        next_due = time.perf_counter()
        deadline = None if max_seconds is None else next_due + max_seconds
        start = self.frames_shown
        while not self.quit and (max_frames is None or self.frames_shown - start < max_frames):
            if deadline is not None and time.perf_counter() > deadline:
                break
            changed = False
            if self.pending is not None and self._frame_ready(wait=not period):
                self._take_frame()
                changed = True
            changed = self.handle_events() or changed
            if self.pending is None:
                while self.queued and not self.quit:
                    self.apply(self.queued.pop(0))
                    changed = True
                if self.quit:
                    break
                now = time.perf_counter()
                wanted = max_frames is None or self.frames_shown - start < max_frames
                if wanted and (not self.session.paused or self.step_once) and now >= next_due:
                    self.step_once = False
                    next_due = max(next_due + period, now) if period else now
                    self._submit()  # the next frame is sampled while this one is drawn
            if changed:
                self.redraw()
            if period or self.pending is None:
                clock.tick(200)  # poll keys and the worker every 5 ms; no drawing unless something changed
        if self.pending is not None:  # the frame in flight is shown before returning
            self._take_frame()
            self.redraw()
        return self.frames_shown - start

    def _take_frame(self) -> None:
        assert self.pending is not None
        pending, self.pending = self.pending, None
        self.frame = pending.result()
        if self.frame.message:
            self.say(self.frame.message)
        self.frames_shown += 1
        self.shown.append(time.perf_counter())

    def _frame_ready(self, wait: bool) -> bool:
        """Whether the frame in flight is ready (at full speed, with no target rate, wait for it)."""
        assert self.pending is not None
        if wait:
            self.pending.exception()
        return self.pending.done()

    def close(self) -> None:
        self.call(self.session.close)  # after the step in flight
        self.window.close()


class BrowserApp:
    """Browse episode stores in a window."""

    def __init__(self, browser: DatasetBrowser, scale: int | None = None, screenshot_dir: str | Path = ".") -> None:
        self.browser = browser
        view = browser.view()
        self.window = Window(view.obs.shape[1:], scale, "DIAMOND dataset browser", screenshot_dir)
        pg = self.window.pg
        self.keys: dict[int, Callable[[], object]] = {
            pg.K_RIGHT: lambda: browser.move_step(1),
            pg.K_LEFT: lambda: browser.move_step(-1),
            pg.K_UP: lambda: browser.move_step(JUMP),
            pg.K_DOWN: lambda: browser.move_step(-JUMP),
            pg.K_PAGEDOWN: lambda: browser.move_episode(1),
            pg.K_PAGEUP: lambda: browser.move_episode(-1),
            pg.K_RIGHTBRACKET: lambda: browser.move_dataset(1),
            pg.K_LEFTBRACKET: lambda: browser.move_dataset(-1),
            pg.K_HOME: browser.to_start,
            pg.K_BACKSPACE: browser.to_start,
        }
        self.message = "H: keys"
        self.quit = False
        self.redraw()

    def header(self) -> list[str]:
        v = self.browser.view()
        first = (
            f"dataset {v.dataset_index + 1}/{v.num_datasets} {Path(v.dataset).name} | episode "
            f"{v.episode + 1}/{v.num_episodes} | t={v.timestep}/{v.length} | action {v.action_name}"
        )
        flags = f" | {v.flags}" if v.flags else ""
        second = f"reward {v.reward:g} | return so far {v.return_so_far:g}{flags} | {self.message or v.note}"
        return [first, second]

    def redraw(self) -> None:
        self.window.draw(self.browser.view().image(), self.header())

    def handle_events(self) -> None:
        pg = self.window.pg
        for event in pg.event.get():
            if event.type == pg.QUIT:
                self.quit = True
            elif event.type != pg.KEYDOWN:
                continue
            elif event.key in (pg.K_q, pg.K_ESCAPE):
                self.quit = True
            elif event.key == pg.K_h:
                self.message = BROWSER_HELP
            elif event.key == pg.K_F12:
                self.message = f"saved {self.window.screenshot()}"
            elif event.key in self.keys:
                self.keys[event.key]()
                self.message = ""
            else:
                self.message = f"key '{pg.key.name(event.key)}' does nothing here (H lists the keys)"
            self.redraw()

    def run(self, max_iterations: int | None = None) -> None:
        clock = self.window.pg.time.Clock()
        n = 0
        while not self.quit and (max_iterations is None or n < max_iterations):
            self.handle_events()
            clock.tick(30)
            n += 1

    def close(self) -> None:
        self.browser.close()
        self.window.close()
