"""The opt-in compute settings of a run (`compute.*`, `*.optimizer.fused`): refused combinations, what they
set in torch, a deterministic run on the CPU, and fused AdamW stepping as the default one does."""

import pytest
import torch

from diamond.configs.presets import engine_config, train_config, world_model_config
from diamond.configs.schema import ConfigError, OptimizerConfig, to_dict
from diamond.devices import CUBLAS_WORKSPACE, apply_compute
from diamond.training.optim import make_optimizer


def test_the_settings_are_off_by_default_and_a_contradiction_is_named():
    for cfg in (train_config("tiny"), world_model_config("tiny"), engine_config("tiny")):
        assert to_dict(cfg)["compute"] == {"deterministic": False, "tf32": False, "cudnn_benchmark": False}
    with pytest.raises(
        ConfigError,
        match=r"compute.cudnn_benchmark=true.compute: cudnn_benchmark=True is invalid; expected false with det",
    ):
        train_config("tiny", None, ["compute.deterministic=true", "compute.cudnn_benchmark=true"])
    with pytest.raises(
        ConfigError, match="--set denoiser_training.optimizer.fused=yes: expected true or false, got 'yes'"
    ):
        train_config("tiny", None, ["denoiser_training.optimizer.fused=yes"])


def test_apply_compute_sets_torch_and_undoes_it(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    try:
        state = apply_compute(deterministic=True, tf32=False, cudnn_benchmark=False)
        assert state["deterministic_algorithms"] and torch.backends.cudnn.deterministic
        assert state["cublas_workspace_config"] == CUBLAS_WORKSPACE and not state["cudnn_benchmark"]
    finally:
        state = apply_compute(deterministic=False, tf32=False, cudnn_benchmark=False)
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
        apply_compute(deterministic=False, tf32=False, cudnn_benchmark=False)
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
