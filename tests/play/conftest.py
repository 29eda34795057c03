"""Small checkpoints of every kind the players read, made here (random weights, Breakout's 4 actions)."""

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def play_checkpoints(tmp_path_factory) -> dict[str, Path]:
    from diamond.checkpoints.project import save_checkpoint
    from diamond.checkpoints.reference import join_reference
    from diamond.configs.presets import train_config, world_model_config
    from diamond.configs.schema import to_dict
    from diamond.models.diffusion.denoiser import Denoiser
    from diamond.spaces import ActionSpace
    from diamond.training.agent import AgentTraining, fit_to_env

    root = tmp_path_factory.mktemp("play_checkpoints")
    cfg = fit_to_env(
        train_config("tiny", None, ["env.family=atari", "env.game=Breakout", "env.size=64"]), ActionSpace.discrete(4), 3
    )
    agent = AgentTraining(cfg, torch.device("cpu"))
    run = root / "run"
    save_checkpoint(run / "checkpoints" / "agent.pt", to_dict(cfg), agent=agent.state_dict())
    reference = root / "reference.pt"
    torch.save(
        join_reference(
            {
                "denoiser": agent.denoiser.state_dict(),
                "rew_end_model": agent.rew_end.state_dict(),
                "actor_critic": agent.actor_critic.state_dict(),
            }
        ),
        reference,
    )
    wm_cfg = world_model_config("tiny", None, ["denoiser.net.action_space.size=4"])
    world_model = root / "world_model.pt"
    save_checkpoint(world_model, to_dict(wm_cfg), denoiser=Denoiser(wm_cfg.denoiser).state_dict(), step=0)
    return {"run": run, "reference": reference, "world_model": world_model}


@pytest.fixture(scope="session")
def engine():
    """A tiny engine (random weights) in the CS:GO layout: 30×56 → 150×280, 51 actions."""
    from diamond.configs.presets import engine_config
    from diamond.models.engine import Engine

    torch.manual_seed(0)
    return Engine(engine_config("tiny")).eval()


@pytest.fixture(scope="session")
def spawns(engine_dataset, tmp_path_factory) -> list[Path]:
    """Three spawn points from the held-out episodes of the small engine dataset."""
    from diamond.data.spawn import make_spawn_points

    return make_spawn_points(engine_dataset, tmp_path_factory.mktemp("spawn") / "spawn", count=3, num_next=5)


@pytest.fixture(scope="session")
def engine_checkpoint(engine, tmp_path_factory) -> Path:
    """The tiny engine saved as a `train-engine` checkpoint."""
    from diamond.checkpoints.project import save_checkpoint
    from diamond.configs.schema import to_dict

    path = tmp_path_factory.mktemp("engine") / "engine.pt"
    state = {"dynamics": engine.dynamics.state_dict(), "upsampler": engine.upsampler.state_dict()}
    return save_checkpoint(path, to_dict(engine.cfg), kind="engine", **state)
