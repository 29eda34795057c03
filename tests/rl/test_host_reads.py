"""How often an imagined step reads a tensor on the host (on a GPU, each read waits for the device).

Counted on the CPU by wrapping the Tensor methods that read values into Python (``item``, ``bool``,
``float``, ``int``, ``tolist``, ``numpy``, ``nonzero``, ``cpu``...) and indexing with boolean masks, during
rollouts of the actor in the world model and updates of the networks, by the file and function that called
them. Reads inside torch's own C++ code are not seen.
"""

import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

pytest.importorskip("minatar")

# per imagined step: the sampler reads its CPU-built noise levels (no device involved); the env asks which
# envs ended (they need new real contexts, drawn on the host)
TRAJECTORY_READS = (("tolist", "samplers.py", "sample"), ("nonzero", "world_model_env.py", "step"))
READS = ("item", "__bool__", "__float__", "__int__", "__index__", "tolist", "numpy", "nonzero", "cpu")


@contextmanager
def host_reads():
    """Counts of (method, file, function) for every value read of a tensor from the project's code."""
    counts: Counter = Counter()
    originals = {name: getattr(torch.Tensor, name) for name in READS}

    def wrap(name, method):
        def counted(self, *args, **kwargs):
            caller = sys._getframe(1).f_code
            if "diamond" in caller.co_filename:
                counts[(name, Path(caller.co_filename).name, caller.co_name)] += 1
            return method(self, *args, **kwargs)

        return counted

    def masked(name, method):  # indexing with a boolean mask: its result's size is read on the host
        def counted(self, index, *args):
            parts = index if isinstance(index, tuple) else (index,)
            caller = sys._getframe(1).f_code
            if "diamond" in caller.co_filename and any(
                isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in parts
            ):
                counts[(f"{name}[bool]", Path(caller.co_filename).name, caller.co_name)] += 1
            return method(self, index, *args)

        return counted

    indexing = {name: getattr(torch.Tensor, name) for name in ("__getitem__", "__setitem__")}
    for name, method in originals.items():
        setattr(torch.Tensor, name, wrap(name, method))
    for name, method in indexing.items():
        setattr(torch.Tensor, name, masked(name, method))
    try:
        yield counts
    finally:
        for name, method in {**originals, **indexing}.items():
            setattr(torch.Tensor, name, method)


def test_an_imagined_step_reads_the_device_once(setup):
    _, agent, sampler = setup
    env = agent.world_model_env(sampler, num_envs=4)
    runner = agent.rollout_runner(env)
    runner.rollout(2)  # the first reset's reads are not per step
    horizon = 6
    with host_reads() as counts:
        runner.rollout(horizon)
    per_step = {key: n / horizon for key, n in counts.items()}
    # everything else stays on the device
    assert per_step == dict.fromkeys(TRAJECTORY_READS, 1.0), sorted(per_step.items())


def test_updates_leave_their_statistics_on_the_device_until_the_epoch_ends(setup):
    from diamond.training.components import component_stats

    _, agent, sampler = setup
    runner = agent.rollout_runner(agent.world_model_env(sampler, num_envs=4))
    horizon = agent.cfg.actor_critic_training.imagination.horizon
    for name, source in (("denoiser", sampler), ("rew_end", sampler), ("actor_critic", runner)):
        component = agent.components[name]
        component.update(source)
        with host_reads() as counts:
            stats = [component.update(source) for _ in range(2)]
        reads = {key: n / 2 for key, n in counts.items()}
        # the actor-critic's update imagines its rollout: the env's one read per imagined step, no more
        expected = {} if name != "actor_critic" else {k: float(horizon) for k in TRAJECTORY_READS}
        assert reads == expected, (name, sorted(reads.items()))
        assert all(isinstance(v, torch.Tensor) for s in stats for v in s.values())
        with host_reads() as counts:
            logged = component_stats(name, stats)
        assert all(isinstance(v, float) for v in logged.values()) and f"train/{name}_loss" in logged
        assert sum(counts.values()) == len(stats[0])  # one read per statistic, for the whole epoch
