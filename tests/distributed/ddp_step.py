"""One optimiser step of the denoiser and of the actor-critic on a fixed global batch, either in one
process on the whole batch or under torchrun with DDP, each process on its shard. Writes the updated
parameters (rank 0). Usage: ddp_step.py OUT.pt [--no-normaliser]"""

from __future__ import annotations

import sys
from dataclasses import replace

import torch

from diamond.configs.presets import train_config
from diamond.configs.schema import ImaginationConfig, OptimizerConfig
from diamond.models.actor_critic import ActorCritic
from diamond.models.diffusion.denoiser import Denoiser
from diamond.rl.losses import actor_critic_loss
from diamond.rl.rollouts import replay
from diamond.spaces import ActionSpace
from diamond.training.agent import fit_to_env
from diamond.training.distributed import Objective, count_normaliser, data_parallel, env_info, finish, init
from diamond.training.optim import make_optimizer, optimizer_step

B, SIZE, ACTIONS = 4, 12, 3


def main(out: str, normalise: bool) -> None:
    torch.set_num_threads(1)
    info, device = env_info(), torch.device("cpu")
    init(info, device)
    rows = slice(info.rank * B // info.world_size, (info.rank + 1) * B // info.world_size)
    cfg = fit_to_env(train_config("tiny", None, []), ActionSpace.discrete(ACTIONS), 3)
    data = torch.Generator().manual_seed(123)
    results = {}

    # the denoiser: 4 context frames + 2 targets; rows 0 and 2 start with padding, so the shards hold
    # different numbers of unpadded targets (1 + 2 against 2 + 2)
    torch.manual_seed(0)  # identical initial weights in every process (DDP also broadcasts rank 0's)
    denoiser = Denoiser(cfg.denoiser)
    obs = torch.rand(B, 6, 3, SIZE, SIZE, generator=data) * 2 - 1
    act = torch.randint(0, ACTIONS, (B, 6), generator=data)
    mask = torch.ones(B, 6, dtype=torch.bool)
    mask[0, :5] = False
    mask[2, :2] = False
    noise = [
        (
            torch.rand(B, generator=data) * 2 + 0.1,
            torch.randn(B, 3, 1, 1, generator=data),
            torch.randn(B, 3, SIZE, SIZE, generator=data),
        )
        for _ in range(2)
    ]
    objective = data_parallel(Objective(denoiser, lambda m, *a, **k: m.loss(*a, **k)), info, device)
    opt = make_optimizer(denoiser, replace(OptimizerConfig(), lr=1e-3, warmup_steps=0))
    loss = objective(
        obs[rows],
        act[rows],
        mask[rows],
        noise=[tuple(x[rows] for x in n) for n in noise],
        normaliser=count_normaliser(info) if normalise else None,
    )
    optimizer_step(denoiser, *opt, loss, 1.0)
    results["denoiser"] = denoiser.state_dict()

    # the actor-critic: a recorded trajectory of 5 steps per env, re-evaluated and updated
    torch.manual_seed(1)
    actor_critic = ActorCritic(cfg.actor_critic, image_size=SIZE)
    frames = torch.rand(B, 6, 3, SIZE, SIZE, generator=data) * 2 - 1
    acts = torch.randint(0, ACTIONS, (B, 5), generator=data)
    rew = torch.randint(-1, 2, (B, 5), generator=data).float()
    end = torch.zeros(B, 5, dtype=torch.bool)
    end[1, 3] = True
    trunc = torch.zeros_like(end)
    imagination = ImaginationConfig()
    objective = data_parallel(
        Objective(actor_critic, lambda m, *a: actor_critic_loss(replay(m, *a), imagination)[0]), info, device
    )
    opt = make_optimizer(actor_critic, replace(OptimizerConfig(), lr=1e-3, warmup_steps=0))
    loss = objective(frames[rows], acts[rows], rew[rows], end[rows], trunc[rows])
    optimizer_step(actor_critic, *opt, loss, 100.0)
    results["actor_critic"] = actor_critic.state_dict()
    if info.is_main:
        torch.save(results, out)
    del objective  # DDP holds the process group: free it before the group is torn down
    finish(info)


if __name__ == "__main__":
    main(sys.argv[1], "--no-normaliser" not in sys.argv)
