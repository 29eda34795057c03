"""F, the network inside the EDM denoiser (spec §4): frame stacking and action conditioning by AdaGN."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from diamond.configs.schema import DenoiserNetConfig
from diamond.models.action_encoder import ActionEncoder
from diamond.models.blocks import FourierFeatures, GroupNorm, conv3x3
from diamond.models.diffusion.unet import UNet


class DenoiserNetwork(nn.Module):
    """F(c_in · x^σ, c_noise, context frames / σ_data, context actions) → preconditioned output."""

    def __init__(self, cfg: DenoiserNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.cond_channels
        self.noise_emb = FourierFeatures(c)
        # Each of the L context actions gets c / L dimensions; concatenated they add to the noise embedding.
        self.act_emb = nn.Sequential(ActionEncoder(cfg.action_space, c // cfg.num_steps_conditioning), nn.Flatten())
        self.cond_proj = nn.Sequential(nn.Linear(c, c), nn.SiLU(), nn.Linear(c, c))
        self.conv_in = conv3x3((cfg.num_steps_conditioning + 1) * cfg.img_channels, cfg.channels[0])
        self.unet = UNet(c, list(cfg.depths), list(cfg.channels), list(cfg.attn_depths))
        self.norm_out = GroupNorm(cfg.channels[0])
        self.conv_out = conv3x3(cfg.channels[0], cfg.img_channels)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, noisy_next_obs: Tensor, c_noise: Tensor, obs: Tensor, act: Tensor) -> Tensor:
        """noisy_next_obs (B, C, H, W), c_noise (B,) or (1,), obs (B, L·C, H, W), act (B, L) or (B, L, A) (see ActionEncoder)."""
        cond = self.cond_proj(self.noise_emb(c_noise) + self.act_emb(act))
        x = self.conv_in(torch.cat((obs, noisy_next_obs), dim=1))
        x = self.unet(x, cond)
        return self.conv_out(F.silu(self.norm_out(x)))
