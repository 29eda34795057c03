"""The game loop of the players, independent of any window: a person or the policy plays one episode at a
time in the world model, the real test environment or the real training environment.

- **Sources.** ``world model``: the diffusion model imagines each next frame (the configured sampler,
  3 Euler steps by default), the reward/termination model samples reward and ending, and an imagined
  episode is cut at the horizon. ``test env`` and ``train env``: the real game with the spec §2 protocol
  (the training env ends an episode on a lost life). Switching to the world model *forks* the frames
  just seen in the real game into imagination, so the two can be compared from the same moment; a new
  imagined episode starts from a fresh real first frame (the context before it is zero padding, as in
  training, spec §3).
- **Controllers.** ``human``: the held controls map to the game's action (``keymap``). ``policy``: the
  trained actor-critic samples the action; on hand-over its LSTM is burned in on the frames just seen.
- **Pause, single step, reset**, the imagination horizon, and recording of every played episode.

The UIs call :meth:`PlaySession.step` for each new frame and the command methods between frames.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diamond.configs.schema import ConfigError
from diamond.data.sampler import Batch
from diamond.devices import autocast
from diamond.imaging import to_display, to_model_range
from diamond.play.keymap import action_for, action_meanings
from diamond.play.models import PlayModels
from diamond.play.recording import EpisodeRecorder
from diamond.rl.world_model_env import WorldModelEnv

SOURCES = ("world model", "test env", "train env")
CONTROLLERS = ("human", "policy")
HORIZONS = (5, 10, 15, 20, 30, 50, 100, 200, 500, 1000, 2000, 5000)
DEFAULT_HORIZON = 1000


def next_on_ladder(ladder: tuple, current, direction: int):
    """The value after ``current`` on an ascending ladder of choices (before it when ``direction`` < 0);
    ``current`` itself at either end."""
    if direction > 0:
        return next((v for v in ladder if v > current), current)
    return next((v for v in reversed(ladder) if v < current), current)


def locked(method):
    """Serialise a session's methods: a UI may call them from its worker thread and its main thread."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


@dataclass
class Frame:
    """What the UI shows after a step (or a reset): the frame and what led to it."""

    obs: np.ndarray  # (C, H, W) uint8
    source: str
    controller: str
    timestep: int  # steps since this episode started
    horizon: int
    action: int | None  # the action that produced this frame (None after a reset)
    action_name: str
    reward: float
    episode_return: float
    end: bool
    trunc: bool
    paused: bool
    message: str = ""

    def image(self) -> np.ndarray:
        """(H, W, 3) uint8 for drawing."""
        return np.ascontiguousarray(self.obs.transpose(1, 2, 0))


