"""The browser player (``diamond play-web``): the game loop of ``PlaySession`` served over HTTP + WebSocket.

``GET /`` is a page with a canvas; the page opens ``/ws`` and sends key presses and releases
(``{"type": "keydown"|"keyup", "key": KeyboardEvent.code}``). Each connection gets its own session
(its own imagined episode and real envs; the networks are shared). For every frame the server sends a
JSON header (``{"type": "frame", ...}``) followed by the frame as a PNG (a binary message). Sampling
runs on a worker thread, so the server keeps reading keys and serving other clients meanwhile. A bad
message (unknown key, not JSON) is answered with ``{"type": "error", "message": ...}``; a client that
disconnects ends its own session only. By default the server (``web_server``) listens on the loopback
address alone.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import numpy as np

from diamond.play import compute
from diamond.play.keymap import COMMANDS, reachable
from diamond.play.session import SOURCES, Frame, PlaySession

# KeyboardEvent.code → control (held while the key is down) or command (on key down).
BROWSER_CONTROLS = {
    "ArrowUp": "up",
    "KeyW": "up",
    "ArrowDown": "down",
    "KeyS": "down",
    "ArrowLeft": "left",
    "KeyA": "left",
    "ArrowRight": "right",
    "KeyD": "right",
    "Space": "fire",
}
BROWSER_COMMANDS = {
    "KeyC": "toggle_controller",
    "KeyM": "next_source",
    "Tab": "next_source",
    "Equal": "horizon_up",
    "NumpadAdd": "horizon_up",
    "PageUp": "horizon_up",
    "Minus": "horizon_down",
    "NumpadSubtract": "horizon_down",
    "PageDown": "horizon_down",
    "KeyP": "pause",
    "KeyN": "step",
    "Period": "step",
    "KeyR": "reset",
}


def encode_png(frame: Any) -> bytes:
    """A frame (anything with ``image()`` → (H, W, 3) uint8 RGB) as PNG bytes."""
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(frame.image()[:, :, ::-1]))
    if not ok:
        raise RuntimeError("PNG encoding of a frame failed")
    return buf.tobytes()


def frame_header(session: PlaySession, frame: Frame, fps: float, message: str) -> dict[str, Any]:
    return {
        "type": "frame",
        "game": session.game,
        "source": session.source,
        "controller": session.controller,
        "timestep": frame.timestep,
        "horizon": session.horizon,
        "action": frame.action_name,
        "reward": frame.reward,
        "return": frame.episode_return,
        "paused": session.paused,
        "fps": round(fps, 2),
        "message": message or frame.message,
    }


class ClientSession:
    """One browser tab: its session, held controls, queued commands and the frame loop. The server knows a client
    class by PAGE (its page), hello (the first message) and describe (its log line); see also engine_web."""

    PAGE = "player.html"

    @staticmethod
    def hello(session: PlaySession) -> dict[str, Any]:
        return {
            "type": "hello",
            "game": session.game,
            "actions": session.meanings,
            "sources": list(SOURCES),
            "controls": reachable(session.meanings),
            "commands": COMMANDS,
            "policy": session.models.actor_critic is not None,
        }

    @staticmethod
    def describe(session: PlaySession) -> str:
        return f"{session.game}, {session.source}"

    def __init__(self, session: PlaySession, connection: Any, fps: float) -> None:
        self.session = session
        self.connection = connection
        self.fps = fps
        self.held: set[str] = set()
        self.commands: list[str] = []
        self.wake = asyncio.Event()
        self.shown: list[float] = []
        self.frames_sent = 0

    async def send_frame(self, frame: Frame, message: str = "") -> None:
        self.shown = (self.shown + [time.perf_counter()])[-30:]
        fps = (len(self.shown) - 1) / max(self.shown[-1] - self.shown[0], 1e-9) if len(self.shown) > 1 else 0.0
        await self.connection.send(json.dumps(self.header(frame, fps, message)))
        await self.connection.send(encode_png(frame))
        self.frames_sent += 1

    def header(self, frame: Frame, fps: float, message: str) -> dict[str, Any]:
        return frame_header(self.session, frame, fps, message)

    def greeting(self) -> str:  # the message of the first frame
        return f"{self.session.models.kind} checkpoint"

    def step_arguments(self) -> tuple:
        """What ``session.step`` gets for the next frame: the held controls."""
        return (frozenset(self.held),)

    async def error(self, message: str) -> None:
        await self.connection.send(json.dumps({"type": "error", "message": message}))

    async def receive(self) -> None:
        async for raw in self.connection:
            try:
                msg = json.loads(raw)
                kind, key = msg["type"], msg["key"]
            except (ValueError, TypeError, KeyError):
                await self.error(
                    f"could not read the message {str(raw)[:80]!r}: expected JSON "
                    '{"type": "keydown" or "keyup", "key": KeyboardEvent.code}'
                )
                continue
            if kind not in ("keydown", "keyup"):
                await self.error(f"unknown message type {kind!r}; expected 'keydown' or 'keyup'")
            elif key in BROWSER_CONTROLS:
                (self.held.add if kind == "keydown" else self.held.discard)(BROWSER_CONTROLS[key])
            elif key in BROWSER_COMMANDS:
                if kind == "keydown":
                    self.commands.append(BROWSER_COMMANDS[key])
            elif kind == "keydown":
                await self.error(
                    f"unknown key {str(key)[:40]!r}: it is bound to nothing (arrows/WASD, Space, C, M, +/-, P, N, R)"
                )
            self.wake.set()

    async def apply(self, command: str) -> tuple[Frame | None, str]:
        s = self.session
        if command == "toggle_controller":
            return None, s.toggle_controller()
        if command == "next_source":
            frame = await compute.run_async(s.next_source)
            return frame, frame.message
        if command in ("horizon_up", "horizon_down"):
            return None, s.change_horizon(1 if command == "horizon_up" else -1)
        if command == "pause":
            return None, s.toggle_pause()
        if command == "reset":
            return await compute.run_async(s.reset), "new episode"
        return None, ""

    async def play(self) -> None:
        s = self.session
        assert s.frame is not None
        await self.send_frame(s.frame, self.greeting())
        period = 1.0 / self.fps if self.fps > 0 else 0.0
        next_due = time.perf_counter()
        while True:
            step_once = False
            message = ""
            while self.commands:
                command = self.commands.pop(0)
                if command == "step":
                    step_once = s.paused
                    continue
                frame, message = await self.apply(command)
                if frame is not None or message:
                    await self.send_frame(frame or s.frame, message)
            if s.paused and not step_once:
                self.wake.clear()
                await self.wake.wait()
                continue
            delay = next_due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            next_due = max(next_due + period, time.perf_counter() - period)
            frame = await compute.run_async(s.step, *self.step_arguments())
            # at full speed, the next frame is sampled while this one is encoded and sent
            while not period and not self.commands and not s.paused:
                following = asyncio.create_task(compute.run_async(s.step, *self.step_arguments()))
                await self.send_frame(frame)
                frame = await following
            await self.send_frame(frame)
