"""The neural game engine (spec §10): the dynamics denoiser predicts the next low-resolution frame from
the last L frames and actions, the upsampler turns it into a full-resolution frame conditioned on the
previous full-resolution frame. One ``step`` is one frame of play."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from diamond.configs.engine import EngineConfig, EngineSamplingConfig
from diamond.devices import autocast
from diamond.models.diffusion.denoiser import Denoiser
from diamond.models.diffusion.formulations import slide
from diamond.models.diffusion.upsampler import Upsampler


@dataclass
class EngineState:
    """What the engine needs to make the next frame: (B, L, C, h, w) low-resolution frames, their (B, L, A)
    actions with the last entry the action being taken now, and (B, Lu, C, H, W) full-resolution frames."""

    low_res: Tensor
    act: Tensor
    full_res: Tensor


class Engine(nn.Module):
    def __init__(self, cfg: EngineConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.dynamics = Denoiser(cfg.dynamics)
        self.upsampler = Upsampler(cfg.upsampler)
        # the arithmetic of ``step`` (``devices.PRECISIONS``): float32, or autocast around both models with the
        # weights as they are; frames come out in float32 either way
        self.precision = "float32"

    @property
    def device(self) -> torch.device:
        return self.dynamics.device

    @torch.no_grad()
    def step(
        self, state: EngineState, setting: EngineSamplingConfig, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """The next (B, C, h, w) low-resolution and (B, C, H, W) full-resolution frames, in [-1, 1], computed in
        ``self.precision``."""
        with autocast(self.device, self.precision):
            low, _ = self.dynamics.sample_next_obs(state.low_res, state.act, setting.dynamics, generator=generator)
            full, _ = self.upsampler.upsample(state.full_res, low.float(), setting.upsampler, generator=generator)
        return low.float(), full.float()

    @staticmethod
    def advance(state: EngineState, low: Tensor, full: Tensor, next_act: Tensor) -> EngineState:
        """The state after a step: the new frames in, the oldest out, ``next_act`` (B, A) the next action."""
        return EngineState(slide(state.low_res, low), slide(state.act, next_act), slide(state.full_res, full))
