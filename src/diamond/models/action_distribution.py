"""The policy's distribution over actions of any kind, read from the actor head's outputs (spec §6).

- discrete: a categorical over the actions (the paper's policy);
- multi-hot: one categorical per one-hot group and an independent Bernoulli per free entry;
- continuous: a diagonal Gaussian whose mean is squashed into the box, its scale a fraction of the
  box's width; samples are clipped to the box (log-probabilities are those of the clipped values under
  the Gaussian, a small bias at the bounds).

``sample_categorical`` is the one categorical draw of the project (actions, and the reward and
termination classes of the world model); every draw takes an explicit generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Categorical

from diamond.spaces import ActionSpace

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def policy_outputs(space: ActionSpace) -> int:
    """How many numbers the actor head gives per step for ``space``."""
    return 2 * space.size if space.kind == "continuous" else space.size


def sample_categorical(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One class per row of ``logits`` (..., K), drawn from softmax(logits)."""
    flat = logits.reshape(-1, logits.shape[-1])
    return flat.softmax(-1).multinomial(1, generator=generator).reshape(logits.shape[:-1])


class ActionDistribution:
    """Actions, log-probabilities and entropies for head outputs (..., policy_outputs); ``sample`` takes (B, P).

    torch.distributions' argument checks are off: they read the tensors on the host (a device sync per
    call), and the outputs come from the actor's own head.
    """

    def __init__(self, space: ActionSpace, outputs: Tensor) -> None:
        if outputs.shape[-1] != policy_outputs(space):
            raise ValueError(
                f"ActionDistribution: head outputs of shape {tuple(outputs.shape)}; the {space} needs "
                f"{policy_outputs(space)} per step"
            )
        self.space = space
        self.outputs = outputs
        self._categorical: Categorical | None = None  # discrete: one normalisation shared by log_prob and entropy

    def _discrete(self) -> Categorical:
        if self._categorical is None:
            self._categorical = Categorical(logits=self.outputs, validate_args=False)
        return self._categorical

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """Actions (B,) int64 (discrete) or (B, size) float32."""
        x, space = self.outputs, self.space
        if space.kind == "discrete":
            return sample_categorical(x, generator)
        if space.kind == "multi_hot":
            act = torch.zeros_like(x)
            free = list(space.free_entries())
            if free:
                p = torch.sigmoid(x[:, free])
                act[:, free] = (torch.rand(p.shape, device=x.device, generator=generator) < p).to(x.dtype)
            for g in space.groups:
                idx = torch.tensor(g, device=x.device)
                act[torch.arange(len(x), device=x.device), idx[sample_categorical(x[:, idx], generator)]] = 1
            return act
        mean, std = self._gaussian()
        noise = torch.randn(mean.shape, device=x.device, dtype=mean.dtype, generator=generator)
        return self._clip(mean + std * noise)

    def log_prob(self, act: Tensor) -> Tensor:
        x, space = self.outputs, self.space
        if space.kind == "discrete":
            return self._discrete().log_prob(act)
        if space.kind == "multi_hot":
            total = x.new_zeros(x.shape[:-1])
            free = list(space.free_entries())
            if free:
                total = total - F.binary_cross_entropy_with_logits(x[..., free], act[..., free], reduction="none").sum(
                    -1
                )
            for g in space.groups:
                idx = list(g)
                total = total + Categorical(logits=x[..., idx], validate_args=False).log_prob(act[..., idx].argmax(-1))
            return total
        mean, std = self._gaussian()
        return torch.distributions.Normal(mean, std, validate_args=False).log_prob(act).sum(-1)

    def entropy(self) -> Tensor:
        x, space = self.outputs, self.space
        if space.kind == "discrete":
            return self._discrete().entropy()
        if space.kind == "multi_hot":
            free = list(space.free_entries())
            total = x.new_zeros(x.shape[:-1])
            if free:
                p = torch.sigmoid(x[..., free])
                total = total + F.binary_cross_entropy_with_logits(x[..., free], p, reduction="none").sum(-1)
            for g in space.groups:
                total = total + Categorical(logits=x[..., list(g)], validate_args=False).entropy()
            return total
        _, std = self._gaussian()
        return torch.distributions.Normal(torch.zeros_like(std), std, validate_args=False).entropy().sum(-1)

    def _gaussian(self) -> tuple[Tensor, Tensor]:
        raw_mean, raw_log_std = self.outputs.chunk(2, dim=-1)
        low, high = self._bounds()
        center, half = (low + high) / 2, (high - low) / 2
        log_std = raw_log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        return center + half * torch.tanh(raw_mean), half * log_std.exp()

    def _bounds(self) -> tuple[Tensor, Tensor]:
        as_tensor = lambda v: torch.tensor(v, device=self.outputs.device, dtype=self.outputs.dtype)  # noqa: E731
        return as_tensor(self.space.low), as_tensor(self.space.high)

    def _clip(self, act: Tensor) -> Tensor:
        low, high = self._bounds()
        return torch.maximum(torch.minimum(act, high), low)
