"""Gradient accumulation (spec §10: the engine trains on 8 accumulated batches per update): the update
from k batches of n samples is the update from one batch of k·n samples."""

import copy

import torch
from torch import nn

from diamond.configs.schema import OptimizerConfig
from diamond.training.components import Component


def mse_loss(m, x, y):
    loss = (m(x) - y).pow(2).mean()
    return loss, {"loss": float(loss.detach())}


def component(model, accumulation, batches):
    stream = iter(batches)
    return Component(
        "net",
        model,
        OptimizerConfig(lr=1e-2, warmup_steps=0, max_grad_norm=100.0),
        "data",
        lambda source, n: next(stream),
        mse_loss,
        lambda x, y: mse_loss(model, x, y),
        8,
        8,
        lambda epoch: 1,
        grad_accumulation=accumulation,
    )


def test_accumulated_batches_give_the_update_of_their_union():
    torch.manual_seed(0)
    x, y = torch.randn(8, 5), torch.randn(8, 3)
    whole, parts = nn.Linear(5, 3), None
    parts = copy.deepcopy(whole)
    one = component(whole, 1, [(x, y)])
    two = component(parts, 2, [(x[:4], y[:4]), (x[4:], y[4:])])
    stats_one, stats_two = one.update(None), two.update(None)
    for p, q in zip(whole.parameters(), parts.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6)  # the (clipped) gradients that were applied
        assert torch.allclose(p, q, atol=1e-6)
    assert abs(stats_one["grad_norm"] - stats_two["grad_norm"]) < 1e-5  # not clipped: a missing 1/k would show
    assert abs(stats_one["loss"] - stats_two["loss"]) < 1e-6  # the mean of the two halves' losses
    assert one.updates == two.updates == 1 and one.scheduler.last_epoch == two.scheduler.last_epoch == 1
