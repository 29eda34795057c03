"""The seam between a diffusion formulation and everything that uses a next-frame denoiser.

The world-model environment, training, evaluation, the bench and the players depend on the
``NextFrameDenoiser`` protocol below, never on a concrete class; ``make_denoiser`` builds the class that
``DenoiserConfig.formulation`` names. EDM (spec §4) is the paper's formulation; the DDPM variant of the
paper's comparison (spec §9, ``ddpm.py``) is one more module implementing the protocol and one more entry
in ``FORMULATIONS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from diamond.configs.schema import ConfigError, DenoiserConfig, SamplerConfig
from diamond.models.diffusion.ddpm import DdpmDenoiser
from diamond.models.diffusion.denoiser import Denoiser
from diamond.spaces import ActionSpace


@runtime_checkable
class NextFrameDenoiser(Protocol):
    """A denoiser of the next frame given L context frames and actions (an ``nn.Module``)."""

    cfg: DenoiserConfig

    @property
    def context_length(self) -> int: ...  # L, the frames (and actions) it conditions on

    @property
    def action_space(self) -> ActionSpace: ...

    @property
    def device(self) -> torch.device: ...

    def loss(
        self,
        obs: Tensor,
        act: Tensor,
        mask: Tensor,
        generator: torch.Generator | None = None,
        normaliser: Callable[[Tensor], Tensor] | None = None,
    ) -> Tensor:
        """The training loss on segments of L context frames followed by targets, frames in [-1, 1]:
        obs (B, L + K, C, H, W), act (B, L + K[, A]), mask (B, L + K) True on real steps."""
        ...

    def sample_next_obs(
        self,
        obs: Tensor,
        act: Tensor,
        sampler: SamplerConfig,
        x_init: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, list[Tensor]]:
        """The next frame (B, C, H, W) in [-1, 1] given obs (B, L, C, H, W) and act (B, L[, A]), and the
        sampler's trajectory."""
        ...


FORMULATIONS: dict[str, type[nn.Module]] = {"edm": Denoiser, "ddpm": DdpmDenoiser}


def make_denoiser(cfg: DenoiserConfig) -> NextFrameDenoiser:
    """The denoiser of the formulation ``cfg.formulation`` names."""
    if cfg.formulation not in FORMULATIONS:
        raise ConfigError(f"denoiser.formulation={cfg.formulation!r} is unknown; choose one of {sorted(FORMULATIONS)}")
    return FORMULATIONS[cfg.formulation](cfg)  # type: ignore[return-value]


def slide(window: Tensor, new: Tensor) -> Tensor:
    """The context window (B, L, ...) moved on by one step: the oldest entry out, ``new`` (B, ...) in."""
    return torch.cat((window[:, 1:], new[:, None]), dim=1)
