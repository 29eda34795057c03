"""Typed configurations of the models and their training. Defaults equal the paper (spec §4, §6).

Every dataclass has ``validate(where)``; ``from_dict`` and ``replace_path`` call it, so a bad value from a
file, a preset or a ``--set`` flag fails where it is read, naming the field, the value, the allowed range
and the source.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from diamond.errors import UserError
from diamond.spaces import ActionSpace


class ConfigError(UserError, ValueError):
    """A configuration value is missing, unknown or out of range."""


def child(where: str, name: str) -> str:
    """Where a section of a configuration is, for messages: ``--set a.b=1: sampler`` below a source (text with
    spaces: a flag, a file, a preset), then ``...: sampler.net`` below a section; ``config.env`` below a bare name."""
    return f"{where}: {name}" if " " in where and ":" not in where else f"{where}.{name}"


def check(ok: bool, where: str, name: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{where}: {name}={value!r} is invalid; expected {allowed}")


def check_levels(where: str, channels: tuple[int, ...], depths: tuple[int, ...], attn_depths: tuple[bool, ...]) -> None:
    """One width, one depth and one attention flag per level of a residual network."""
    check(len(channels) >= 1, where, "channels", channels, "a non-empty list of widths")
    check(all(c >= 1 for c in channels), where, "channels", channels, "positive widths")
    check(len(depths) == len(channels), where, "depths", depths, f"{len(channels)} entries (one per level of channels)")
    check(all(d >= 1 for d in depths), where, "depths", depths, "entries >= 1")
    check(len(attn_depths) == len(channels), where, "attn_depths", attn_depths, f"{len(channels)} booleans")


def _upgrade_num_actions(data: dict[str, Any]) -> dict[str, Any]:
    """Configs written before action spaces existed hold ``num_actions: n``: a discrete space of n actions."""
    if "num_actions" in data and "action_space" not in data:
        data = dict(data)
        data["action_space"] = {"kind": "discrete", "size": data.pop("num_actions")}
    return data


@dataclass(frozen=True)
class DenoiserNetConfig:
    """The U-Net F of the denoiser (spec §4). Defaults: the paper's Atari network."""

    img_channels: int = 3
    num_steps_conditioning: int = 4
    cond_channels: int = 256
    depths: tuple[int, ...] = (2, 2, 2, 2)
    channels: tuple[int, ...] = (64, 64, 64, 64)
    attn_depths: tuple[bool, ...] = (False, False, False, False)
    action_space: ActionSpace = field(default_factory=ActionSpace)  # set from the environment
    # spec §10: a second Fourier embedding of the context's noise level, added to the first (the engine)
    context_noise_embedding: bool = False
    # spec §10, the upsampler: conditioned on the bicubic upsampling of a new low-resolution frame (one more
    # context frame) instead of actions (no action embedding)
    low_res_conditioning: bool = False

    upgrade = staticmethod(_upgrade_num_actions)

    def validate(self, where: str = "denoiser.net") -> None:
        check(self.img_channels >= 1, where, "img_channels", self.img_channels, "an integer >= 1")
        check(self.num_steps_conditioning >= 1, where, "num_steps_conditioning", self.num_steps_conditioning, ">= 1")
        self.action_space.validate(child(where, "action_space"))
        check(
            self.cond_channels > 0
            and self.cond_channels % 2 == 0
            and self.cond_channels % self.num_steps_conditioning == 0,
            where,
            "cond_channels",
            self.cond_channels,
            f"a positive even multiple of num_steps_conditioning={self.num_steps_conditioning}",
        )
        check_levels(where, self.channels, self.depths, self.attn_depths)


@dataclass(frozen=True)
class SigmaDistributionConfig:
    """Training noise levels: ln σ ~ N(loc, scale²), clipped to [sigma_min, sigma_max] (spec §4)."""

    loc: float = -0.4
    scale: float = 1.2
    sigma_min: float = 2e-3
    sigma_max: float = 20.0

    def validate(self, where: str = "denoiser.sigma_distribution") -> None:
        check(self.scale > 0, where, "scale", self.scale, "> 0")
        check(
            0 < self.sigma_min < self.sigma_max,
            where,
            "sigma_min",
            self.sigma_min,
            f"0 < sigma_min < sigma_max={self.sigma_max}",
        )


# The diffusion formulations a denoiser can follow; ``diamond.models.diffusion.formulations`` maps each
# name to its model class (a test checks that the two agree).
DIFFUSION_FORMULATIONS = ("edm", "ddpm")  # ddpm: the paper's comparison (spec §9)


