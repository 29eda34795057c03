"""Trained networks as components: a further network is one more entry, and the loop, checkpoint, resume,
timings and logs take it up; the world model alone trains with the same update."""

import json

import pytest
import torch

from diamond.configs.presets import train_config
from diamond.training import agent as agent_module
from diamond.training.networks import denoiser_component
from diamond.training.run import train

pytest.importorskip("minatar")


def second_denoiser(cfg, device, dist, seed):
    """A stand-in for an upsampler: another diffusion model on the replay data, with its own update count."""
    c = denoiser_component(
        cfg.denoiser,
        cfg.denoiser_training,
        lambda epoch: 2 if epoch == 1 else 1,
        device,
        dist,
        torch.Generator(device=device).manual_seed(seed + 9),
    )
    c.name = "upsampler"
    return c


def test_one_more_entry_trains_checkpoints_resumes_and_logs(tmp_path, monkeypatch):
    monkeypatch.setattr(agent_module, "MODEL_BASED", (*agent_module.MODEL_BASED, second_denoiser))
    cfg, run = train_config("tiny", None, []), tmp_path / "run"

    def quiet(message):
        pass

    assert train(cfg, run, torch.device("cpu"), log=quiet, stop_after_epochs=2)["epoch"] == 2
    saved = torch.load(run / "checkpoints" / "agent.pt", weights_only=False)["agent"]
    assert saved["updates"] == {"denoiser": 3 + 2, "rew_end": 3 + 2, "actor_critic": 3 + 2, "upsampler": 2 + 1}
    assert {"upsampler", "upsampler_optimizer", "upsampler_scheduler", "gen_upsampler"} <= set(saved)
    assert saved["upsampler_scheduler"]["last_epoch"] == 3

    train(cfg, run, torch.device("cpu"), resume=True, log=quiet, stop_after_epochs=1)
    saved = torch.load(run / "checkpoints" / "agent.pt", weights_only=False)["agent"]
    assert saved["updates"]["upsampler"] == 4
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2, 3]
    for m in lines:
        assert m["train/upsampler_loss"] > 0 and "time/upsampler" in m
        assert list(m)[2:5] == ["train/denoiser_loss", "train/rew_end_loss_rew", "train/rew_end_loss_end"]
    assert "test/upsampler_loss" in lines[1]  # evaluated on the held-out episodes like the denoiser


def test_model_free_agent_has_no_world_model():
    cfg = train_config("tiny", None, ["model_free=true"])
    agent = agent_module.AgentTraining(cfg, torch.device("cpu"))
    assert list(agent.components) == ["actor_critic"] and agent.actor_critic is agent.components["actor_critic"].module
    with pytest.raises(AttributeError, match="no denoiser"):
        _ = agent.denoiser
    assert "denoiser" not in agent.state_dict() and "gen_denoiser" not in agent.rng_state()
