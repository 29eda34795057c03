"""The compute settings of a run (`compute.*`, `*.optimizer.fused`): refused combinations, what they set in
torch, a deterministic run on the CPU, fused AdamW stepping as the default one does, and the networks' memory
layout (channels-last on a CPU by default)."""

import pytest
import torch

from diamond.configs.presets import engine_config, train_config, world_model_config
from diamond.configs.schema import ComputeConfig, ConfigError, OptimizerConfig, to_dict
from diamond.devices import CUBLAS_WORKSPACE, apply_compute, place, resolve_layout
from diamond.training.optim import make_optimizer


def test_the_settings_are_off_by_default_and_a_contradiction_is_named():
    for cfg in (train_config("tiny"), world_model_config("tiny"), engine_config("tiny")):
        assert to_dict(cfg)["compute"] == {
            "deterministic": False,
            "tf32": False,
            "cudnn_benchmark": False,
            "layout": "auto",
            "precision": "float32",
            "compile": False,
        }
    with pytest.raises(
        ConfigError,
        match=r"compute.cudnn_benchmark=true: compute: cudnn_benchmark=True is invalid; expected false with det",
    ):
        train_config("tiny", None, ["compute.deterministic=true", "compute.cudnn_benchmark=true"])
    with pytest.raises(
        ConfigError, match="--set denoiser_training.optimizer.fused=yes: expected true or false, got 'yes'"
    ):
        train_config("tiny", None, ["denoiser_training.optimizer.fused=yes"])


def test_apply_compute_sets_torch_and_undoes_it(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    try:
        state = apply_compute(ComputeConfig(deterministic=True))
        assert state["deterministic_algorithms"] and torch.backends.cudnn.deterministic
        assert state["cublas_workspace_config"] == CUBLAS_WORKSPACE and not state["cudnn_benchmark"]
    finally:
        state = apply_compute(ComputeConfig())
    assert not state["deterministic_algorithms"] and not torch.backends.cudnn.deterministic


def test_a_deterministic_run_trains_on_the_cpu_and_records_the_setting(tmp_path):
    pytest.importorskip("minatar")
    import json

    from diamond.training.run import train

    cfg = train_config("tiny", None, ["compute.deterministic=true"])
    try:
        train(cfg, tmp_path / "run", torch.device("cpu"), log=lambda m: None, stop_after_epochs=1)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        apply_compute(ComputeConfig())
    assert json.loads((tmp_path / "run" / "config.json").read_text())["compute"]["deterministic"] is True


def test_fused_adamw_steps_as_the_default_one():
    def model() -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 2))

    torch.manual_seed(0)
    plain, fused = model(), model()
    fused.load_state_dict(plain.state_dict())
    start = [p.detach().clone() for p in plain.parameters()]
    x = torch.randn(5, 3, 8, 8)
    optimizers = [
        make_optimizer(m, OptimizerConfig(lr=1e-2, warmup_steps=0, fused=f))[0]
        for m, f in ((plain, False), (fused, True))
    ]
    assert optimizers[1].defaults["fused"] is True and not optimizers[0].defaults["fused"]
    for _ in range(3):
        for net, opt in zip((plain, fused), optimizers):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    for a, b, s in zip(plain.parameters(), fused.parameters(), start):
        assert not torch.equal(a, s)  # the steps moved the weights...
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)  # ...the same way


def _is_channels_last(tensors) -> bool:
    """Whether the 4-d tensors (a module's parameters, or any) are all channels-last: only those whose two
    layouts differ are looked at (a 1×1 kernel, or one input channel, is both)."""
    weights = [p for p in tensors if p.dim() == 4 and p.shape[1] > 1 and p.shape[2] * p.shape[3] > 1]
    assert weights, "no convolution weight to check"
    layouts = {p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous() for p in weights}
    assert len(layouts) == 1, "some convolutions are channels-last and some are not"
    return layouts.pop()


def test_layout_auto_is_channels_last_on_the_cpu_and_a_bad_one_is_named():
    assert resolve_layout("auto", torch.device("cpu")) == "channels_last"
    assert resolve_layout("auto", torch.device("cuda")) == "contiguous"  # not measured on CUDA: PyTorch's default
    assert resolve_layout("contiguous", torch.device("cpu")) == "contiguous"
    conv = place(torch.nn.Conv2d(3, 4, 3), torch.device("cpu"))
    assert _is_channels_last(conv.parameters())
    with pytest.raises(ConfigError, match=r"compute: layout='nhwc' is invalid; expected one of auto, channels_last"):
        train_config("tiny", None, ["compute.layout=nhwc"])


@pytest.mark.parametrize("layout", ["auto", "contiguous"])
def test_a_runs_networks_take_the_layout_and_train_in_it(layout):
    pytest.importorskip("minatar")
    import numpy as np

    from diamond.data.sampler import SegmentSampler
    from diamond.envs.families import make_run_env
    from diamond.training.agent import AgentTraining, fit_to_env
    from diamond.training.collector import Collector, RandomPolicy
    from diamond.training.evaluation_episodes import EpisodeList

    cfg = train_config("tiny", None, [f"compute.layout={layout}"])
    env = make_run_env(cfg, "train", 1, 0)
    cfg = fit_to_env(cfg, env.action_space, 3)
    episodes = EpisodeList()
    Collector(env, episodes, RandomPolicy(env.action_space, 0), seed=0).collect(100)
    agent = AgentTraining(cfg, torch.device("cpu"))
    for component in agent.components.values():
        assert _is_channels_last(component.module.parameters()) == (layout == "auto"), component.name
    # an update keeps the layout: the gradients and AdamW's states follow the weights'
    denoiser = agent.components["denoiser"]
    denoiser.update(SegmentSampler(episodes, np.random.default_rng(0), static=True))
    assert _is_channels_last(denoiser.module.parameters()) == (layout == "auto")
    assert _is_channels_last(s["exp_avg"] for s in denoiser.optimizer.state.values()) == (layout == "auto")
