"""The two studies' settings as typed configurations, and their presets (``paper``, ``cpu``, ``tiny``).

A study trains world models with a world-model preset (``diamond.configs.presets.WORLD_MODEL_PRESETS``) plus
overrides, on data collected by a game's scripted expert (``diamond.envs.experts``); everything else it
does is set here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diamond.configs.schema import ConfigError


@dataclass(frozen=True)
class StudyData:
    """The expert dataset: a training and a held-out store of whole games (lives do not end episodes)."""

    game: str
    train_steps: int = 100_000  # the paper's 100k frames
    test_steps: int = 10_000
    epsilon: float = 0.0  # probability of a uniform action instead of the expert's
    seed: int = 0


@dataclass(frozen=True)
class StudyModels:
    """How each compared world model is built and trained: one preset, one set of overrides, one budget."""

    preset: str = "paper"  # a world-model preset
    overrides: tuple[str, ...] = ()
    num_updates: int = 50_000


@dataclass(frozen=True)
class CompoundingErrorConfig:
    """Figure 3, appendix K: EDM and DDPM trained alike, imagining from the same contexts with the same actions."""

    data: StudyData = field(default_factory=lambda: StudyData("Breakout"))
    models: StudyModels = field(default_factory=StudyModels)
    denoising_steps: tuple[int, ...] = (1, 2, 3, 5, 10)
    rollouts: int = 8  # held-out starting contexts, imagined together
    horizon: int = 1000  # imagined steps
    grid_steps: tuple[int, ...] = (1, 10, 50, 100, 200, 500, 1000)  # the figure's columns (those <= horizon)
    bank_frames: int = 20_000  # real training frames the drift measure compares with
    feature_size: int = 16  # frames are compared at feature_size × feature_size

    def validate(self, where: str) -> None:
        _validate_common(self.data, self.models, self.denoising_steps, where)
        for name in ("rollouts", "horizon", "bank_frames", "feature_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{where}: {name}={getattr(self, name)}; expected an integer >= 1")


@dataclass(frozen=True)
class DenoisingStepsConfig:
    """Figure 4, appendix L: one EDM model sampled with 1, 3 and more steps on Boxing."""

    data: StudyData = field(default_factory=lambda: StudyData("Boxing"))
    models: StudyModels = field(default_factory=StudyModels)
    denoising_steps: tuple[int, ...] = (1, 2, 3, 5)
    contexts: int = 256  # held-out contexts of the one-step sharpness measure
    examples: int = 4  # of which the figure shows this many
    rollout_steps: int = 12  # imagined steps shown per number of denoising steps

    def validate(self, where: str) -> None:
        _validate_common(self.data, self.models, self.denoising_steps, where)
        for name in ("contexts", "examples", "rollout_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{where}: {name}={getattr(self, name)}; expected an integer >= 1")
        if self.examples > self.contexts:
            raise ConfigError(f"{where}: examples={self.examples} > contexts={self.contexts}")


def _validate_common(data: StudyData, models: StudyModels, steps: tuple[int, ...], where: str) -> None:
    if not steps or any(n < 1 for n in steps) or len(set(steps)) != len(steps):
        raise ConfigError(f"{where}: denoising_steps={steps}; expected distinct integers >= 1")
    if data.train_steps < 1 or data.test_steps < 1 or models.num_updates < 1:
        raise ConfigError(
            f"{where}: train_steps={data.train_steps}, test_steps={data.test_steps} and "
            f"num_updates={models.num_updates} must all be >= 1"
        )


# The CPU network of both studies: the paper's U-Net at 16 channels per level, one block each, no attention
# (0.19M parameters). On two cores one sampling call at batch 4 took 65 ms against 120 ms for the world-model
# `cpu` preset's network (same run, same machine); its training speed is not measured yet.
_CPU_NET = (
    "denoiser.net.channels=[16, 16, 16, 16]",
    "denoiser.net.cond_channels=64",
    "denoiser.net.depths=[1, 1, 1, 1]",
    "training.batch_size=8",
    "training.optimizer.lr=1e-3",
    "eval_every=500",
    "checkpoint_every=250",
    "eval_contexts=32",
)
_TINY_NET = ("eval_every=2", "checkpoint_every=2", "eval_contexts=2")

COMPOUNDING_ERROR_PRESETS: dict[str, CompoundingErrorConfig] = {
    "paper": CompoundingErrorConfig(),
    "cpu": CompoundingErrorConfig(
        data=StudyData("Breakout", train_steps=20_000, test_steps=3_000),
        models=StudyModels("paper", _CPU_NET, num_updates=4_000),
        rollouts=4,
        horizon=150,
        grid_steps=(1, 5, 10, 25, 50, 100, 150),
        bank_frames=10_000,
    ),
    "tiny": CompoundingErrorConfig(
        data=StudyData("Breakout", train_steps=300, test_steps=200),
        models=StudyModels("tiny", _TINY_NET, num_updates=4),
        denoising_steps=(1, 2),
        rollouts=2,
        horizon=6,
        grid_steps=(1, 3, 6),
        bank_frames=200,
    ),
}

DENOISING_STEPS_PRESETS: dict[str, DenoisingStepsConfig] = {
    "paper": DenoisingStepsConfig(),
    "cpu": DenoisingStepsConfig(
        data=StudyData("Boxing", train_steps=20_000, test_steps=3_000),
        models=StudyModels("paper", _CPU_NET, num_updates=4_000),
        contexts=128,
    ),
    "tiny": DenoisingStepsConfig(
        data=StudyData("Boxing", train_steps=300, test_steps=200),
        models=StudyModels("tiny", _TINY_NET, num_updates=4),
        denoising_steps=(1, 3),
        contexts=4,
        examples=2,
        rollout_steps=3,
    ),
}
