"""The CNN-LSTM actor-critic (spec §6).

A small residual encoder (GroupNorm–SiLU–conv3×3 plus skip, 2×2 max-pooling after each block), an LSTM
cell, and zero-initialised policy and value heads: the untrained policy is uniform and the untrained
critic predicts 0. The network sees one frame per step; its memory is the LSTM state.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from diamond.configs.schema import ActorCriticConfig
from diamond.models.action_distribution import ActionDistribution, policy_outputs
from diamond.models.blocks import GroupNorm, conv1x1, conv3x3
from diamond.models.lstm_init import init_lstm

LstmState = tuple[Tensor, Tensor]


class SmallResBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.f = nn.Sequential(GroupNorm(in_channels), nn.SiLU(), conv3x3(in_channels, out_channels))
        self.skip_projection = nn.Identity() if in_channels == out_channels else conv1x1(in_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.skip_projection(x) + self.f(x)


class ActorCriticEncoder(nn.Module):
    def __init__(self, cfg: ActorCriticConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv3x3(cfg.img_channels, cfg.channels[0])]
        widths = [cfg.channels[0], *cfg.channels]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [SmallResBlock(c_in, c_out), nn.MaxPool2d(2)]
        self.encoder = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x)


class ActorCritic(nn.Module):
    def __init__(self, cfg: ActorCriticConfig, image_size: int = 64) -> None:
        super().__init__()
        cfg.validate("actor_critic")
        side = image_size >> len(cfg.channels)
        if side < 1:
            raise ValueError(
                f"actor_critic.channels: {len(cfg.channels)} pooling stages leave nothing of "
                f"{image_size}×{image_size} frames; use at most {image_size.bit_length() - 1} widths"
            )
        self.cfg = cfg
        self.encoder = ActorCriticEncoder(cfg)
        self.lstm_dim = cfg.lstm_dim
        self.lstm = nn.LSTMCell(cfg.channels[-1] * side * side, cfg.lstm_dim)
        self.critic_linear = nn.Linear(cfg.lstm_dim, 1)
        self.actor_linear = nn.Linear(cfg.lstm_dim, policy_outputs(cfg.action_space))
        init_lstm(self.lstm)
        for head in (self.critic_linear, self.actor_linear):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> LstmState:
        device = device if device is not None else self.critic_linear.weight.device
        zeros = torch.zeros(batch_size, self.lstm_dim, device=device)
        return zeros, zeros.clone()

    def forward(self, obs: Tensor, state: LstmState | None = None) -> tuple[Tensor, Tensor, LstmState]:
        """One step: (B, C, H, W) frames in [-1, 1] → the policy head's outputs (B, P) (logits for discrete
        actions; see ``ActionDistribution``), values (B,), new LSTM state."""
        if obs.ndim != 4:
            raise ValueError(
                f"ActorCritic expects (batch, channels, height, width) frames, got shape {tuple(obs.shape)}"
            )
        x = self.encoder(obs).flatten(start_dim=1)
        hx, cx = self.lstm(x, state)
        return self.actor_linear(hx), self.critic_linear(hx).squeeze(1), (hx, cx)

    @torch.no_grad()
    def burn_in(self, obs: Tensor, mask: Tensor | None = None, state: LstmState | None = None) -> LstmState:
        """Run the LSTM over (B, T, C, H, W) frames; where ``mask`` (B, T) is 0 the state is left unchanged.
        The T frames go through the encoder in one call (its output does not depend on the state)."""
        b, t = obs.shape[:2]
        state = state if state is not None else self.initial_state(b, obs.device)
        features = self.encoder(obs.flatten(0, 1)).flatten(start_dim=1).unflatten(0, (b, t))
        for i in range(t):
            new = self.lstm(features[:, i], state)
            if mask is None:
                state = new
            else:
                keep = mask[:, i].bool()[:, None]
                state = (torch.where(keep, new[0], state[0]), torch.where(keep, new[1], state[1]))
        return state

    def policy(self, outputs: Tensor) -> ActionDistribution:
        """The distribution over actions that the head's ``outputs`` describe."""
        return ActionDistribution(self.cfg.action_space, outputs)
