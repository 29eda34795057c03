"""F, the network inside the EDM denoiser (spec §4): frame stacking and action conditioning by AdaGN."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from diamond.configs.schema import DenoiserConfig, DenoiserNetConfig
from diamond.models.action_encoder import ActionEncoder
from diamond.models.blocks import FourierFeatures, GroupNorm, conv3x3
from diamond.models.diffusion.unet import UNet
from diamond.spaces import ActionSpace


def context_frames(cfg: DenoiserNetConfig) -> int:
    """How many frames the network reads besides the noisy one: L past frames, plus the bicubic
    upsampling of the new low-resolution frame for an upsampler (spec §10)."""
    return cfg.num_steps_conditioning + (1 if cfg.low_res_conditioning else 0)


class DenoiserNetwork(nn.Module):
    """F(c_in · x^σ, c_noise, context frames / σ_data, context actions[, c_noise_cond]) → preconditioned output."""

    def __init__(self, cfg: DenoiserNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.cond_channels
        self.noise_emb = FourierFeatures(c)
        # spec §10: the context's noise level has its own embedding, added to the first
        self.noise_cond_emb = FourierFeatures(c) if cfg.context_noise_embedding else None
        # Each of the L context actions gets c / L dimensions; concatenated they add to the noise embedding.
        # An upsampler is conditioned on a low-resolution frame instead, and has no action embedding.
        self.act_emb = (
            None
            if cfg.low_res_conditioning
            else nn.Sequential(ActionEncoder(cfg.action_space, c // cfg.num_steps_conditioning), nn.Flatten())
        )
        self.cond_proj = nn.Sequential(nn.Linear(c, c), nn.SiLU(), nn.Linear(c, c))
        self.conv_in = conv3x3((context_frames(cfg) + 1) * cfg.img_channels, cfg.channels[0])
        self.unet = UNet(c, list(cfg.depths), list(cfg.channels), list(cfg.attn_depths))
        self.norm_out = GroupNorm(cfg.channels[0])
        self.conv_out = conv3x3(cfg.channels[0], cfg.img_channels)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(
        self,
        noisy_next_obs: Tensor,
        c_noise: Tensor,
        obs: Tensor,
        act: Tensor | None,
        c_noise_cond: Tensor | None = None,
    ) -> Tensor:
        """noisy_next_obs (B, C, H, W), c_noise (B,) or (1,), obs (B, L·C, H, W) (an upsampler: (B, (L+1)·C, H, W),
        the bicubic frame last), act (B, L) or (B, L, A) (see ActionEncoder; None for an upsampler), c_noise_cond
        (B,): the context's noise level, None for a clean context (its embedding input is then 0, spec §10)."""
        emb = self.noise_emb(c_noise)
        if self.noise_cond_emb is not None:
            emb = emb + self.noise_cond_emb(c_noise_cond if c_noise_cond is not None else torch.zeros_like(c_noise))
        if self.act_emb is not None:
            emb = emb + self.act_emb(act)
        cond = self.cond_proj(emb)
        x = self.conv_in(torch.cat((obs, noisy_next_obs), dim=1))
        x = self.unet(x, cond)
        return self.conv_out(F.silu(self.norm_out(x)))


class NextFrameModel(nn.Module):
    """What a next-frame model of any formulation shares: its configuration, one ``DenoiserNetwork`` under
    the attribute the authors' checkpoints name (``NETWORK``), and the properties the players and the
    world-model environment read."""

    NETWORK = "inner_model"

    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.add_module(self.NETWORK, DenoiserNetwork(cfg.net))

    @property
    def network(self) -> DenoiserNetwork:
        return getattr(self, self.NETWORK)

    @property
    def device(self) -> torch.device:
        return self.network.conv_in.weight.device

    @property
    def context_length(self) -> int:
        return self.cfg.net.num_steps_conditioning

    @property
    def action_space(self) -> ActionSpace:
        return self.cfg.net.action_space