class PlaySession:
    def __init__(
        self,
        models: PlayModels,
        seed: int = 0,
        horizon: int = DEFAULT_HORIZON,
        source: str = "world model",
        record: str | Path | None = None,
    ) -> None:
        from diamond.data.datasets import store_metadata
        from diamond.envs.families import make_run_env

        if source not in SOURCES:
            raise ConfigError(f"--source {source!r} is unknown; choose one of {', '.join(SOURCES)}")
        if horizon < 1:
            raise ConfigError(f"--horizon {horizon} must be >= 1")
        self._lock = threading.RLock()
        self.models = models
        self.cfg = models.cfg
        self.device = next(models.denoiser.parameters()).device
        self.seed = seed
        self._make_env = make_run_env
        self._envs: dict[str, Any] = {}
        space = models.action_space
        if not space.is_discrete:
            raise ConfigError(
                f"checkpoint {models.path} was trained with a {space}; the keyboard players drive "
                "discrete action spaces"
            )
        probe = self._env("test env")  # checks the game and tells its actions
        protocol = probe.protocol()
        self.meanings = action_meanings(protocol)
        self.game = self.cfg.env.game
        if len(self.meanings) != space.size:
            raise ConfigError(
                f"checkpoint {models.path} was trained with {space.size} actions, but {self.game} has "
                f"{len(self.meanings)} ({', '.join(self.meanings)}); give the --game it was trained on"
            )
        self.obs_shape = tuple(protocol["observation_shape"])
        net = self.cfg.denoiser.net
        if self.obs_shape[0] != net.img_channels:
            raise ConfigError(
                f"checkpoint {models.path} expects {net.img_channels}-channel frames, {self.game} gives "
                f"{self.obs_shape[0]}"
            )
        self.context_length = net.num_steps_conditioning
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.recorder = EpisodeRecorder(record, store_metadata(protocol)) if record is not None else None
        self.horizon = horizon
        self.source = source
        self.controller = "human"
        self.paused = False
        self.history: deque[tuple[np.ndarray, int]] = deque(maxlen=self.context_length)  # (frame, action taken in it)
        self.policy_state: tuple[torch.Tensor, torch.Tensor] | None = None
        self._wm: WorldModelEnv | None = None
        self._pending_context: list[tuple[np.ndarray, int]] | None = None  # frames the next imagined episode forks
        self._context_frames: list[tuple[np.ndarray, int]] = []  # the real frames the imagined episode started from
        self.timestep = 0
        self.episode_return = 0.0
        self.frame: Frame | None = None
        self.step_seconds: deque[float] = deque(maxlen=30)
        self.reset()

    # -- environments -----------------------------------------------------------------------------

    def _env(self, source: str):
        if source not in self._envs:
            kind = "test" if source in ("test env", "world model") else "train"
            offset = {"test env": 1, "train env": 2, "world model": 3}[source]
            env = self._make_env(self.cfg, kind, 1, self.seed * 10 + offset)
            env.reset(seed=self.seed * 10 + offset)
            self._envs[source] = env
        return self._envs[source]

    def _fresh_first_frame(self) -> np.ndarray:
        """A real first frame of a new test episode (the world model's starts)."""
        return self._env("world model").reset()[0]  # seeded once when made: reseeding reloads the emulator

    def _context_batch(self, n: int) -> Batch:
        """WorldModelEnv's context source: the pending frames (or a fresh real start), zero-padded to K."""
        if n != 1:
            raise ValueError(f"the player imagines one episode at a time, asked for {n}")
        frames = self._pending_context or [(self._fresh_first_frame(), 0)]
        self._pending_context = None
        k = self.context_length
        frames = frames[-k:]
        pad = k - len(frames)
        obs = np.zeros((1, k, *self.obs_shape), dtype=np.uint8)
        act = np.zeros((1, k), dtype=np.int64)
        for i, (o, a) in enumerate(frames):
            obs[0, pad + i], act[0, pad + i] = o, a
        mask = np.zeros((1, k), dtype=bool)
        mask[0, pad:] = True
        zeros = torch.zeros(1, k)
        self._context_frames = frames
        return Batch(
            obs=torch.from_numpy(obs),
            act=torch.from_numpy(act),
            rew=zeros,
            end=zeros.to(torch.uint8),
            trunc=zeros.to(torch.uint8),
            mask_padding=torch.from_numpy(mask),
            next_obs=None,
            episode_id=torch.zeros(1, dtype=torch.long),
            start=torch.tensor([-pad]),
            stop=torch.tensor([k - pad]),
        )

    def _world_model(self) -> WorldModelEnv:
        if self._wm is None:
            self._wm = WorldModelEnv(
                self.models.denoiser,
                self.models.rew_end,
                self._context_batch,
                num_envs=1,
                horizon=self.horizon,
                sampler=self.cfg.sampler,
                generator=self.generator,
            )
        return self._wm

    # -- commands ---------------------------------------------------------------------------------

    @locked
    def reset(self, fork: list[tuple[np.ndarray, int]] | None = None) -> Frame:
        """Start a new episode in the current source (the world model may start from ``fork``'s frames)."""
        self._finish_recording(self.frame.obs if self.frame is not None else None)
        self.history.clear()
        if self.source == "world model":
            self._pending_context = fork
            with autocast(self.device, self.models.precision):
                self._world_model().reset()
            obs = self._context_frames[-1][0]
            self.history.extend(self._context_frames[:-1])
        else:
            obs = self._env(self.source).reset()[0]
        self.timestep = 0
        self.episode_return = 0.0
        self.history.append((obs, 0))
        self._burn_in_policy()
        self.frame = self._frame(obs, None, 0.0, False, False)
        return self.frame

    @locked
    def toggle_controller(self) -> str:
        if self.controller == "human" and self.models.actor_critic is None:
            return f"{self.models.path} holds no policy (actor-critic): human control only"
        self.controller = "policy" if self.controller == "human" else "human"
        self._burn_in_policy()
        return f"controller: {self.controller}"

    @locked
    def next_source(self) -> Frame:
        """The next of world model → test env → train env; the world model forks from the frames just seen."""
        fork = list(self.history) if self.source != "world model" else None
        if self.frame is not None:
            self._finish_recording(self.frame.obs)
        self.source = SOURCES[(SOURCES.index(self.source) + 1) % len(SOURCES)]
        frame = self.reset(fork=fork)
        frame.message = f"source: {self.source}" + (" (continuing from the real game's frames)" if fork else "")
        return frame

    @locked
    def change_horizon(self, direction: int) -> str:
        self.horizon = next_on_ladder(HORIZONS, self.horizon, direction)
        if self._wm is not None:
            self._wm.horizon = self.horizon
        return f"imagination horizon: {self.horizon}"

    @locked
    def toggle_pause(self) -> str:
        self.paused = not self.paused
        return "paused (step: one frame)" if self.paused else "resumed"

    # -- the loop ---------------------------------------------------------------------------------

    def choose_action(self, controls: Iterable[str]) -> int:
        if self.controller == "policy" and self.models.actor_critic is not None:
            return self._policy_action()
        return action_for(controls, self.meanings)

    @locked
    @torch.no_grad()
    def step(self, controls: Iterable[str] = (), action: int | None = None) -> Frame:
        """Advance one frame with the held controls (or an explicit action), whatever the pause state."""
        assert self.frame is not None
        t0 = time.perf_counter()
        if action is None:
            action = self.choose_action(controls)
        if not 0 <= action < self.models.action_space.size:
            raise ValueError(f"action {action} is outside 0..{self.models.action_space.size - 1} for {self.game}")
        prev = self.frame.obs
        if self.source == "world model":
            with autocast(self.device, self.models.precision):
                obs_t, rew_t, end_t, trunc_t, info = self._world_model().step(torch.tensor([action]))
            obs, rew, end, trunc = to_display(obs_t[0]).cpu().numpy(), float(rew_t[0]), bool(end_t[0]), bool(trunc_t[0])
            final = to_display(info["final_obs"][0]).cpu().numpy()
            if end or trunc:
                obs = self._context_frames[-1][0]  # the next imagined episode starts from a real frame
        else:
            obs_b, rew_b, end_b, trunc_b, info = self._env(self.source).step(np.array([action]))
            obs, rew, end, trunc, final = (
                obs_b[0],
                float(rew_b[0]),
                bool(end_b[0]),
                bool(trunc_b[0]),
                info["final_obs"][0],
            )
        if self.recorder is not None:
            self.recorder.add(prev, action, rew, end, trunc)
        self.episode_return += rew
        self.timestep += 1
        self.history[-1] = (prev, action)
        if end or trunc:
            self._finish_recording(final)
            ended_return = self.episode_return
            self.history.clear()
            if self.source == "world model":
                self.history.extend(self._context_frames[:-1])
            self.history.append((obs, 0))
            self.timestep, self.episode_return = 0, 0.0
            self._burn_in_policy()
            why = (
                "ended" if end else "reached the horizon" if self.source == "world model" else "reached the time limit"
            )
            shown = self._frame(obs, action, rew, end, trunc)
            shown.message = f"episode {why} with return {ended_return:g}; a new one starts"
        else:
            self.history.append((obs, 0))
            shown = self._frame(obs, action, rew, end, trunc)
        self.frame = shown
        self.step_seconds.append(time.perf_counter() - t0)
        return shown

    @locked
    def close(self) -> None:
        if self.frame is not None:
            self._finish_recording(self.frame.obs)
        if self.recorder is not None:
            self.recorder.close()
        for env in self._envs.values():
            env.close()
        self._envs.clear()

    # -- helpers ----------------------------------------------------------------------------------

    def _frame(self, obs: np.ndarray, action: int | None, rew: float, end: bool, trunc: bool) -> Frame:
        return Frame(
            obs=obs,
            source=self.source,
            controller=self.controller,
            timestep=self.timestep,
            horizon=self.horizon,
            action=action,
            action_name="-" if action is None else self.meanings[action],
            reward=rew,
            episode_return=self.episode_return,
            end=end,
            trunc=trunc,
            paused=self.paused,
        )

    def _finish_recording(self, final_obs: np.ndarray | None) -> None:
        if self.recorder is not None and final_obs is not None:
            self.recorder.finish(final_obs, {"source": self.source, "game": self.game, "played_with": "diamond play"})

    def _policy_input(self, obs: np.ndarray) -> torch.Tensor:
        return to_model_range(torch.from_numpy(np.ascontiguousarray(obs))[None].to(self.device))

    def _burn_in_policy(self) -> None:
        """Policy state after the frames seen so far except the current one (spec §6 burn-in)."""
        ac = self.models.actor_critic
        if ac is None or self.controller != "policy":
            self.policy_state = None
            return
        state = ac.initial_state(1, self.device)
        with torch.no_grad():
            for obs, _ in list(self.history)[:-1]:
                _, _, state = ac(self._policy_input(obs), state)
        self.policy_state = state  # the current frame is read when the policy acts on it

    def _policy_action(self) -> int:
        ac = self.models.actor_critic
        assert ac is not None and self.frame is not None
        if self.policy_state is None:
            self._burn_in_policy()
        logits, _, self.policy_state = ac(self._policy_input(self.frame.obs), self.policy_state)
        return int(ac.policy(logits).sample(self.generator)[0])