@dataclass(frozen=True)
class DenoiserConfig:
    """The next-frame denoiser (spec §4): its formulation (EDM, or the DDPM of spec §9), its network and the
    EDM constants (DDPM uses ``sigma_offset_noise`` as its offset noise and ignores the others)."""

    formulation: str = "edm"
    net: DenoiserNetConfig = field(default_factory=DenoiserNetConfig)
    sigma_data: float = 0.5
    sigma_offset_noise: float = 0.3
    sigma_distribution: SigmaDistributionConfig = field(default_factory=SigmaDistributionConfig)
    # spec §10: train with the context frames noised too (σ_cond from sigma_distribution)
    context_noise: bool = False

    def validate(self, where: str = "denoiser") -> None:
        check(
            self.formulation in DIFFUSION_FORMULATIONS,
            where,
            "formulation",
            self.formulation,
            f"one of {list(DIFFUSION_FORMULATIONS)}",
        )
        check(self.sigma_data > 0, where, "sigma_data", self.sigma_data, "> 0")
        check(self.sigma_offset_noise >= 0, where, "sigma_offset_noise", self.sigma_offset_noise, ">= 0")
        self.net.validate(child(where, "net"))
        self.sigma_distribution.validate(child(where, "sigma_distribution"))
        check(
            not self.context_noise or self.net.context_noise_embedding,
            where,
            "context_noise",
            self.context_noise,
            "False unless net.context_noise_embedding is True (the network must see the context's noise level)",
        )


@dataclass(frozen=True)
class SamplerConfig:
    """Sampling of the next frame (spec §4): Karras schedule, Euler by default, Heun and churn optional."""

    num_steps_denoising: int = 3
    sigma_min: float = 2e-3
    sigma_max: float = 5.0
    rho: float = 7.0
    order: int = 1
    s_churn: float = 0.0
    s_tmin: float = 0.0
    s_tmax: float = math.inf
    s_noise: float = 1.0
    s_cond: float = 0.0  # spec §10: σ of the light noise put on the context at every step (0: clean context)

    def validate(self, where: str = "sampler") -> None:
        check(self.num_steps_denoising >= 1, where, "num_steps_denoising", self.num_steps_denoising, "an integer >= 1")
        check(
            0 < self.sigma_min < self.sigma_max,
            where,
            "sigma_min",
            self.sigma_min,
            f"0 < sigma_min < sigma_max={self.sigma_max}",
        )
        check(self.rho > 0, where, "rho", self.rho, "> 0")
        check(self.order in (1, 2), where, "order", self.order, "1 (Euler) or 2 (Heun)")
        check(self.s_churn >= 0, where, "s_churn", self.s_churn, ">= 0")
        check(self.s_noise >= 0, where, "s_noise", self.s_noise, ">= 0")
        check(self.s_cond >= 0, where, "s_cond", self.s_cond, ">= 0")


