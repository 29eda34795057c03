"""The engine's browser player (``diamond play-engine --web``): the loop of ``EngineSession`` served by the
same server as the Atari browser player, with a page that locks the pointer.

The page (``static/engine.html``) asks for pointer lock on a click in the canvas (the Pointer Lock API;
the browser releases it on Escape) and sends, besides ``keydown``/``keyup`` with ``KeyboardEvent.code``:

- ``{"type": "mousemove", "dx": movementX, "dy": movementY}`` while the pointer is locked,
- ``{"type": "mousedown"|"mouseup", "button": MouseEvent.button}`` (0 left, 2 right).

The motion received between two frames adds up to the mouse move of the next frame. A bad message gets
``{"type": "error", ...}`` and play goes on; a tab that disconnects ends its own session only.
"""

from __future__ import annotations

import json
import math
from typing import Any

from diamond.play import compute
from diamond.play.engine_frame import EngineFrame
from diamond.play.engine_session import EngineSession
from diamond.play.web import ClientSession

# KeyboardEvent.code → control (held while the key is down) or command (on key down).
ENGINE_CONTROLS = {
    "KeyW": "w",
    "KeyA": "a",
    "KeyS": "s",
    "KeyD": "d",
    "Space": "space",
    "ControlLeft": "ctrl",
    "ControlRight": "ctrl",
    "ShiftLeft": "shift",
    "ShiftRight": "shift",
    "Digit1": "1",
    "Digit2": "2",
    "Digit3": "3",
    "KeyR": "r",
    "ArrowLeft": "left",
    "ArrowRight": "right",
    "ArrowUp": "up",
    "ArrowDown": "down",
}
ENGINE_COMMANDS = {
    "Tab": "next_spawn",
    "Backspace": "previous_spawn",
    "Enter": "restart",
    "NumpadEnter": "restart",
    "KeyF": "toggle_setting",
    "BracketLeft": "dynamics_steps_down",
    "BracketRight": "dynamics_steps_up",
    "Semicolon": "upsampler_steps_down",
    "Quote": "upsampler_steps_up",
    "PageUp": "horizon_up",
    "PageDown": "horizon_down",
    "Comma": "sensitivity_down",
    "Period": "sensitivity_up",
    "KeyP": "pause",
    "KeyN": "step",
    "KeyM": "switch_world",
}
MOUSE_BUTTONS = {0: "lmb", 2: "rmb"}  # MouseEvent.button
MAX_MOTION = 10_000.0  # per message: larger values are no mouse motion


class EngineClient(ClientSession):
    """One browser tab playing the engine."""

    PAGE = "engine.html"

    def __init__(self, session: EngineSession, connection: Any, fps: float) -> None:
        super().__init__(session, connection, fps)  # type: ignore[arg-type]
        self.held_order: list[str] = []
        self.dx = self.dy = 0.0

    @staticmethod
    def hello(session: EngineSession) -> dict[str, Any]:
        return {
            "type": "hello",
            "engine": True,
            "spawns": [p.name for p in session.spawns],
            "settings": list(session.sampling),
            "controls": sorted(set(ENGINE_CONTROLS.values())) + ["lmb", "rmb"],
            "commands": sorted(set(ENGINE_COMMANDS.values())),
        }

    @staticmethod
    def describe(session: EngineSession) -> str:
        return f"engine, {len(session.spawns)} spawn point(s), {session.setting}"

    def greeting(self) -> str:
        return "click the picture to lock the mouse (Esc frees it)"

    def header(self, frame: EngineFrame, fps: float, message: str) -> dict[str, Any]:  # type: ignore[override]
        s = self.session
        return {
            "type": "frame",
            "world": frame.world,
            "setting": frame.setting,
            "denoising_steps": list(frame.denoising_steps),
            "spawn": frame.spawn,
            "num_spawns": frame.num_spawns,
            "timestep": frame.timestep,
            "horizon": frame.horizon,
            "held": list(frame.held),
            "mouse": list(frame.mouse),
            "sensitivity": frame.sensitivity,
            "paused": s.paused,
            "fps": round(fps, 2),
            "model_fps": round(s.fps(), 2),
            "message": message or frame.message,
        }

    def step_arguments(self) -> tuple:
        args = (tuple(self.held_order), self.dx, self.dy)
        self.dx = self.dy = 0.0
        return args

    def _hold(self, control: str, down: bool) -> None:
        if down and control not in self.held_order:
            self.held_order.append(control)
        elif not down and control in self.held_order:
            self.held_order.remove(control)

    async def receive(self) -> None:
        async for raw in self.connection:
            problem = self._handle(raw)
            if problem:
                await self.error(problem)
            self.wake.set()

    def _handle(self, raw: Any) -> str:
        """Apply one message; returns what was wrong with it ("" when nothing)."""
        try:
            msg = json.loads(raw)
            kind = msg["type"]
        except (ValueError, TypeError, KeyError):
            return f"could not read the message {str(raw)[:80]!r}: expected JSON with a 'type'"
        if kind in ("keydown", "keyup"):
            key = msg.get("key")
            if key in ENGINE_CONTROLS:
                self._hold(ENGINE_CONTROLS[key], kind == "keydown")
            elif key in ENGINE_COMMANDS:
                if kind == "keydown":
                    self.commands.append(ENGINE_COMMANDS[key])
            elif kind == "keydown":
                return f"unknown key {str(key)[:40]!r}: it is bound to nothing (the page lists the keys)"
        elif kind in ("mousedown", "mouseup"):
            button = msg.get("button")
            if button in MOUSE_BUTTONS:
                self._hold(MOUSE_BUTTONS[button], kind == "mousedown")
        elif kind == "mousemove":
            try:
                dx, dy = float(msg["dx"]), float(msg["dy"])
            except (KeyError, TypeError, ValueError):
                return f"mousemove {str(raw)[:80]!r}: expected numbers dx and dy"
            if not (math.isfinite(dx) and math.isfinite(dy) and abs(dx) <= MAX_MOTION and abs(dy) <= MAX_MOTION):
                return f"mousemove dx={dx}, dy={dy}: expected finite numbers within ±{MAX_MOTION:g}"
            self.dx += dx
            self.dy += dy
        else:
            return f"unknown message type {kind!r}; expected keydown, keyup, mousedown, mouseup or mousemove"
        return ""

    async def apply(self, command: str) -> tuple[EngineFrame | None, str]:  # type: ignore[override]
        return await compute.run_async(self.session.command, command)
