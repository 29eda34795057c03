"""The neural game engine's configuration (spec §10): the dynamics denoiser, the ×5 upsampler, how each
is trained on a static dataset, and the two sampling settings. Defaults are the paper's CS:GO engine."""

from __future__ import annotations

from dataclasses import dataclass, field

from diamond.configs.schema import (
    ComputeConfig,
    DenoiserConfig,
    DenoiserNetConfig,
    OptimizerConfig,
    SamplerConfig,
    SigmaDistributionConfig,
    check,
    child,
)
from diamond.fps_actions import csgo_action_space
from diamond.spaces import ActionSpace

# spec §10: training noise levels ln σ ~ N(−1.2, 1.2²) clipped to [0.002, 20], for the context too
ENGINE_SIGMAS = SigmaDistributionConfig(loc=-1.2, scale=1.2, sigma_min=2e-3, sigma_max=20.0)
ENGINE_OFFSET_NOISE = 0.1
CONTEXT_NOISE_AT_SAMPLING = 0.005  # spec §10: σ_cond of the light context noise at every sampling step


def dynamics_denoiser(
    channels: tuple[int, ...] = (128, 256, 512, 1024),
    depths: tuple[int, ...] = (2, 2, 2, 2),
    attn_depths: tuple[bool, ...] = (False, False, True, True),
    cond_channels: int = 2048,
    action_space: ActionSpace | None = None,
    num_steps_conditioning: int = 4,
) -> DenoiserConfig:
    """The dynamics model (spec §10; defaults: the paper's 330.5M-parameter network) at low resolution."""
    net = DenoiserNetConfig(
        img_channels=3,
        num_steps_conditioning=num_steps_conditioning,
        cond_channels=cond_channels,
        depths=depths,
        channels=channels,
        attn_depths=attn_depths,
        action_space=action_space if action_space is not None else csgo_action_space(),
        context_noise_embedding=True,
    )
    return DenoiserConfig(
        net=net, sigma_offset_noise=ENGINE_OFFSET_NOISE, sigma_distribution=ENGINE_SIGMAS, context_noise=True
    )


def upsampler_denoiser(
    channels: tuple[int, ...] = (64, 64, 128, 256),
    depths: tuple[int, ...] = (2, 2, 2, 2),
    attn_depths: tuple[bool, ...] = (False, False, False, True),
    cond_channels: int = 2048,
) -> DenoiserConfig:
    """The upsampler (spec §10; defaults: the paper's 51.1M-parameter network): one previous full-resolution
    frame and the bicubic frame as context, no actions, clean context (the embedding of σ_cond still exists)."""
    net = DenoiserNetConfig(
        img_channels=3,
        num_steps_conditioning=1,
        cond_channels=cond_channels,
        depths=depths,
        channels=channels,
        attn_depths=attn_depths,
        context_noise_embedding=True,
        low_res_conditioning=True,
    )
    return DenoiserConfig(net=net, sigma_offset_noise=ENGINE_OFFSET_NOISE, sigma_distribution=ENGINE_SIGMAS)


@dataclass(frozen=True)
class EngineSamplingConfig:
    """One sampling setting of the engine: how the dynamics model and the upsampler each sample."""

    dynamics: SamplerConfig = field(
        default_factory=lambda: SamplerConfig(num_steps_denoising=3, s_cond=CONTEXT_NOISE_AT_SAMPLING)
    )
    upsampler: SamplerConfig = field(default_factory=lambda: upsampler_sampler(10, order=1))

    def validate(self, where: str = "sampling") -> None:
        self.dynamics.validate(child(where, "dynamics"))
        self.upsampler.validate(child(where, "upsampler"))


def upsampler_sampler(num_steps: int, order: int) -> SamplerConfig:
    """spec §10: stochastic Euler from σ 5 down to σ 1 (ρ 7), s_churn 10 over σ ∈ [1, 5], s_noise 0.9."""
    return SamplerConfig(
        num_steps_denoising=num_steps, sigma_min=1.0, sigma_max=5.0, rho=7.0, order=order,
        s_churn=10.0, s_tmin=1.0, s_tmax=5.0, s_noise=0.9,
    )  # fmt: skip


def higher_quality_sampling() -> EngineSamplingConfig:
    """spec §10 "higher quality": dynamics 3 Euler steps + upsampler 10 stochastic Euler steps."""
    return EngineSamplingConfig()


