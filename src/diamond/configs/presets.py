"""Named presets: overrides of the paper defaults, as data. ``paper`` is the spec itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diamond.configs.engine import EngineConfig
from diamond.configs.schema import ConfigError, TrainConfig, WorldModelRunConfig, from_dict, replace_path, to_dict

WORLD_MODEL_PRESETS: dict[str, dict[str, Any]] = {
    # The paper's Atari denoiser and training (spec §4, §6): 4.4M parameters, batch 32.
    "paper": {},
    # Sized for two CPU cores: about 0.75M parameters, still the paper's architecture and EDM recipe.
    # Small batches and a higher learning rate: on a CPU, many cheap updates learn the dynamics sooner
    # (Breakout, 28 min: 2,840 updates of batch 8 at 1e-3 beat 1,062 of batch 16 at 3e-4 in 20 min).
    "cpu": {
        "denoiser.net.cond_channels": 128,
        "denoiser.net.channels": [32, 32, 32, 32],
        "denoiser.net.depths": [1, 1, 1, 1],
        "training.batch_size": 8,
        "training.optimizer.lr": 1e-3,
        "num_updates": 20_000,
        "eval_every": 500,
        "checkpoint_every": 500,
        "eval_contexts": 64,
    },
    # For tests: seconds per run.
    "tiny": {
        "denoiser.net.cond_channels": 16,
        "denoiser.net.channels": [8, 8],
        "denoiser.net.depths": [1, 1],
        "denoiser.net.attn_depths": [False, False],
        "training.batch_size": 4,
        "training.optimizer.warmup_steps": 2,
        "num_updates": 6,
        "eval_every": 3,
        "checkpoint_every": 3,
        "eval_contexts": 4,
    },
}


# Presets of the whole agent (``diamond train``).
TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    # The paper's Atari 100k configuration (spec §1-6); pick the game with --game.
    "paper": {},
    # The README's main command: an agent that learns on two CPU cores in under 30 minutes.
    # MinAtar Breakout drawn at 10×10 (one pixel per cell): on two cores, the 64×64 Atari networks imagine too
    # few frames per second for the actor-critic to learn anything within the hour (see the README).
    # Same algorithm, smaller networks, fewer steps; the spec's 100 final test episodes, and as many of a
    # uniformly random policy to compare with (seconds of a run). Every other value is the paper's, except that
    # the denoiser also learns the transition into each episode's final frame: in MinAtar a lost ball shows
    # only in the terminal frame, so without it imagined episodes would (almost) never end; and that each
    # actor-critic update imagines 128 rollouts, not 32 (11 updates an epoch, not 22: twice the imagined
    # frames at 1.8x the frames per second), under which Space Invaders beats random at every seed tried.
    "cpu": {
        "env.family": "minatar",
        "env.game": "breakout",
        "env.size": 10,
        "denoiser.net.cond_channels": 48,
        "denoiser.net.channels": [24, 24],
        "denoiser.net.depths": [1, 1],
        "denoiser.net.attn_depths": [False, False],
        "denoiser_training.optimizer.lr": 1e-3,
        "denoiser_training.final_obs_targets": True,
        "rew_end.cond_channels": 32,
        "rew_end.channels": [16, 16],
        "rew_end.depths": [1, 1],
        "rew_end.attn_depths": [False, False],
        "rew_end.lstm_dim": 64,
        "rew_end_training.optimizer.lr": 1e-3,
        "actor_critic.channels": [16, 32],
        "actor_critic.lstm_dim": 64,
        "actor_critic_training.optimizer.lr": 1e-3,
        "actor_critic_training.imagination.batch_size": 128,
        "schedule.total_steps": 10_000,
        "schedule.initial_steps": 2_000,
        "schedule.initial_steps_max": 3_000,
        "schedule.steps_per_epoch": 200,
        "schedule.denoiser_updates_first": 300,
        "schedule.rew_end_updates_first": 300,
        "schedule.actor_critic_updates_first": 30,
        "schedule.denoiser_updates": 25,
        "schedule.rew_end_updates": 25,
        "schedule.actor_critic_updates": 11,
        "schedule.extra_epochs": 4,
        "schedule.eval_every": 10,
        "schedule.eval_episodes": 8,
        "schedule.random_episodes": 100,
        # a safety net for policies that never lose; room for the 7 episodes (100 over 16 envs) of MinAtar
        # Freeway, whose every episode lasts about 2,500 steps
        "schedule.test_env_max_steps": 20_000,
    },
    # For tests: seconds per run.
    "tiny": {
        "env.family": "minatar",
        "env.game": "breakout",
        "env.size": 12,
        "denoiser.net.cond_channels": 16,
        "denoiser.net.channels": [8, 8],
        "denoiser.net.depths": [1, 1],
        "denoiser.net.attn_depths": [False, False],
        "denoiser_training.batch_size": 4,
        "rew_end.cond_channels": 8,
        "rew_end.channels": [8, 8],
        "rew_end.depths": [1, 1],
        "rew_end.attn_depths": [False, False],
        "rew_end.lstm_dim": 16,
        "rew_end_training.batch_size": 4,
        "rew_end_training.seq_length": 6,
        "actor_critic.channels": [8, 8],
        "actor_critic.lstm_dim": 16,
        "actor_critic_training.imagination.batch_size": 4,
        "actor_critic_training.imagination.horizon": 3,
        "schedule.total_steps": 300,
        "schedule.initial_steps": 100,
        "schedule.initial_steps_max": 150,
        "schedule.initial_extension": 25,
        "schedule.steps_per_epoch": 50,
        "schedule.denoiser_updates_first": 3,
        "schedule.rew_end_updates_first": 3,
        "schedule.actor_critic_updates_first": 3,
        "schedule.denoiser_updates": 2,
        "schedule.rew_end_updates": 2,
        "schedule.actor_critic_updates": 2,
        "schedule.extra_epochs": 1,
        "schedule.eval_every": 2,
        "schedule.eval_episodes": 2,
        "schedule.final_episodes": 3,
        "schedule.test_env_max_steps": 200,
    },
}


# Presets of the neural game engine (``diamond train-engine``, spec §10).
ENGINE_PRESETS: dict[str, dict[str, Any]] = {
    # The paper's CS:GO engine: 330.5M + 51.1M parameters, batch 16 × 8 and 4 × 8, 600 epochs of 400 updates.
    "csgo": {},
    # Sized for two CPU cores and under an hour: the paper's architecture and sampling at 1.5M + 0.4M
    # parameters (one block a level), with three changes that an hour of training needs, each measured on
    # the ViZDoom dataset (README, "An engine trained on ViZDoom"):
    # - no context-noise augmentation (and so no context noise at sampling): with it, the small model
    #   learns for a long time to predict a blur of the scene; without it, sharp frames come within minutes;
    # - one training target of batch 16 instead of 4 autoregressive ones of 8 (the same frames per second,
    #   more independent segments per update);
    # - the upsampler trained on the noise levels at which it samples (σ 5 down to 1): ln σ ~ N(0.8, 0.8²)
    #   instead of N(−1.2, 1.2²), under which 3% of updates would see σ > 3;
    # and, as the Atari CPU preset, a higher learning rate, no gradient accumulation. One epoch is about
    # 46 s on two cores (100 dynamics updates, 25 upsampler updates); 70 epochs, evaluated at the end.
    "cpu": {
        "dynamics.net.channels": [32, 32, 64, 64],
        "dynamics.net.depths": [1, 1, 1, 1],
        "dynamics.net.cond_channels": 128,
        "dynamics.context_noise": False,
        "fast.dynamics.s_cond": 0.0,
        "higher_quality.dynamics.s_cond": 0.0,
        "upsampler.net.channels": [16, 16, 32, 32],
        "upsampler.net.depths": [1, 1, 1, 1],
        "upsampler.net.cond_channels": 64,
        "upsampler.sigma_distribution.loc": 0.8,
        "upsampler.sigma_distribution.scale": 0.8,
        "dynamics_training.batch_size": 16,
        "dynamics_training.grad_accumulation": 1,
        "dynamics_training.num_targets": 1,
        "dynamics_training.updates_per_epoch": 100,
        "dynamics_training.optimizer.lr": 1e-3,
        "upsampler_training.grad_accumulation": 1,
        "upsampler_training.updates_per_epoch": 25,
        "upsampler_training.optimizer.lr": 1e-3,
        "num_epochs": 70,
        "eval_every": 70,
    },
    # For tests: seconds per run.
    "tiny": {
        "dynamics.net.channels": [8, 8],
        "dynamics.net.depths": [1, 1],
        "dynamics.net.attn_depths": [False, True],
        "dynamics.net.cond_channels": 16,
        # four levels: the U-Net's middle attention then sees 19×35 positions of a 150×280 frame, not 75×140
        "upsampler.net.channels": [8, 8, 8, 8],
        "upsampler.net.depths": [1, 1, 1, 1],
        "upsampler.net.attn_depths": [False, False, False, False],
        "upsampler.net.cond_channels": 8,
        "dynamics_training.batch_size": 2,
        "dynamics_training.grad_accumulation": 2,
        "dynamics_training.num_targets": 2,
        "dynamics_training.updates_per_epoch": 2,
        "dynamics_training.optimizer.warmup_steps": 2,
        "upsampler_training.batch_size": 2,
        "upsampler_training.grad_accumulation": 1,
        "upsampler_training.updates_per_epoch": 2,
        "upsampler_training.optimizer.warmup_steps": 2,
        "num_epochs": 3,
        "eval_every": 2,
        "eval_contexts": 2,
        "rollout_horizon": 3,
    },
}


def engine_config(
    preset: str = "csgo", config_file: str | Path | None = None, overrides: list[str] | None = None
) -> EngineConfig:
    """Resolve preset → config file → ``key=value`` overrides for ``diamond train-engine``."""
    return resolve_config(EngineConfig, ENGINE_PRESETS, preset, config_file, overrides)


def world_model_config(
    preset: str = "paper", config_file: str | Path | None = None, overrides: list[str] | None = None
) -> WorldModelRunConfig:
    """Resolve preset → config file → ``key=value`` overrides for ``diamond train-world-model``."""
    return resolve_config(WorldModelRunConfig, WORLD_MODEL_PRESETS, preset, config_file, overrides)


def train_config(
    preset: str = "paper", config_file: str | Path | None = None, overrides: list[str] | None = None
) -> TrainConfig:
    """Resolve preset → config file → ``key=value`` overrides for ``diamond train``."""
    return resolve_config(TrainConfig, TRAIN_PRESETS, preset, config_file, overrides)


def resolve_config(
    cls: type,
    presets: dict[str, dict[str, Any]],
    preset: str,
    config_file: str | Path | None,
    overrides: list[str] | None,
) -> Any:
    """Preset → config file → ``key=value`` overrides (values parsed as JSON, else kept as text)."""
    if preset not in presets:
        raise ConfigError(f"--preset {preset!r} is unknown; choose one of {sorted(presets)}")
    cfg = cls()
    for key, value in presets[preset].items():
        cfg = replace_path(cfg, key, value, f"preset {preset!r}, {key}")
    cfg.validate(f"preset {preset!r}")
    return update_config(cfg, config_file, overrides)


def update_config(cfg: Any, config_file: str | Path | None, overrides: list[str] | None) -> Any:
    """``cfg`` → config file → ``key=value`` overrides (values parsed as JSON, else kept as text)."""
    cls = type(cfg)
    if config_file is not None:
        path = Path(config_file)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"config file {path}: cannot read it as JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ConfigError(
                f"config file {path}: expected a JSON object of config values, e.g. "
                f'{{"schedule": {{"total_steps": 20000}}}}; got a {type(data).__name__}'
            )
        cfg = from_dict(cls, _merge(to_dict(cfg), data), f"config file {path}")
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set schedule.total_steps=20000")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        cfg = replace_path(cfg, key.strip(), value, f"--set {item}")
    if overrides:  # once all are applied: some fields must change together (env.family and env.size)
        cfg.validate("--set " + " ".join(overrides))
    return cfg


def saved_config(cls: type, path: Path, where: str) -> Any:
    """The configuration a run saved in ``path`` (its ``config.json``), as ``cls``; ``where``: the flag that
    named the run, for the message when the file is not JSON."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: {path} is not valid JSON ({exc})") from exc
    return from_dict(cls, data, str(path))


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