@dataclass(frozen=True)
class ComputeConfig:
    """How the device computes: opt-in settings, off by default (PyTorch's own defaults, float32 throughout).

    - ``deterministic``: deterministic algorithms only (``torch.use_deterministic_algorithms``; on CUDA also
      cuBLAS's fixed workspace, ``CUBLAS_WORKSPACE_CONFIG=:4096:8``, and cuDNN's deterministic kernels): what
      an exact resume on a GPU needs. An operation with no deterministic kernel then stops the run, naming it;
    - ``tf32``: CUDA matrix products in TF32 too (Ampere and newer; a 10-bit mantissa); PyTorch already lets
      cuDNN's convolutions use TF32;
    - ``cudnn_benchmark``: cuDNN times its convolution algorithms per shape and keeps the fastest (not
      deterministic, so not with ``deterministic``);
    - ``layout``: the memory layout of the trained networks' weights and activations, ``contiguous`` or
      ``channels_last`` (the same arithmetic in another summation order: results differ by rounding only);
      ``auto`` is channels-last for an eager network on a CPU, where oneDNN's convolutions run faster in it
      (measured: the ``cpu`` demo imagines 21% more frames per second), and contiguous for a compiled one and
      on CUDA (not measured there yet);
    - ``precision``: the arithmetic of the training updates, the imagination inside them included:
      ``float32``, or autocast to ``bfloat16`` (or ``float16`` on CUDA, with a loss scaler) around the forward
      passes and losses, the weights, gradients and AdamW states staying float32. Collection and evaluation
      act in float32. float32 by default, the spec's arithmetic: on a CPU without native bfloat16 (AVX-512
      BF16 or AMX) bfloat16 is emulated and far slower; with AVX-512 BF16 it trains the paper-size denoiser
      about 1.9× faster but not the ``cpu`` preset's small networks (README, "Measured numbers"); no GPU has
      measured it yet (``diamond bench`` does);
    - ``compile``: ``torch.compile`` every denoiser network of the run (the world model's; the engine's
      dynamics and upsampler), static shapes: the first training update, held-out evaluation and imagined
      step each compile a graph (about 90 s in all at the ``cpu`` preset's size with inductor's cache cold,
      minutes at the paper size; a C++ compiler is needed on a CPU), later calls run it. The
      reward/termination model and the actor-critic stay eager. Off by default: on the ``cpu`` demo it won
      back 3% of each later epoch, not its compile time (README, "Compilation in a run").
    """

    deterministic: bool = False
    tf32: bool = False
    cudnn_benchmark: bool = False
    layout: str = "auto"
    precision: str = "float32"
    compile: bool = False

    def validate(self, where: str = "compute") -> None:
        from diamond.devices import LAYOUT_CHOICES, PRECISIONS  # torch-backed; configurations stay torch-free

        for name in ("deterministic", "tf32", "cudnn_benchmark", "compile"):
            check(isinstance(getattr(self, name), bool), where, name, getattr(self, name), "true or false")
        check(self.layout in LAYOUT_CHOICES, where, "layout", self.layout, f"one of {', '.join(LAYOUT_CHOICES)}")
        check(self.precision in PRECISIONS, where, "precision", self.precision, f"one of {', '.join(PRECISIONS)}")
        check(
            not (self.deterministic and self.cudnn_benchmark),
            where,
            "cudnn_benchmark",
            True,
            "false with deterministic=true (the fastest algorithm it picks is not deterministic)",
        )


@dataclass(frozen=True)
class OptimizerConfig:
    """AdamW with linear warm-up then a constant rate, and gradient-norm clipping (spec §6)."""

    lr: float = 1e-4
    eps: float = 1e-8
    weight_decay: float = 0.01
    warmup_steps: int = 100
    max_grad_norm: float = 1.0
    fused: bool = False  # AdamW's fused kernel (one kernel for all parameters; CUDA, and the CPU in torch >= 2.4)

    def validate(self, where: str = "optimizer") -> None:
        check(isinstance(self.fused, bool), where, "fused", self.fused, "true or false")
        check(0 < self.lr < 1, where, "lr", self.lr, "0 < lr < 1")
        check(self.eps > 0, where, "eps", self.eps, "> 0")
        check(self.weight_decay >= 0, where, "weight_decay", self.weight_decay, ">= 0")
        check(self.warmup_steps >= 0, where, "warmup_steps", self.warmup_steps, ">= 0")
        check(self.max_grad_norm > 0, where, "max_grad_norm", self.max_grad_norm, "> 0")


@dataclass(frozen=True)
class DenoiserTrainingConfig:
    """How the denoiser is trained: batches of 4 context frames + 2 autoregressive targets (spec §4)."""

    batch_size: int = 32
    num_targets: int = 2
    # Also train on the transition into each episode's final observation. Spec §3 (and the paper's
    # code) never make it a denoiser target; that is harmless where a loss shows on screen before the
    # episode ends (Atari), but where the terminal frame is the only frame showing it (MinAtar: the
    # ball reaches the bottom row in the very step the game ends), imagination would never end.
    final_obs_targets: bool = False
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)

    def validate(self, where: str = "training") -> None:
        check(self.batch_size >= 1, where, "batch_size", self.batch_size, ">= 1")
        check(self.num_targets >= 1, where, "num_targets", self.num_targets, ">= 1")
        self.optimizer.validate(child(where, "optimizer"))


