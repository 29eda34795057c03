"""The environment interface the actor-critic sees: batched tensors in, batched tensors out.

``TensorEnv`` is what rollouts run in, whether the frames come from the diffusion world model
(``diamond.rl.world_model_env.WorldModelEnv``) or from real emulators (``RealTensorEnv``, for the
model-free baseline). Observations are float frames in [-1, 1] of shape (N, C, H, W) on the models'
device; ``step`` auto-resets finished envs and reports, in ``info``:

- ``final_obs`` (N, C, H, W): the observation reached by this step (differs from ``obs`` where reset);
- ``reset`` (N,) bool: the envs that were reset after this step;
- ``reset_idx`` (R,) int64: their indices, R of them; R is known on the host without reading the device;
- ``burnin_obs`` (R, K, C, H, W) and ``burnin_mask`` (R, K), optional, one row per index of ``reset_idx``:
  frames to run a recurrent policy over after a reset (the first frames of an imagined episode's real
  context), before acting on ``obs``.

``reset`` gives (obs, info) where ``info`` may hold ``burnin_obs`` and ``burnin_mask`` for all N envs.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from diamond.envs.base import VectorEnv
from diamond.imaging import to_model_range
from diamond.spaces import ActionSpace


class TensorEnv(Protocol):
    num_envs: int
    action_space: ActionSpace

    def reset(self) -> tuple[Tensor, dict[str, Any]]: ...

    def step(self, act: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]: ...


class RealTensorEnv:
    """A real ``VectorEnv`` (uint8 numpy) seen as a ``TensorEnv`` (float tensors in [-1, 1])."""

    def __init__(self, env: VectorEnv, device: torch.device | str = "cpu") -> None:
        self.env = env
        self.device = torch.device(device)
        self.num_envs = env.num_envs
        self.action_space = env.action_space

    def _frames(self, obs: np.ndarray) -> Tensor:
        return to_model_range(torch.from_numpy(np.ascontiguousarray(obs)).to(self.device))

    def reset(self) -> tuple[Tensor, dict[str, Any]]:
        return self._frames(self.env.reset()), {}

    def step(self, act: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        obs, rew, end, trunc, info = self.env.step(act.cpu().numpy())
        to = lambda a, dtype: torch.as_tensor(a, dtype=dtype, device=self.device)  # noqa: E731
        end_t, trunc_t = to(end, torch.bool), to(trunc, torch.bool)
        return (
            self._frames(obs),
            to(rew, torch.float32),
            end_t,
            trunc_t,
            {
                "final_obs": self._frames(info["final_obs"]),
                "reset": end_t | trunc_t,
                "reset_idx": to(np.flatnonzero(np.logical_or(end, trunc)), torch.long),  # from the host's flags
            },
        )
