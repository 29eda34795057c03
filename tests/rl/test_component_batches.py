"""The updates of a network whose batches were drawn ahead on a thread (``update_components``) are those of
updates that draw their own batches: the same batches, in the same order, from the same random stream (on the
CPU, where runs draw in the update, by asking for it)."""

import copy
import time

import torch


def test_updates_on_batches_drawn_ahead_equal_updates_that_draw_their_own(setup):
    from diamond.training.agent import AgentTraining
    from diamond.training.components import update_components

    cfg, _, sampler = setup
    ahead, own = AgentTraining(cfg, torch.device("cpu")), AgentTraining(cfg, torch.device("cpu"))
    for name in ("denoiser", "rew_end"):
        component, twin = ahead.components[name], own.components[name]
        ahead_sampler, own_sampler = copy.deepcopy(sampler), copy.deepcopy(sampler)  # the same stream
        sources = {component.source: lambda s=ahead_sampler: s}
        update_components([component], {name: 3}, sources, time.monotonic, draw_ahead=True)
        for _ in range(3):
            twin.update(own_sampler)
        for a, b in zip(component.module.parameters(), twin.module.parameters(), strict=True):
            assert torch.equal(a, b), name
        assert ahead_sampler.rng.integers(0, 1 << 30) == own_sampler.rng.integers(0, 1 << 30)