@dataclass(frozen=True)
class RewEndConfig:
    """The reward/termination model (spec §5). Defaults: the paper's Atari network (5.9M parameters)."""

    img_channels: int = 3
    cond_channels: int = 128
    depths: tuple[int, ...] = (2, 2, 2, 2)
    channels: tuple[int, ...] = (32, 32, 32, 32)
    attn_depths: tuple[bool, ...] = (False, False, False, False)
    lstm_dim: int = 512
    action_space: ActionSpace = field(default_factory=ActionSpace)  # set from the environment

    upgrade = staticmethod(_upgrade_num_actions)

    def validate(self, where: str = "rew_end") -> None:
        check(self.img_channels >= 1, where, "img_channels", self.img_channels, "an integer >= 1")
        check(self.cond_channels >= 1, where, "cond_channels", self.cond_channels, ">= 1")
        check(self.lstm_dim >= 1, where, "lstm_dim", self.lstm_dim, ">= 1")
        self.action_space.validate(child(where, "action_space"))
        check_levels(where, self.channels, self.depths, self.attn_depths)


@dataclass(frozen=True)
class ActorCriticConfig:
    """The CNN-LSTM actor-critic (spec §6). Defaults: the paper's network (3.2M parameters)."""

    img_channels: int = 3
    channels: tuple[int, ...] = (32, 32, 64, 64)
    lstm_dim: int = 512
    action_space: ActionSpace = field(default_factory=ActionSpace)  # set from the environment

    upgrade = staticmethod(_upgrade_num_actions)

    def validate(self, where: str = "actor_critic") -> None:
        check(self.img_channels >= 1, where, "img_channels", self.img_channels, "an integer >= 1")
        check(
            len(self.channels) >= 1 and all(c >= 1 for c in self.channels),
            where,
            "channels",
            self.channels,
            "a non-empty list of positive widths",
        )
        check(self.lstm_dim >= 1, where, "lstm_dim", self.lstm_dim, ">= 1")
        self.action_space.validate(child(where, "action_space"))


@dataclass(frozen=True)
class ImaginationConfig:
    """RL in imagination (spec §6): 32 parallel rollouts of 15 steps from real 4-frame contexts."""

    batch_size: int = 32
    horizon: int = 15
    gamma: float = 0.985
    lambda_: float = 0.95
    entropy_weight: float = 0.001
    value_loss_weight: float = 1.0

    def validate(self, where: str = "imagination") -> None:
        check(self.batch_size >= 1, where, "batch_size", self.batch_size, ">= 1")
        check(self.horizon >= 1, where, "horizon", self.horizon, ">= 1")
        check(0 < self.gamma <= 1, where, "gamma", self.gamma, "0 < gamma <= 1")
        check(0 <= self.lambda_ <= 1, where, "lambda_", self.lambda_, "0 <= lambda_ <= 1")
        check(self.entropy_weight >= 0, where, "entropy_weight", self.entropy_weight, ">= 0")
        check(self.value_loss_weight >= 0, where, "value_loss_weight", self.value_loss_weight, ">= 0")


# ---------------------------------------------------------------------------------------------------
# Building configs from plain data (JSON files, presets, --set overrides)


def from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from nested dicts; unknown keys and wrong types are errors naming ``where``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of fields for {cls.__name__}, got {type(data).__name__}")
    if hasattr(cls, "upgrade"):  # an older spelling of the same configuration
        data = cls.upgrade(data)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown} for {cls.__name__}; valid fields: {sorted(fields)}")
    kwargs = {}
    hints = _type_hints(cls)
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, child(where, name))
    obj = cls(**kwargs)
    if hasattr(obj, "validate"):
        obj.validate(where)
    return obj


def to_dict(obj: Any) -> dict[str, Any]:
    """A JSON-serialisable dict of a (nested) config dataclass (infinities spelled "inf")."""
    from diamond.fileio import strict_json_value

    return strict_json_value(dataclasses.asdict(obj))


def replace_path(obj: Any, dotted: str, value: Any, where: str) -> Any:
    """Return a copy of config ``obj`` with the field at ``dotted`` (e.g. 'net.channels') set to ``value``.

    Types are checked here; ranges are checked by the caller's ``validate`` once all changes are made
    (some fields must change together, e.g. channels and depths).
    """
    head, _, rest = dotted.partition(".")
    fields = {f.name for f in dataclasses.fields(obj)}
    if head not in fields:
        raise ConfigError(f"{where}: unknown field {head!r} in {type(obj).__name__}; valid fields: {sorted(fields)}")
    current = getattr(obj, head)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise ConfigError(f"{where}: {head!r} is a value, not a section; cannot set {rest!r} inside it")
        new = replace_path(current, rest, value, where)
    else:
        new = _coerce(_type_hints(type(obj))[head], value, where)
    return dataclasses.replace(obj, **{head: new})


