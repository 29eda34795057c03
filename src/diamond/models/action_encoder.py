"""Actions of any kind → conditioning vectors: the one place the networks read actions.

The encoder holds one row of ``dim`` numbers per action (discrete), per entry (multi-hot) or per
dimension (continuous):

- discrete: the row of the chosen action (an embedding lookup, as ``nn.Embedding``);
- multi-hot: the sum of the rows of the active entries, i.e. the 0/1 vector times the table (spec §10,
  what the authors' engine does);
- continuous: a linear map of the action rescaled from its box to [-1, 1].

The table is one parameter named ``weight``, initialised like ``nn.Embedding`` (standard normal), so a
discrete encoder has exactly the state and the random draws of the embedding it replaces.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from diamond.spaces import ActionSpace


class ActionEncoder(nn.Module):
    def __init__(self, space: ActionSpace, dim: int) -> None:
        super().__init__()
        space.validate("ActionEncoder")
        self.space = space
        self.weight = nn.Parameter(torch.empty(space.size, dim))
        nn.init.normal_(self.weight, std=1.0 if space.kind != "continuous" else 1 / math.sqrt(space.size))
        if space.kind == "continuous":
            low, high = torch.tensor(space.low), torch.tensor(space.high)
            self.register_buffer("center", (low + high) / 2, persistent=False)
            self.register_buffer("half_width", (high - low) / 2, persistent=False)

    def forward(self, act: Tensor) -> Tensor:
        """act: (...) integers (discrete) or (..., size) values → (..., dim)."""
        if self.space.kind == "discrete":
            return F.embedding(act.long(), self.weight)
        if act.shape[-1] != self.space.size:
            raise ValueError(
                f"ActionEncoder: actions of shape {tuple(act.shape)}; the {self.space} needs a last "
                f"dimension of {self.space.size}"
            )
        x = act.to(self.weight.dtype)
        if self.space.kind == "continuous":
            x = (x - self.center) / self.half_width
        return x @ self.weight
