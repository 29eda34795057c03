"""DDP with the gloo backend and 2 real processes (torchrun) on the CPU: one data-parallel step on a
global batch gives the parameters of one single-process step on the same batch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from diamond.configs.presets import train_config
from diamond.models.actor_critic import ActorCritic
from diamond.models.diffusion.denoiser import Denoiser
from diamond.spaces import ActionSpace
from diamond.training.agent import fit_to_env

SCRIPT = Path(__file__).with_name("ddp_step.py")


def step(out: Path, processes: int, *flags: str) -> dict:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    cmd = [*(launcher if processes > 1 else [sys.executable]), str(SCRIPT), str(out), *flags]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return torch.load(out)


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def test_one_ddp_step_equals_one_single_process_step(tmp_path):
    single = step(tmp_path / "single.pt", 1)
    ddp = step(tmp_path / "ddp.pt", 2)
    unnormalised = step(tmp_path / "unnormalised.pt", 2, "--no-normaliser")
    cfg = fit_to_env(train_config("tiny", None, []), ActionSpace.discrete(3), 3)
    torch.manual_seed(0)
    initial = {"denoiser": Denoiser(cfg.denoiser).state_dict()}
    torch.manual_seed(1)
    initial["actor_critic"] = ActorCritic(cfg.actor_critic, image_size=12).state_dict()
    for model in ("denoiser", "actor_critic"):
        assert max_difference(single[model], initial[model]) > 5e-4, model  # the step did change the weights
        assert max_difference(ddp[model], single[model]) < 1e-6, model
    # the shards hold 1 and 2 unpadded first targets: a plain per-process mean would weigh them wrongly
    assert max_difference(unnormalised["denoiser"], single["denoiser"]) > 1e-4
