"""Building blocks shared by the denoiser U-Net, the reward/termination model and the actor-critic.

Attribute names (``norm``, ``linear``, ``qkv_proj``...) follow the reference checkpoint layout so that
published checkpoints load with a prefix change only (see ``diamond.checkpoints.reference``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

GROUP_SIZE = 32  # spec §4: one GroupNorm group per 32 channels, at least one
GN_EPS = 1e-5
ATTENTION_HEAD_DIM = 8  # spec §4


def num_groups(channels: int) -> int:
    return max(1, channels // GROUP_SIZE)


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)


def conv1x1(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0)


class GroupNorm(nn.Module):
    """GroupNorm with learned affine parameters and the spec's group size."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(num_groups(channels), channels, eps=GN_EPS)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x)


class AdaGroupNorm(nn.Module):
    """Adaptive group norm (spec §4): GroupNorm(x) · (1 + scale) + shift, scale/shift from the condition."""

    def __init__(self, channels: int, cond_channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.groups = num_groups(channels)
        self.linear = nn.Linear(cond_channels, 2 * channels)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        if x.size(1) != self.channels:
            raise ValueError(f"AdaGroupNorm expected {self.channels} channels, got {x.size(1)}")
        normed = F.group_norm(x, self.groups, eps=GN_EPS)
        scale, shift = self.linear(cond)[:, :, None, None].chunk(2, dim=1)
        return normed * (1 + scale) + shift


class SelfAttention2d(nn.Module):
    """Multi-head self-attention over the pixels of a feature map (head dimension 8)."""

    def __init__(self, channels: int, head_dim: int = ATTENTION_HEAD_DIM) -> None:
        super().__init__()
        self.num_heads = max(1, channels // head_dim)
        self.norm = GroupNorm(channels)
        self.qkv_proj = conv1x1(channels, 3 * channels)
        self.out_proj = conv1x1(channels, channels)
        nn.init.zeros_(self.out_proj.weight)  # starts as the identity on the (normalised) input
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        # The residual is taken around the normalised input, as in the reference network.
        x = self.norm(x)
        qkv = self.qkv_proj(x).view(b, 3 * self.num_heads, c // self.num_heads, h * w).transpose(2, 3)
        q, k, v = qkv.chunk(3, dim=1)
        y = F.scaled_dot_product_attention(q, k, v)  # softmax(q kᵀ / sqrt(d)) v
        y = y.transpose(2, 3).reshape(b, c, h, w)
        return x + self.out_proj(y)


class FourierFeatures(nn.Module):
    """Random Fourier features of a scalar (spec §4): [cos(2π s w), sin(2π s w)], w frozen ~ N(0, 1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError(f"FourierFeatures needs an even number of channels, got {channels}")
        self.register_buffer("weight", torch.randn(1, channels // 2))

    def forward(self, s: Tensor) -> Tensor:
        if s.ndim != 1:
            raise ValueError(f"FourierFeatures expects a 1-D tensor of scalars, got shape {tuple(s.shape)}")
        f = 2 * math.pi * s.unsqueeze(1) @ self.weight
        return torch.cat([f.cos(), f.sin()], dim=-1)


class Downsample(nn.Module):
    """Stride-2 3×3 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1)
        nn.init.orthogonal_(self.conv.weight)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour ×2 then 3×3 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = conv3x3(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class ResBlock(nn.Module):
    """AdaGN–SiLU–conv3×3–AdaGN–SiLU–conv3×3 plus a 1×1 projection when channels change (spec §4)."""

    def __init__(self, in_channels: int, out_channels: int, cond_channels: int, attention: bool) -> None:
        super().__init__()
        self.proj = conv1x1(in_channels, out_channels) if in_channels != out_channels else nn.Identity()
        self.norm1 = AdaGroupNorm(in_channels, cond_channels)
        self.conv1 = conv3x3(in_channels, out_channels)
        self.norm2 = AdaGroupNorm(out_channels, cond_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.attn = SelfAttention2d(out_channels) if attention else nn.Identity()
        nn.init.zeros_(self.conv2.weight)  # each block starts as (a projection of) the identity

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        residual = self.proj(x)
        x = self.conv1(F.silu(self.norm1(x, cond)))
        x = self.conv2(F.silu(self.norm2(x, cond)))
        return self.attn(x + residual)


class ResBlocks(nn.Module):
    """A stack of ResBlocks; optionally concatenates one skip tensor before each block."""

    def __init__(self, in_channels: list[int], out_channels: list[int], cond_channels: int, attention: bool) -> None:
        super().__init__()
        if len(in_channels) != len(out_channels):
            raise ValueError(f"ResBlocks: {len(in_channels)} input widths for {len(out_channels)} blocks")
        self.resblocks = nn.ModuleList(
            ResBlock(i, o, cond_channels, attention) for i, o in zip(in_channels, out_channels)
        )

    def forward(self, x: Tensor, cond: Tensor, skips: list[Tensor] | None = None) -> tuple[Tensor, list[Tensor]]:
        outputs = []
        for i, block in enumerate(self.resblocks):
            if skips is not None:
                x = torch.cat((x, skips[i]), dim=1)
            x = block(x, cond)
            outputs.append(x)
        return x, outputs
