"""The game loop of the engine players, independent of any window: a person plays inside the neural game
engine (spec §10), one frame per call of :meth:`EngineSession.step`, starting from spawn points.

- **Spawn points** are real 4-frame contexts (``data/spawn.py``); play starts from the first, a command
  cycles through them and ``reset`` restarts from the current one. An imagined episode is cut at the
  horizon and play restarts from the spawn point.
- **Settings**: the engine's ``fast`` and ``higher_quality`` sampling, switched while playing; the
  denoising steps of each model can be changed within a setting (the change lasts until the program ends).
- **Controls**: the held keys and buttons in press order, and the relative mouse motion since the last
  frame, made into the 51-entry action by ``fps_controls``; the mouse sensitivity is a setting too.
- **Recording**: every played episode (full- and low-resolution frames, the actions as multi-hot vectors)
  is added to a static dataset folder, the layout ``diamond train-engine`` reads (``engine_recording``).
- **The real game** (``real_game``, for engines trained on ViZDoom data): a command switches between the
  model and ViZDoom played with the same controls; the model goes on from the real frames just seen.
  Real play is recorded like imagined play.

The UIs call ``step`` for each new frame and the command methods between frames; a lock serialises them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from diamond.configs.engine import SAMPLING_SETTINGS, EngineSamplingConfig
from diamond.configs.schema import ConfigError
from diamond.data.spawn import SpawnPoint, load_spawn_point
from diamond.fps_actions import decode, encode
from diamond.imaging import to_display
from diamond.models.engine import Engine, EngineState
from diamond.play.engine_frame import EngineFrame
from diamond.play.engine_recording import EngineRecorder
from diamond.play.fps_controls import SENSITIVITIES, allowed_controls, fps_action
from diamond.play.real_game import RealGame, check_real_game
from diamond.play.session import locked, next_on_ladder

HORIZONS = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
DEFAULT_HORIZON = 1000
MAX_DENOISING_STEPS = 50
MODELS = ("dynamics", "upsampler")
# What the UIs bind keys to (``EngineSession.command``): the method and its arguments.
COMMANDS: dict[str, tuple[str, tuple]] = {
    "next_spawn": ("next_spawn", (1,)),
    "previous_spawn": ("next_spawn", (-1,)),
    "restart": ("restart", ()),
    "switch_world": ("switch_world", ()),
    "toggle_setting": ("toggle_setting", ()),
    "dynamics_steps_down": ("change_denoising_steps", ("dynamics", -1)),
    "dynamics_steps_up": ("change_denoising_steps", ("dynamics", 1)),
    "upsampler_steps_down": ("change_denoising_steps", ("upsampler", -1)),
    "upsampler_steps_up": ("change_denoising_steps", ("upsampler", 1)),
    "horizon_up": ("change_horizon", (1,)),
    "horizon_down": ("change_horizon", (-1,)),
    "sensitivity_down": ("change_sensitivity", (-1,)),
    "sensitivity_up": ("change_sensitivity", (1,)),
    "pause": ("toggle_pause", ()),
}


class EngineSession:
    def __init__(
        self,
        engine: Engine,
        spawns: Sequence[str | Path],
        setting: str = "fast",
        horizon: int = DEFAULT_HORIZON,
        seed: int = 0,
        record: str | Path | None = None,
        sensitivity: float = 1.0,
        real_game: str | None = None,
    ) -> None:
        if setting not in SAMPLING_SETTINGS:
            raise ConfigError(f"--setting {setting!r} is unknown; choose one of {', '.join(SAMPLING_SETTINGS)}")
        if horizon < 1:
            raise ConfigError(f"--horizon {horizon} must be >= 1")
        if sensitivity <= 0:
            raise ConfigError(f"--sensitivity {sensitivity} must be > 0")
        if not spawns:
            raise ConfigError("the engine needs at least one spawn point to start from")
        self._lock = threading.RLock()
        self.engine = engine.eval()
        self.device = engine.device
        self.spawns = [Path(p) for p in spawns]
        self.sampling: dict[str, EngineSamplingConfig] = {s: engine.cfg.sampling(s) for s in SAMPLING_SETTINGS}
        self.setting = setting
        self.horizon = horizon
        self.sensitivity = sensitivity
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.recorder = EngineRecorder(record) if record is not None else None
        self.paused = False
        self.spawn_index = 0
        self.spawn: SpawnPoint | None = None
        self.state: EngineState | None = None
        self.timestep = 0
        self.frame: EngineFrame | None = None
        self.step_seconds: deque[float] = deque(maxlen=30)
        self.world = "model"
        dyn, up = engine.cfg.dynamics.net, engine.cfg.upsampler.net
        self.context_sizes = (dyn.num_steps_conditioning, up.num_steps_conditioning)  # low-res, full-res frames
        self.restart()  # reads the first spawn point: a bad folder is reported before a window opens
        self.real_game: RealGame | None = None
        if real_game is not None:
            assert self.spawn is not None
            check_real_game(real_game, tuple(self.spawn.full_res.shape[-2:]))
            self.real_game = RealGame(real_game, seed, max(self.context_sizes))

    # -- spawn points -----------------------------------------------------------------------------

    def _load_spawn(self, index: int) -> SpawnPoint:
        num_frames, num_full_res_frames = self.context_sizes
        return load_spawn_point(
            self.spawns[index],
            num_frames=num_frames,
            num_full_res_frames=num_full_res_frames,
            num_actions=self.engine.cfg.dynamics.net.action_space.size,
        )

    # -- commands ---------------------------------------------------------------------------------

    @locked
    def restart(self, index: int | None = None, message: str = "") -> EngineFrame:
        """Start again from spawn point ``index`` (default: the current one), in the model."""
        self._finish_recording()
        if index is not None:
            self.spawn_index = index % len(self.spawns)
        self.spawn = self._load_spawn(self.spawn_index)
        name = self.spawns[self.spawn_index].name
        return self._start_from(self.spawn, message or f"spawn point {self.spawn_index + 1}/{len(self.spawns)}: {name}")

    def _start_from(self, context: SpawnPoint, message: str) -> EngineFrame:
        """Play in the model from ``context`` (a spawn point, or the real game's last frames)."""
        self.world = "model"
        self.state = EngineState(
            context.low_res.to(self.device), context.act.to(self.device), context.full_res.to(self.device)
        )
        self.timestep = 0
        full, low = to_display(context.full_res[0, -1]).numpy(), to_display(context.low_res[0, -1]).numpy()
        self.frame = self._frame(full, low, context.act[0, -1].numpy())
        self.frame.message = message
        return self.frame

    @locked
    def switch_world(self) -> EngineFrame | str:
        """Model → the real game where it was left (started at the first switch); real game → the model,
        going on from the real frames just seen. Without a real game: a message why not."""
        if self.real_game is None:
            return "no real game: start with --real-game SCENARIO (an engine trained on ViZDoom data)"
        self._finish_recording()
        if self.world == "real":
            context = self.real_game.context(*self.context_sizes)
            return self._start_from(context, "model: going on from the real game's last frames (M: back)")
        start = not self.real_game.started
        full, low = self.real_game.frame()
        self.world, self.timestep = "real", 0
        self.frame = self._frame(full, low, encode())
        self.frame.message = (
            f"real game: {'a new ViZDoom ' + self.real_game.config.scenario if start else 'where it was left'} "
            "(M: back to the model, from here)"
        )
        return self.frame

    @locked
    def next_spawn(self, direction: int = 1) -> EngineFrame:
        return self.restart(self.spawn_index + direction)

    @locked
    def toggle_setting(self) -> str:
        self.setting = SAMPLING_SETTINGS[(SAMPLING_SETTINGS.index(self.setting) + 1) % len(SAMPLING_SETTINGS)]
        return f"setting: {self.setting} ({self._steps_text()})"

    @locked
    def change_denoising_steps(self, model: str, direction: int) -> str:
        """One more or one fewer denoising step of ``model`` (dynamics or upsampler) in the current setting."""
        if model not in MODELS:
            raise ValueError(f"model {model!r} is unknown; expected one of {MODELS}")
        current = self.sampling[self.setting]
        sampler = getattr(current, model)
        steps = min(max(sampler.num_steps_denoising + direction, 1), MAX_DENOISING_STEPS)
        self.sampling[self.setting] = replace(current, **{model: replace(sampler, num_steps_denoising=steps)})
        return f"{self.setting}: {self._steps_text()}"

    @locked
    def change_horizon(self, direction: int) -> str:
        self.horizon = next_on_ladder(HORIZONS, self.horizon, direction)
        return f"imagination horizon: {self.horizon}"

    @locked
    def change_sensitivity(self, direction: int) -> str:
        self.sensitivity = next_on_ladder(SENSITIVITIES, self.sensitivity, direction)
        return f"mouse sensitivity: ×{self.sensitivity:g}"

    @locked
    def toggle_pause(self) -> str:
        self.paused = not self.paused
        return "paused (step: one frame)" if self.paused else "resumed"

    def command(self, name: str) -> tuple[EngineFrame | None, str]:
        """Run one of COMMANDS by name (as the UIs bind them to keys): the new frame when play restarted
        or changed world (else None) and the message to show."""
        if name not in COMMANDS:
            raise ValueError(f"unknown engine command {name!r}; expected one of {', '.join(COMMANDS)}")
        method, args = COMMANDS[name]
        result = getattr(self, method)(*args)
        return (result, result.message) if isinstance(result, EngineFrame) else (None, result)

    # -- the loop ---------------------------------------------------------------------------------

    @locked
    @torch.no_grad()
    def step(self, held_in_order: Iterable[str] = (), dx: float = 0.0, dy: float = 0.0) -> EngineFrame:
        """One frame of play with the held controls (in press order) and the mouse motion since the last
        frame, whatever the pause state."""
        assert self.state is not None and self.frame is not None
        t0 = time.perf_counter()
        held = allowed_controls(held_in_order)
        action = fps_action(held, dx, dy, self.sensitivity)
        if self.recorder is not None:
            self.recorder.add(self.frame.low, self.frame.full, action)
        shown = self._real_step(action) if self.world == "real" else self._model_step(action)
        if self.world == "model" and self.timestep >= self.horizon:  # play goes on from the spawn point
            shown = self.restart(message=f"reached the horizon ({self.horizon} frames): back to the spawn point")
        self.step_seconds.append(time.perf_counter() - t0)
        return shown

    def fps(self) -> float:
        """Frames per second of the recent steps (the model's rate, without drawing)."""
        return len(self.step_seconds) / sum(self.step_seconds) if self.step_seconds else 0.0

    @locked
    def close(self) -> None:
        self._finish_recording()
        if self.recorder is not None:
            self.recorder.close()
        if self.real_game is not None:
            self.real_game.close()

    def _model_step(self, action: np.ndarray) -> EngineFrame:
        assert self.state is not None
        act = torch.from_numpy(action).to(self.device)
        self.state.act[:, -1] = act  # the action taken in the current frame
        low, full = self.engine.step(self.state, self.sampling[self.setting], generator=self.generator)
        self.state = Engine.advance(self.state, low, full, act[None])
        self.timestep += 1
        self.frame = self._frame(to_display(full[0]).cpu().numpy(), to_display(low[0]).cpu().numpy(), action)
        return self.frame

    def _real_step(self, action: np.ndarray) -> EngineFrame:
        assert self.real_game is not None
        full, low, died = self.real_game.step(action)
        self.timestep += 1
        if died:  # the recorded episode ends with the death; the new life starts a new one
            self._finish_recording(ended=True)
            self.timestep = 0
        self.frame = self._frame(full, low, action)
        self.frame.message = "died: the game goes on from a respawn" if died else ""
        return self.frame

    # -- helpers ----------------------------------------------------------------------------------

    def _steps_text(self) -> str:
        s = self.sampling[self.setting]
        return f"{s.dynamics.num_steps_denoising} + {s.upsampler.num_steps_denoising} denoising steps"

    def _frame(self, full: np.ndarray, low: np.ndarray, action: np.ndarray) -> EngineFrame:
        """The frame shown, made (or started from) with the 51-entry ``action``."""
        s = self.sampling[self.setting]
        held, mx, my = decode(action)
        return EngineFrame(
            world=self.world,
            full=full,
            low=low,
            setting=self.setting,
            denoising_steps=(s.dynamics.num_steps_denoising, s.upsampler.num_steps_denoising),
            spawn=self.spawn_index,
            num_spawns=len(self.spawns),
            timestep=self.timestep,
            horizon=self.horizon,
            held=tuple(held),
            mouse=(mx, my),
            sensitivity=self.sensitivity,
            paused=self.paused,
        )

    def _finish_recording(self, ended: bool = False) -> None:
        if self.recorder is None or self.frame is None:
            return
        if self.world == "real":
            assert self.real_game is not None
            info = {"world": f"vizdoom {self.real_game.config.scenario}"}
        else:
            info = {"world": "model", "spawn_point": str(self.spawns[self.spawn_index])}
        self.recorder.finish(self.frame.low, self.frame.full, {**info, "played_with": "diamond play-engine"}, ended)
