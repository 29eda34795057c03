"""The actor-critic loss (spec §6): REINFORCE with a value baseline, value regression, entropy bonus."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from diamond.configs.schema import ImaginationConfig
from diamond.models.action_distribution import ActionDistribution
from diamond.rl.returns import lambda_returns
from diamond.rl.rollouts import Rollout


def actor_critic_loss(rollout: Rollout, cfg: ImaginationConfig) -> tuple[Tensor, dict[str, Tensor]]:
    returns = lambda_returns(
        rollout.rew, rollout.end.long(), rollout.trunc.long(), rollout.val_bootstrap, cfg.gamma, cfg.lambda_
    ).detach()
    dist = ActionDistribution(rollout.space, rollout.logits)
    advantage = (returns - rollout.values).detach()  # the baseline does not receive the policy's gradient
    loss_actions = -(dist.log_prob(rollout.act) * advantage).mean()
    loss_values = F.mse_loss(rollout.values, returns)
    entropy = dist.entropy().mean()
    loss = loss_actions + cfg.value_loss_weight * loss_values - cfg.entropy_weight * entropy
    stats = {  # detached tensors: the host reads them once per epoch
        "loss_actions": loss_actions,
        "loss_values": loss_values,
        "entropy": entropy,
        "loss": loss,
        "return_mean": returns.mean(),
        "reward_mean": rollout.rew.mean(),
        "end_rate": rollout.end.float().mean(),
    }
    return loss, {k: v.detach() for k, v in stats.items()}