def fast_sampling() -> EngineSamplingConfig:
    """spec §10 "fast": 1 Euler step + 1 upsampler step (the reference's Heun step, Euler as σ_next = 0)."""
    return EngineSamplingConfig(
        dynamics=SamplerConfig(num_steps_denoising=1, s_cond=CONTEXT_NOISE_AT_SAMPLING),
        upsampler=upsampler_sampler(1, order=2),
    )


SAMPLING_SETTINGS = ("fast", "higher_quality")


@dataclass(frozen=True)
class EngineComponentTrainingConfig:
    """How one of the engine's networks trains on the static dataset (spec §10)."""

    batch_size: int = 16
    grad_accumulation: int = 8  # micro-batches per update
    num_targets: int = 4  # autoregressive training steps
    updates_per_epoch: int = 400
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(max_grad_norm=10.0))

    def validate(self, where: str = "training") -> None:
        check(self.batch_size >= 1, where, "batch_size", self.batch_size, ">= 1")
        check(self.grad_accumulation >= 1, where, "grad_accumulation", self.grad_accumulation, ">= 1")
        check(self.num_targets >= 1, where, "num_targets", self.num_targets, ">= 1")
        check(self.updates_per_epoch >= 1, where, "updates_per_epoch", self.updates_per_epoch, ">= 1")
        self.optimizer.validate(child(where, "optimizer"))


@dataclass(frozen=True)
class EngineConfig:
    """The engine and its training (spec §10; defaults: the paper's CS:GO configuration)."""

    dynamics: DenoiserConfig = field(default_factory=dynamics_denoiser)
    upsampler: DenoiserConfig = field(default_factory=upsampler_denoiser)
    dynamics_training: EngineComponentTrainingConfig = field(default_factory=EngineComponentTrainingConfig)
    upsampler_training: EngineComponentTrainingConfig = field(
        default_factory=lambda: EngineComponentTrainingConfig(batch_size=4, num_targets=1)
    )
    num_epochs: int = 600
    fast: EngineSamplingConfig = field(default_factory=fast_sampling)
    higher_quality: EngineSamplingConfig = field(default_factory=higher_quality_sampling)
    eval_every: int = 10  # epochs
    eval_contexts: int = 32  # held-out contexts for the one-step metrics
    rollout_horizon: int = 50  # imagined steps in the held-out rollouts
    seed: int = 0
    compute: ComputeConfig = field(default_factory=ComputeConfig)

    def sampling(self, setting: str) -> EngineSamplingConfig:
        if setting not in SAMPLING_SETTINGS:
            raise ValueError(f"sampling setting {setting!r} is unknown; choose one of {list(SAMPLING_SETTINGS)}")
        return self.fast if setting == "fast" else self.higher_quality

    def validate(self, where: str = "engine config") -> None:
        self.compute.validate(child(where, "compute"))
        self.dynamics.validate(child(where, "dynamics"))
        self.upsampler.validate(child(where, "upsampler"))
        check(self.upsampler.net.low_res_conditioning, where, "upsampler.net.low_res_conditioning", False, "True")
        check(not self.dynamics.net.low_res_conditioning, where, "dynamics.net.low_res_conditioning", True, "False")
        self.dynamics_training.validate(child(where, "dynamics_training"))
        self.upsampler_training.validate(child(where, "upsampler_training"))
        check(self.num_epochs >= 1, where, "num_epochs", self.num_epochs, ">= 1")
        check(self.eval_every >= 1, where, "eval_every", self.eval_every, ">= 1")
        check(self.eval_contexts >= 1, where, "eval_contexts", self.eval_contexts, ">= 1")
        check(self.rollout_horizon >= 1, where, "rollout_horizon", self.rollout_horizon, ">= 1")
        self.fast.validate(child(where, "fast"))
        self.higher_quality.validate(child(where, "higher_quality"))
        for setting in SAMPLING_SETTINGS:  # a context noised at sampling must be one the model trained on
            s_cond = self.sampling(setting).dynamics.s_cond
            check(
                self.dynamics.context_noise or s_cond == 0,
                where,
                f"{setting}.dynamics.s_cond",
                s_cond,
                "0 when dynamics.context_noise is False (the model never saw a noised context in training)",
            )
