"""The desktop player of the neural game engine (``diamond play-engine``): keyboard and mouse in a pygame
window, frames sampled on a worker thread by the loop the Atari player uses.

The window grabs the mouse (its relative motion turns and looks) and releases it on Escape; a click in
the window grabs it again. The game's keys are held; the player's commands are keys the CS:GO layout does
not use (R is the game's reload, so Enter restarts from the spawn point). Headless use (tests,
benchmarks): ``SDL_VIDEODRIVER=dummy``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from diamond.play.engine_frame import EngineFrame
from diamond.play.engine_session import COMMANDS, EngineSession
from diamond.play.pygame_app import PlayerApp, Window

SCALES = (1, 2, 3, 4)  # display sizes cycled through (screen pixels per frame pixel)
ENGINE_HELP = (
    "WASD space ctrl shift 1 2 3 R + mouse (arrows: mouse moves) | Esc frees the mouse, click grabs it | "
    "Tab/Backspace spawn point | Enter restart | M real game/model | F setting | [ ] dynamics steps | ; ' upsampler steps | "
    "PgUp/PgDn horizon | , . sensitivity | Z size | P pause | N step | F12 screenshot | Q quit"
)


def engine_keys(pg) -> tuple[dict[int, str], dict[int, str]]:
    """pygame key → control (held), and pygame key → command (pressed)."""
    controls = {
        pg.K_w: "w",
        pg.K_a: "a",
        pg.K_s: "s",
        pg.K_d: "d",
        pg.K_SPACE: "space",
        pg.K_LCTRL: "ctrl",
        pg.K_RCTRL: "ctrl",
        pg.K_LSHIFT: "shift",
        pg.K_RSHIFT: "shift",
        pg.K_1: "1",
        pg.K_2: "2",
        pg.K_3: "3",
        pg.K_r: "r",
        pg.K_LEFT: "left",
        pg.K_RIGHT: "right",
        pg.K_UP: "up",
        pg.K_DOWN: "down",
    }
    commands = {
        pg.K_TAB: "next_spawn",
        pg.K_BACKSPACE: "previous_spawn",
        pg.K_RETURN: "restart",
        pg.K_KP_ENTER: "restart",
        pg.K_f: "toggle_setting",
        pg.K_LEFTBRACKET: "dynamics_steps_down",
        pg.K_RIGHTBRACKET: "dynamics_steps_up",
        pg.K_SEMICOLON: "upsampler_steps_down",
        pg.K_QUOTE: "upsampler_steps_up",
        pg.K_PAGEUP: "horizon_up",
        pg.K_PAGEDOWN: "horizon_down",
        pg.K_COMMA: "sensitivity_down",
        pg.K_PERIOD: "sensitivity_up",
        pg.K_z: "display_size",
        pg.K_p: "pause",
        pg.K_n: "step",
        pg.K_F12: "screenshot",
        pg.K_h: "help",
        pg.K_ESCAPE: "release_mouse",
        pg.K_m: "switch_world",
        pg.K_q: "quit",
    }
    return controls, commands


MOUSE_BUTTONS = {1: "lmb", 3: "rmb"}  # pygame's button numbers


class EngineApp(PlayerApp):
    """Play the engine in a window. ``run(max_frames)`` returns after that many new frames (or on quit)."""

    def __init__(
        self,
        session: EngineSession,
        fps: float = 0.0,
        scale: int | None = None,
        screenshot_dir: str | Path = ".",
        threaded: bool = True,
        log: Callable[[str], None] = print,
    ) -> None:
        self._start_loop(session, fps, threaded, log)
        assert session.frame is not None
        h, w = session.frame.full.shape[1:]
        self.window = Window((h, w), 2 if scale is None else scale, "DIAMOND engine", screenshot_dir)
        self.controls, self.commands = engine_keys(self.window.pg)
        self.held_order: list[str] = []  # held controls in the order they were pressed
        self.mouse_dx = self.mouse_dy = 0.0  # relative motion since the last frame was submitted
        self.grabbed = False
        self.grab_mouse(True)
        self.say("Esc frees the mouse; H: keys")
        self.frame: EngineFrame = session.frame  # type: ignore[assignment]
        self.redraw()

    # -- mouse ---------------------------------------------------------------------------------------

    def grab_mouse(self, grab: bool) -> None:
        pg = self.window.pg
        pg.event.set_grab(grab)
        pg.mouse.set_visible(not grab)
        self.grabbed = grab
        self.mouse_dx = self.mouse_dy = 0.0

    # -- header --------------------------------------------------------------------------------------

    def header(self) -> list[str]:
        f, s = self.frame, self.session
        d, u = f.denoising_steps
        if f.world == "real":
            first = f"REAL GAME | t={f.timestep} | {self.achieved_fps():.1f} FPS"
        else:
            first = (
                f"{f.setting} ({d}+{u} steps) | spawn {f.spawn + 1}/{f.num_spawns} | t={f.timestep}/{f.horizon} | "
                f"{self.achieved_fps():.1f} FPS (model {s.fps():.1f})"
            )
        keys = "+".join(f.held) or "-"
        state = "PAUSED | " if s.paused else ""
        mouse = "" if self.grabbed else " (free: click to grab)"
        message = self.message if time.perf_counter() < self.message_until else ""
        second = f"{state}keys {keys} | mouse {f.mouse[0]:+d},{f.mouse[1]:+d}{mouse} | ×{f.sensitivity:g} | {message}"
        return [first, second]

    # -- input ---------------------------------------------------------------------------------------

    def handle_events(self) -> bool:
        pg = self.window.pg
        events = pg.event.get()
        for event in events:
            if event.type == pg.QUIT:
                self.quit = True
            elif event.type == pg.KEYDOWN:
                if event.key in self.controls:
                    self._hold(self.controls[event.key])
                elif event.key in self.commands:
                    self.queued.append(self.commands[event.key])
                else:
                    self.say(f"key '{pg.key.name(event.key)}' does nothing here (H lists the keys)")
            elif event.type == pg.KEYUP and event.key in self.controls:
                self._release(self.controls[event.key])
            elif event.type == pg.MOUSEMOTION and self.grabbed:
                self.mouse_dx += event.rel[0]
                self.mouse_dy += event.rel[1]
            elif event.type == pg.MOUSEBUTTONDOWN:
                if not self.grabbed:
                    self.grab_mouse(True)
                    self.say("mouse grabbed (Esc frees it)")
                elif event.button in MOUSE_BUTTONS:
                    self._hold(MOUSE_BUTTONS[event.button])
            elif event.type == pg.MOUSEBUTTONUP and event.button in MOUSE_BUTTONS:
                self._release(MOUSE_BUTTONS[event.button])
        return bool(events)

    def _hold(self, control: str) -> None:
        if control not in self.held_order:
            self.held_order.append(control)

    def _release(self, control: str) -> None:
        if control in self.held_order:
            self.held_order.remove(control)

    def step_arguments(self) -> tuple:
        args = (tuple(self.held_order), self.mouse_dx, self.mouse_dy)
        self.mouse_dx = self.mouse_dy = 0.0
        return args

    def apply(self, command: str) -> None:
        if command in COMMANDS:
            frame, message = self.call(self.session.command, command)
            if frame is not None:
                self.frame = frame
            self.say(message)
        elif command == "quit":
            self.quit = True
        elif command == "help":
            self.say(ENGINE_HELP)
            self.log(ENGINE_HELP)
        elif command == "screenshot":
            self.say(f"saved {self.window.screenshot()}")
        elif command == "release_mouse":
            self.grab_mouse(False)
            self.say("mouse free (click in the window to grab it; Q quits)")
        elif command == "display_size":
            scale = SCALES[(SCALES.index(self.window.scale) + 1) % len(SCALES)] if self.window.scale in SCALES else 1
            self.window.set_scale(scale)
            self.say(f"display: ×{scale}")
        elif command == "step":
            self.step_once = self.session.paused
            self.say("one step" if self.session.paused else "N steps one frame while paused (P pauses)")
