"""A run's ``compute.compile``: the denoiser's network is ``torch.compile``d (the reward/termination model and
the actor-critic stay eager) and laid out contiguously by 'auto'; its updates and samples compute what the
eager network's do; its checkpoint is an eager one (the same keys, loading into an eager run); a run trains
and resumes with it; a non-boolean value and a missing C++ compiler are named."""

import re

import numpy as np
import pytest
import torch

from diamond.configs.presets import train_config
from diamond.configs.schema import ConfigError, SamplerConfig
from diamond.devices import cpp_compiler, resolve_layout
from diamond.errors import InvalidValue
from diamond.training.agent import AgentTraining, fit_to_env

CPU = torch.device("cpu")
needs_compiler = pytest.mark.skipif(cpp_compiler() is None, reason="torch.compile on a CPU needs a C++ compiler")


def test_a_bad_value_and_a_missing_compiler_are_named(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match="--set compute.compile=yes: expected true or false, got 'yes'"):
        train_config("tiny", None, ["compute.compile=yes"])
    assert resolve_layout("auto", CPU, compiled=True) == "contiguous"
    assert resolve_layout("auto", CPU, compiled=False) == "channels_last"
    missing = tmp_path / "no-such-c++"
    monkeypatch.setenv("CXX", str(missing))
    with pytest.raises(
        InvalidValue, match=r"compute.compile: .*needs a C\+\+ compiler.*\$CXX=" + re.escape(repr(str(missing)))
    ):
        AgentTraining(train_config("tiny", None, ["compute.compile=true"]), CPU)


def _agent(overrides: list[str]) -> AgentTraining:
    pytest.importorskip("minatar")
    from diamond.envs.families import make_run_env

    cfg = train_config("tiny", None, overrides)
    env = make_run_env(cfg, "train", 1, 0)
    return AgentTraining(fit_to_env(cfg, env.action_space, 3), CPU)


def _is_compiled(module: torch.nn.Module) -> bool:
    return getattr(module, "_compiled_call_impl", None) is not None


@needs_compiler
def test_a_compiled_denoiser_updates_and_samples_as_the_eager_one():
    from diamond.data.sampler import SegmentSampler
    from diamond.envs.families import make_run_env
    from diamond.training.collector import Collector, RandomPolicy
    from diamond.training.evaluation_episodes import EpisodeList

    eager = _agent(["compute.layout=contiguous"])
    compiled = _agent(["compute.compile=true"])  # 'auto': contiguous, as the eager one here
    assert _is_compiled(compiled.components["denoiser"].module.network)
    assert [n for n, m in compiled.components["denoiser"].module.named_modules() if _is_compiled(m)] == ["inner_model"]
    for name in ("rew_end", "actor_critic"):
        assert not any(_is_compiled(m) for m in compiled.components[name].module.modules()), name
    e, c = eager.components["denoiser"], compiled.components["denoiser"]
    assert list(c.module.state_dict()) == list(e.module.state_dict())  # a compiled run's checkpoint keys
    with torch.no_grad():  # the zero-initialised output layers too, or both would output the same zeros
        for p in e.module.parameters():
            if not p.any():
                p.normal_(0, 0.02)
    c.module.load_state_dict(e.module.state_dict())

    env = make_run_env(eager.cfg, "train", 1, 0)
    episodes = EpisodeList()
    Collector(env, episodes, RandomPolicy(env.action_space, 0), seed=0).collect(100)
    for component in (e, c):
        component.generator.manual_seed(5)
    before = dict(torch._dynamo.utils.counters["stats"])
    stats = [x.update(SegmentSampler(episodes, np.random.default_rng(0), static=True)) for x in (e, c)]
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > before.get("unique_graphs", 0)
    assert float(stats[1]["loss"]) == pytest.approx(float(stats[0]["loss"]), rel=1e-5)
    for (name, p), q in zip(e.module.named_parameters(), c.module.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-6, msg=name)

    net = eager.cfg.denoiser.net
    obs = torch.rand(3, net.num_steps_conditioning, 3, eager.cfg.env.size, eager.cfg.env.size) * 2 - 1
    act = torch.from_numpy(net.action_space.sample(np.random.default_rng(0), 3 * net.num_steps_conditioning))
    frames = []
    for x in (e, c):
        with torch.inference_mode():
            out, _ = x.module.eval().sample_next_obs(
                obs, act.reshape(3, -1), SamplerConfig(), generator=torch.Generator().manual_seed(1)
            )
        frames.append(((out + 1) * 127.5).round())
    assert (frames[1] - frames[0]).abs().max() <= 1  # 8-bit levels: rounding at most flips one
    assert (frames[1] != frames[0]).float().mean() < 0.01


@needs_compiler
def test_a_compiled_run_trains_resumes_and_its_checkpoint_loads_eagerly(tmp_path):
    pytest.importorskip("minatar")
    import json

    from diamond.training.run import train

    cfg = train_config("tiny", None, ["compute.compile=true"])
    train(cfg, tmp_path / "run", CPU, log=lambda m: None, stop_after_epochs=1)
    train(cfg, tmp_path / "run", CPU, resume=True, log=lambda m: None, stop_after_epochs=1)  # the compiled run resumes
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["compute"]["compile"] is True
    saved = torch.load(tmp_path / "run" / "checkpoints" / "agent.pt", weights_only=False)["agent"]
    eager = _agent(["compute.layout=contiguous"])
    eager.components["denoiser"].module.load_state_dict(saved["denoiser"])  # keys as an eager run's