def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if dataclasses.is_dataclass(value):
            return value
        return from_dict(hint, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (inner, *_) = typing.get_args(hint)
        return tuple(_coerce(inner, v, where) for v in value)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:  # a choice between kinds is a string field naming the kind (e.g. denoiser.formulation)
            raise TypeError(f"{where}: config fields may be Optional[X] but not a union of {args}")
        if value is None:
            return None
        return _coerce(args[0], value, where)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str) and value in ("inf", "-inf"):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


@dataclass(frozen=True)
class WorldModelRunConfig:
    """A world-model training run on a fixed dataset: the model, its training, its sampler and the schedule."""

    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    training: DenoiserTrainingConfig = field(default_factory=DenoiserTrainingConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    num_updates: int = 10_000  # spec §1: the first epoch trains the denoiser for 10,000 steps
    eval_every: int = 500
    checkpoint_every: int = 1000
    eval_contexts: int = 64
    seed: int = 0
    compute: ComputeConfig = field(default_factory=ComputeConfig)

    def validate(self, where: str = "config") -> None:
        self.denoiser.validate(child(where, "denoiser"))
        self.training.validate(child(where, "training"))
        self.sampler.validate(child(where, "sampler"))
        self.compute.validate(child(where, "compute"))
        check(self.num_updates >= 1, where, "num_updates", self.num_updates, ">= 1")
        check(self.eval_every >= 1, where, "eval_every", self.eval_every, ">= 1")
        check(self.checkpoint_every >= 1, where, "checkpoint_every", self.checkpoint_every, ">= 1")
        check(self.eval_contexts >= 1, where, "eval_contexts", self.eval_contexts, ">= 1")


# ---------------------------------------------------------------------------------------------------
# The whole agent (spec §1): environment, the three models, their training and the schedule


@dataclass(frozen=True)
class EnvConfig:
    """Where real experience comes from (``diamond.envs.families``). Atari follows the spec §2 protocol;
    MinAtar is for small machines; ``gym`` is any Gymnasium env with discrete actions, seen through its pixels."""

    family: str = "atari"  # a name in diamond.envs.families.FAMILIES
    game: str = "Breakout"
    size: int = 64  # frame side; fixed at 64 for Atari (spec §2)
    num_envs: int = 1  # training envs collecting in parallel
    backend: str = "sync"  # "sync" or "subproc"
    max_episode_steps: int = 0  # MinAtar and gym: truncate episodes after this many steps (0: no limit)

    def validate(self, where: str = "env") -> None:
        from diamond.envs.families import FAMILIES

        check(self.family in FAMILIES, where, "family", self.family, " or ".join(repr(f) for f in FAMILIES))
        check(isinstance(self.game, str) and len(self.game) > 0, where, "game", self.game, "a game name")
        fixed = FAMILIES[self.family].fixed_size
        check(
            fixed is None or self.size == fixed,
            where,
            "size",
            self.size,
            f"{fixed} for {self.family} (its protocol's frame size, spec §2)",
        )
        check(10 <= self.size <= 1024, where, "size", self.size, "10 <= size <= 1024")
        check(self.num_envs >= 1, where, "num_envs", self.num_envs, ">= 1")
        check(self.backend in ("sync", "subproc"), where, "backend", self.backend, "'sync' or 'subproc'")
        check(self.max_episode_steps >= 0, where, "max_episode_steps", self.max_episode_steps, ">= 0 (0: no limit)")


@dataclass(frozen=True)
class RewEndTrainingConfig:
    """Batches of segments for the reward/termination model (spec §5: length 19 = horizon 15 + 4)."""

    batch_size: int = 32
    seq_length: int = 19
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(max_grad_norm=100.0))

    def validate(self, where: str = "rew_end_training") -> None:
        check(self.batch_size >= 1, where, "batch_size", self.batch_size, ">= 1")
        check(self.seq_length >= 1, where, "seq_length", self.seq_length, ">= 1")
        self.optimizer.validate(child(where, "optimizer"))


@dataclass(frozen=True)
class ActorCriticTrainingConfig:
    """The actor-critic's optimiser (spec §6: no weight decay, clipping 100) and imagination."""

    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(weight_decay=0.0, max_grad_norm=100.0))
    imagination: ImaginationConfig = field(default_factory=ImaginationConfig)

    def validate(self, where: str = "actor_critic_training") -> None:
        self.optimizer.validate(child(where, "optimizer"))
        self.imagination.validate(child(where, "imagination"))


