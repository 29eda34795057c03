"""``diamond train`` as a function: its flags and the preset, config file and ``--set`` items become one
configuration, then the run starts or resumes (see ``diamond.training.run``). ``diamond sweep`` calls it too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from diamond.configs.presets import saved_config, train_config, update_config
from diamond.configs.schema import ConfigError, TrainConfig
from diamond.envs.families import FAMILIES
from diamond.layout import AgentRun


def train_flags(
    env: str | None, game: str | None, seed: int | None, model_free: bool, overrides: list[str]
) -> list[str]:
    """`diamond train`'s flags as configuration overrides (applied before the user's ``--set`` items)."""
    flags = [f"{k}={v}" for k, v in (("env.family", env), ("env.game", game), ("seed", seed)) if v is not None]
    flags += ["model_free=true"] if model_free else []
    fixed = FAMILIES[env].fixed_size if env in FAMILIES else None
    if fixed is not None and not any(o.strip().startswith("env.size=") for o in overrides):
        flags.append(f"env.size={fixed}")  # a family with one frame size (Atari 100k: 64, spec §2)
    return flags


def check_trainable(cfg: TrainConfig) -> None:
    """Refuse an unknown game, and an env family whose envs cannot be snapshotted: a killed run must resume
    exactly (spec §1). Before anything is written."""
    FAMILIES[cfg.env.family].validate_game(cfg.env.game, "--game (env.game)")
    if not FAMILIES[cfg.env.family].snapshots:
        raise ConfigError(
            f"env.family={cfg.env.family}: `diamond train` needs envs that can save their exact state to "
            f"resume a killed run, and {cfg.env.family} envs cannot; use it with `diamond collect`, "
            "`train-world-model`, `imagine` and `play`"
        )


def train_agent(
    out: str | None,
    resume: str | None,
    preset: str | None,
    config_file: str | None,
    overrides: list[str],
    env: str | None,
    game: str | None,
    model_free: bool,
    seed: int | None,
    device: str,
    allow_config_change: bool = False,
    log=print,
) -> dict[str, Any]:
    """``diamond train``: resolve the configuration, then run or resume (see ``diamond.training.run``).

    A resumed run starts from its saved config.json; ``--config``, the flags and ``--set`` apply on top of it.
    """
    from diamond.devices import resolve_device
    from diamond.training.run import train  # torch and the models: only when a run starts

    changes = [*train_flags(env, game, seed, model_free, overrides), *overrides]
    if resume is not None:
        run_dir = Path(resume)
        cfg = resumed_config(run_dir, out, preset, config_file, changes)
    else:
        cfg = train_config(preset or "paper", config_file, changes)
        run_dir = Path(out) if out else Path("runs") / f"{cfg.env.game}-{preset or 'paper'}-seed{cfg.seed}"
    check_trainable(cfg)
    return train(
        cfg,
        run_dir,
        resolve_device(device),
        resume=resume is not None,
        allow_config_change=allow_config_change,
        log=log,
    )


def resumed_config(
    run_dir: Path, out: str | None, preset: str | None, config_file: str | None, changes: list[str]
) -> TrainConfig:
    """The run's saved configuration with ``--config`` and the flags / ``--set`` items applied on top.

    ``--preset`` is refused: the saved configuration already is a resolved preset, and a preset given
    again would set every one of its fields back, not just the ones the user means to change.
    """
    if out is not None and Path(out) != run_dir:
        raise ConfigError(f"--out {out} and --resume {run_dir} name different run folders; give only --resume")
    saved = run_dir / AgentRun.CONFIG
    if preset is not None:
        raise ConfigError(
            f"--preset {preset} with --resume {run_dir}: a resumed run starts from its saved "
            f"configuration ({saved}); change values with --set KEY=VALUE or --config FILE"
        )
    if not run_dir.is_dir():
        raise ConfigError(f"--resume {run_dir}: the run folder does not exist; nothing to resume")
    if not saved.exists():
        raise ConfigError(f"--resume {run_dir}: no {saved.name} in it; is this a `diamond train` run folder?")
    return update_config(saved_config(TrainConfig, saved, f"--resume {run_dir}"), config_file, changes)
