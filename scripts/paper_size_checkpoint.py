"""Write an agent of the paper's Atari configuration with random weights, in the reference layout.

The players' and benchmarks' speed does not depend on the weights, so this stands in for a pretrained
model (the authors' published ones have exactly these shapes) where none can be downloaded:

    python scripts/paper_size_checkpoint.py paper_random.pt [--actions 4]
    diamond play --checkpoint paper_random.pt --game Breakout --fps 0 --frames 100 --denoising-steps 1
"""

from __future__ import annotations

import argparse

import torch

from diamond.checkpoints.reference import join_reference
from diamond.configs.schema import TrainConfig
from diamond.spaces import ActionSpace
from diamond.training.agent import AgentTraining, fit_to_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--actions", type=int, default=4, help="the game's action count (Breakout: 4)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = fit_to_env(TrainConfig(seed=args.seed), ActionSpace.discrete(args.actions), 3)
    agent = AgentTraining(cfg, torch.device("cpu"))
    torch.save(
        join_reference(
            {
                "denoiser": agent.denoiser.state_dict(),
                "rew_end_model": agent.rew_end.state_dict(),
                "actor_critic": agent.actor_critic.state_dict(),
            }
        ),
        args.out,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