@dataclass(frozen=True)
class ScheduleConfig:
    """Algorithm 1's schedule (spec §1). Step counts are agent steps in the training env."""

    total_steps: int = 100_000
    initial_steps: int = 5_000
    initial_steps_max: int = 10_000
    initial_extension: int = 100
    initial_min_rare_rewards: int = 10
    steps_per_epoch: int = 100
    epsilon: float = 0.01
    extra_epochs: int = 50
    denoiser_updates_first: int = 10_000
    rew_end_updates_first: int = 10_000
    actor_critic_updates_first: int = 5_000
    denoiser_updates: int = 400
    rew_end_updates: int = 400
    actor_critic_updates: int = 400
    eval_every: int = 10  # epochs
    eval_episodes: int = 4
    final_episodes: int = 100
    test_env_max_steps: int = 0  # cap on test episodes' agent steps (0: the protocol's own limit)
    random_episodes: int = 0  # also test a uniformly random policy for this many episodes at the end

    def validate(self, where: str = "schedule") -> None:
        for name in ("total_steps", "initial_steps", "initial_steps_max", "steps_per_epoch"):
            check(getattr(self, name) >= 1, where, name, getattr(self, name), ">= 1")
        check(
            self.initial_steps <= self.initial_steps_max,
            where,
            "initial_steps",
            self.initial_steps,
            f"<= initial_steps_max={self.initial_steps_max}",
        )
        check(
            self.initial_steps_max <= self.total_steps,
            where,
            "initial_steps_max",
            self.initial_steps_max,
            f"<= total_steps={self.total_steps}",
        )
        check(self.initial_extension >= 1, where, "initial_extension", self.initial_extension, ">= 1")
        check(
            self.initial_min_rare_rewards >= 0, where, "initial_min_rare_rewards", self.initial_min_rare_rewards, ">= 0"
        )
        check(0 <= self.epsilon <= 1, where, "epsilon", self.epsilon, "a probability in [0, 1]")
        for name in (
            "extra_epochs",
            "denoiser_updates_first",
            "rew_end_updates_first",
            "actor_critic_updates_first",
            "denoiser_updates",
            "rew_end_updates",
            "actor_critic_updates",
            "test_env_max_steps",
            "random_episodes",
        ):
            check(getattr(self, name) >= 0, where, name, getattr(self, name), ">= 0")
        check(self.eval_every >= 1, where, "eval_every", self.eval_every, ">= 1 (epochs)")
        check(self.eval_episodes >= 1, where, "eval_episodes", self.eval_episodes, ">= 1")
        check(self.final_episodes >= 1, where, "final_episodes", self.final_episodes, ">= 1")


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``diamond train`` needs. Defaults: the paper's Atari 100k configuration."""

    env: EnvConfig = field(default_factory=EnvConfig)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    denoiser_training: DenoiserTrainingConfig = field(default_factory=DenoiserTrainingConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    rew_end: RewEndConfig = field(default_factory=RewEndConfig)
    rew_end_training: RewEndTrainingConfig = field(default_factory=RewEndTrainingConfig)
    actor_critic: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    actor_critic_training: ActorCriticTrainingConfig = field(default_factory=ActorCriticTrainingConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    model_free: bool = False  # train the actor-critic on real rollouts instead of imagination
    seed: int = 0
    compute: ComputeConfig = field(default_factory=ComputeConfig)

    def validate(self, where: str = "config") -> None:
        self.env.validate(child(where, "env"))
        self.compute.validate(child(where, "compute"))
        self.denoiser.validate(child(where, "denoiser"))
        self.denoiser_training.validate(child(where, "denoiser_training"))
        self.sampler.validate(child(where, "sampler"))
        self.rew_end.validate(child(where, "rew_end"))
        self.rew_end_training.validate(child(where, "rew_end_training"))
        self.actor_critic.validate(child(where, "actor_critic"))
        self.actor_critic_training.validate(child(where, "actor_critic_training"))
        self.schedule.validate(child(where, "schedule"))
        check(isinstance(self.model_free, bool), where, "model_free", self.model_free, "true or false")
        check(0 <= self.seed < 2**32, where, "seed", self.seed, "an integer in [0, 2**32)")
        k = self.denoiser.net.num_steps_conditioning
        check(
            self.rew_end_training.seq_length > 1,
            where,
            "rew_end_training.seq_length",
            self.rew_end_training.seq_length,
            "> 1",
        )
        check(k >= 2, where, "denoiser.net.num_steps_conditioning", k, ">= 2 (imagination burns in on the context)")
