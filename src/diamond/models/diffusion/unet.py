"""The conditional U-Net of the denoiser (spec §4)."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from diamond.models.blocks import Downsample, ResBlocks, Upsample


class UNet(nn.Module):
    """Levels of ResBlocks joined by stride-2 convolutions, with concatenated skips on the way up.

    Each level has ``depths[i]`` blocks down and ``depths[i] + 1`` blocks up; the up path consumes, in
    reverse order, the input and every output of the matching down level. Two attention blocks sit in the
    middle. Inputs are zero-padded to a multiple of 2^(levels-1) and cropped back.
    """

    def __init__(self, cond_channels: int, depths: list[int], channels: list[int], attn_depths: list[bool]) -> None:
        super().__init__()
        if not (len(depths) == len(channels) == len(attn_depths)):
            raise ValueError(
                f"UNet: depths {depths}, channels {channels} and attn_depths {attn_depths} must have equal lengths"
            )
        down, up = [], []
        for i, (n, attn) in enumerate(zip(depths, attn_depths)):
            c_prev, c = channels[max(0, i - 1)], channels[i]
            down.append(ResBlocks([c_prev] + [c] * (n - 1), [c] * n, cond_channels, attn))
            up.append(ResBlocks([2 * c] * n + [c_prev + c], [c] * n + [c_prev], cond_channels, attn))
        self.d_blocks = nn.ModuleList(down)
        self.u_blocks = nn.ModuleList(reversed(up))
        self.mid_blocks = ResBlocks([channels[-1]] * 2, [channels[-1]] * 2, cond_channels, attention=True)
        self.downsamples = nn.ModuleList([nn.Identity()] + [Downsample(c) for c in channels[:-1]])
        self.upsamples = nn.ModuleList([nn.Identity()] + [Upsample(c) for c in reversed(channels[:-1])])

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        multiple = 2 ** (len(self.d_blocks) - 1)
        x = F.pad(x, (0, math.ceil(w / multiple) * multiple - w, 0, math.ceil(h / multiple) * multiple - h))

        skips = []
        for block, down in zip(self.d_blocks, self.downsamples):
            x_in = down(x)
            x, outputs = block(x_in, cond)
            skips.append([x_in, *outputs])

        x, _ = self.mid_blocks(x, cond)

        for block, up, level_skips in zip(self.u_blocks, self.upsamples, reversed(skips)):
            x, _ = block(up(x), cond, level_skips[::-1])

        return x[..., :h, :w]
