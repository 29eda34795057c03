"""The real game beside the engine (``--real-game``): ViZDoom played with the engine player's controls, so a
person can compare the model with the game it learnt and record real play as training data.

The engine player's M key switches between the two worlds (``EngineSession.switch_world``):

- **to the real game**: the first switch starts a game episode of the scenario; later switches go on from
  the moment the real game was left (it waits, paused, while the model plays). The game cannot be put
  into an imagined moment, so it never continues from the model's frames;
- **back to the model**: the model goes on from the real game's last frames and actions (``context``),
  the frames just seen, made into a context as a dataset import makes its low-resolution frames.

The game runs at its own pace, 17.5 frames per second (2 Doom tics a frame, as ``record-vizdoom``
records): a step waits until its frame is due, whatever rate the player asks for. A death respawns the
player (or starts a new game episode) and ends the recorded episode.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import torch

from diamond.configs.schema import ConfigError
from diamond.data.hdf5_episodes import LOW_RES
from diamond.data.spawn import SpawnPoint
from diamond.envs.vizdoom_fps import FRAME_SHAPE, SCENARIOS, VizdoomConfig, VizdoomFPSEnv
from diamond.fps_actions import SIZE, encode
from diamond.imaging import downscale_frames, to_model_range


def check_real_game(scenario: str, full_res_shape: tuple[int, ...], where: str = "--real-game") -> None:
    """Refuse a scenario that does not exist or an engine whose frames are not ViZDoom's."""
    if scenario not in SCENARIOS:
        raise ConfigError(f"{where} {scenario!r} is not a ViZDoom scenario; expected one of {', '.join(SCENARIOS)}")
    if tuple(full_res_shape) != FRAME_SHAPE:
        raise ConfigError(
            f"{where} {scenario}: the engine's frames are {tuple(full_res_shape)} (from its spawn points), ViZDoom's "
            f"are {FRAME_SHAPE}: the real game is for engines trained on `diamond record-vizdoom` data"
        )


class RealGame:
    """One ViZDoom game and the frames and actions of its last ``history`` steps."""

    def __init__(self, scenario: str, seed: int = 0, history: int = 4) -> None:
        self.config = VizdoomConfig(scenario=scenario)
        self.period = self.config.tics_per_frame / 35.0
        self.seed = seed
        self.env: VizdoomFPSEnv | None = None  # the game starts at the first switch
        self.frames: deque[np.ndarray] = deque(maxlen=history)  # (3, 150, 280) uint8, oldest first
        self.actions: deque[np.ndarray] = deque(maxlen=history)  # the action taken in each frame; last: pending
        self.next_due = 0.0

    @property
    def started(self) -> bool:
        return self.env is not None

    def frame(self) -> tuple[np.ndarray, np.ndarray]:
        """The current frame, full (3, 150, 280) and low (3, 30, 56) resolution; starts the game if needed."""
        if self.env is None:
            self.env = VizdoomFPSEnv(self.config, seed=self.seed)
            self._begin(self.env.reset()[0])
        self.next_due = time.perf_counter() + self.period
        return self._both_resolutions()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """Play ``action`` for one frame (at the game's pace): the new frame at both resolutions, and whether
        the player died (the game then goes on from a respawn or a new game episode)."""
        assert self.env is not None, "RealGame.frame() starts the game"
        delay = self.next_due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        self.next_due = max(self.next_due + self.period, time.perf_counter())
        obs, _, end, trunc, _ = self.env.step(action)
        self.actions[-1] = np.asarray(action, dtype=np.float32)
        if end or trunc:
            self._begin(self.env.reset()[0])
        else:
            self.frames.append(obs)
            self.actions.append(self.actions[-1])
        return *self._both_resolutions(), end or trunc

    def _both_resolutions(self) -> tuple[np.ndarray, np.ndarray]:
        """The newest frame, and its low-resolution frame made as a dataset import makes it."""
        return self.frames[-1], downscale_frames(self.frames[-1][None], LOW_RES)[0]

    def _begin(self, obs: np.ndarray) -> None:
        """A new life: its first frame is the whole history (repeated), with no keys held and a still mouse."""
        self.frames.clear()
        self.actions.clear()
        for _ in range(self.frames.maxlen or 1):
            self.frames.append(obs)
            self.actions.append(encode())

    def context(self, num_frames: int, num_full_res_frames: int) -> SpawnPoint:
        """The last frames and actions as a context for the engine, the form ``load_spawn_point`` gives."""
        if max(num_frames, num_full_res_frames) > (self.frames.maxlen or 0):
            raise ValueError(
                f"the real game keeps {self.frames.maxlen} frames; {num_frames} and {num_full_res_frames} were asked for"
            )
        full = np.stack(self.frames)
        low = downscale_frames(full[-num_frames:], LOW_RES)
        act = np.stack(self.actions)[-num_frames:]
        return SpawnPoint(
            low_res=to_model_range(torch.from_numpy(low))[None],
            act=torch.from_numpy(act.astype(np.float32))[None],
            full_res=to_model_range(torch.from_numpy(full[-num_full_res_frames:]))[None],
            next_act=torch.zeros(0, SIZE),
        )

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None
