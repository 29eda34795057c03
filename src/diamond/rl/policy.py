"""The actor-critic as a behaviour policy for real environments (numpy uint8 frames in, actions out)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from diamond.imaging import to_model_range
from diamond.models.actor_critic import ActorCritic, LstmState


class RecurrentPolicy:
    """Samples from the actor's distribution over actions, carrying the LSTM state across steps.

    Implements the collector's policy protocol: ``reset(mask)`` zeroes the state of the envs just reset.
    """

    def __init__(self, model: ActorCritic, num_envs: int, seed: int = 0) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.state: LstmState = model.initial_state(num_envs, self.device)

    def reset(self, done: np.ndarray) -> None:
        keep = torch.as_tensor(~np.asarray(done, dtype=bool), device=self.device).float()[:, None]
        self.state = (self.state[0] * keep, self.state[1] * keep)

    @torch.no_grad()
    def __call__(self, obs: np.ndarray) -> np.ndarray:
        was_training = self.model.training
        self.model.eval()
        frames = to_model_range(torch.from_numpy(np.ascontiguousarray(obs)).to(self.device))
        logits, _, self.state = self.model(frames, self.state)
        self.model.train(was_training)
        act = self.model.policy(logits).sample(self.generator)
        return act.cpu().numpy().astype(self.model.cfg.action_space.dtype)

    def state_dict(self) -> dict[str, Any]:
        return {"hx": self.state[0].cpu(), "cx": self.state[1].cpu(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = (state["hx"].to(self.device), state["cx"].to(self.device))
        self.generator.set_state(state["generator"].cpu())  # generator states are CPU tensors
