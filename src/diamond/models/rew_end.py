"""The reward/termination model (spec §5): a CNN-LSTM over transitions (o_t, a_t, o_{t+1}).

Each transition is encoded from the 6-channel concatenation of both frames by residual blocks
conditioned (adaptive group norm) on an embedding of the action; an LSTM runs over the sequence of
transitions; a head gives 3 reward logits (−1, 0, +1 after sign clipping) and 2 termination logits.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from diamond.configs.schema import RewEndConfig
from diamond.models.action_encoder import ActionEncoder
from diamond.models.blocks import Downsample, ResBlocks, conv3x3
from diamond.models.lstm_init import init_lstm
from diamond.models.masked import masked_mean

NUM_REWARD_CLASSES = 3
NUM_END_CLASSES = 2

LstmState = tuple[Tensor, Tensor]


def reward_class(rew: Tensor) -> Tensor:
    """Raw rewards → classes 0, 1, 2 for sign −1, 0, +1."""
    return rew.sign().long() + 1


def class_reward(cls: Tensor) -> Tensor:
    """Reward classes 0, 1, 2 → rewards −1, 0, +1."""
    return cls.float() - 1


class RewEndEncoder(nn.Module):
    """conv3×3, then one level of residual blocks per width with stride-2 downsampling between levels,
    then 2 residual blocks with self-attention. 64×64 in, (channels[-1], 8, 8) out with 4 levels."""

    def __init__(self, cfg: RewEndConfig) -> None:
        super().__init__()
        ch = cfg.channels
        self.conv_in = conv3x3(2 * cfg.img_channels, ch[0])
        self.blocks = nn.ModuleList()
        for i, depth in enumerate(cfg.depths):
            ins = [ch[max(0, i - 1)]] + [ch[i]] * (depth - 1)
            self.blocks.append(ResBlocks(ins, [ch[i]] * depth, cfg.cond_channels, cfg.attn_depths[i]))
        self.blocks.append(ResBlocks([ch[-1]] * 2, [ch[-1]] * 2, cfg.cond_channels, attention=True))
        self.downsamples = nn.ModuleList([nn.Identity()] + [Downsample(c) for c in ch[:-1]])

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        x = self.conv_in(x)
        for down, block in zip(self.downsamples, self.blocks[:-1]):
            x, _ = block(down(x), cond)
        x, _ = self.blocks[-1](x, cond)
        return x


def encoded_size(image_size: int, levels: int) -> int:
    """Side of the encoder's output map: each of the levels − 1 downsamplings halves it (rounding up)."""
    size = image_size
    for _ in range(levels - 1):
        size = (size + 1) // 2
    return size


class RewEndModel(nn.Module):
    def __init__(self, cfg: RewEndConfig, image_size: int = 64) -> None:
        super().__init__()
        cfg.validate("rew_end")
        self.cfg = cfg
        self.act_emb = ActionEncoder(cfg.action_space, cfg.cond_channels)
        self.encoder = RewEndEncoder(cfg)
        side = encoded_size(image_size, len(cfg.channels))
        self.lstm = nn.LSTM(cfg.channels[-1] * side * side, cfg.lstm_dim, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(cfg.lstm_dim, cfg.lstm_dim),
            nn.SiLU(),
            nn.Linear(cfg.lstm_dim, NUM_REWARD_CLASSES + NUM_END_CLASSES, bias=False),
        )
        init_lstm(self.lstm)

    def forward(
        self, obs: Tensor, act: Tensor, next_obs: Tensor, state: LstmState | None = None
    ) -> tuple[Tensor, Tensor, LstmState]:
        """(B, T, C, H, W) frames in [-1, 1], (B, T) or (B, T, A) actions → reward logits (B, T, 3), end logits
        (B, T, 2), state."""
        b, t = act.shape[:2]
        if obs.shape[:2] != (b, t) or next_obs.shape != obs.shape:
            raise ValueError(
                f"RewEndModel: obs {tuple(obs.shape)}, next_obs {tuple(next_obs.shape)} and "
                f"act {tuple(act.shape)} must share their (batch, time) dimensions"
            )
        pairs = torch.cat((obs, next_obs), dim=2).flatten(0, 1)
        x = self.encoder(pairs, self.act_emb(act.flatten(0, 1)))
        x, state = self.lstm(x.reshape(b, t, -1), state)
        logits = self.head(x)
        return logits[..., :NUM_REWARD_CLASSES], logits[..., NUM_REWARD_CLASSES:], state

    def loss(
        self,
        obs: Tensor,
        act: Tensor,
        next_obs: Tensor,
        rew: Tensor,
        end: Tensor,
        mask: Tensor,
        normaliser: Callable[[Tensor], Tensor] | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Cross-entropy on reward classes and terminations over the unpadded positions (spec §5).

        ``normaliser``: maps this batch's number of unpadded positions to the count the summed losses
        are divided by (data-parallel training: the global count over the number of processes).
        """
        logits_rew, logits_end, _ = self(obs, act, next_obs)
        m = mask.bool()
        count = None if normaliser is None else normaliser(m.sum().to(logits_rew.dtype))
        per_step = lambda logits, target: F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="none")  # noqa: E731
        loss_rew = masked_mean(per_step(logits_rew, reward_class(rew)).view(m.shape), m, count)
        loss_end = masked_mean(per_step(logits_end, end.long()).view(m.shape), m, count)
        loss = loss_rew + loss_end
        return loss, {"loss_rew": loss_rew.detach(), "loss_end": loss_end.detach(), "loss": loss.detach()}
