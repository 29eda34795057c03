"""A run's ``compute.precision``: the updates (imagination included) compute in bfloat16 while weights,
gradients and AdamW states stay float32; float16's loss scaler steps exactly as the unscaled update and
skips an overflowing one; the scaler's state is checkpointed; bad values are named."""

import json

import pytest
import torch

from diamond.configs.presets import train_config
from diamond.configs.schema import ConfigError, OptimizerConfig
from diamond.errors import InvalidValue
from diamond.training.agent import AgentTraining
from diamond.training.components import Component
from diamond.training.optim import make_optimizer, optimizer_step


def test_an_unknown_precision_and_float16_on_the_cpu_are_named():
    with pytest.raises(ConfigError, match=r"compute: precision='half' is invalid; expected one of float32, bfloat16"):
        train_config("tiny", None, ["compute.precision=half"])
    cfg = train_config("tiny", None, ["compute.precision=float16"])  # valid as a setting: CUDA runs use it
    with pytest.raises(InvalidValue, match="compute.precision 'float16' is for CUDA devices; on cpu use"):
        AgentTraining(cfg, torch.device("cpu"))


def test_bfloat16_updates_compute_in_bfloat16_and_keep_float32_states(tmp_path):
    pytest.importorskip("minatar")
    from diamond.training.run import train

    seen: dict[str, set] = {"update": set(), "other": set()}
    in_update = [False]
    original_update = Component.update

    def update(self, source):
        in_update[0] = True
        try:
            return original_update(self, source)
        finally:
            in_update[0] = False

    def record(module, args, output):
        if isinstance(module, torch.nn.Conv2d):
            seen["update" if in_update[0] else "other"].add(output.dtype)

    cfg = train_config("tiny", None, ["compute.precision=bfloat16"])
    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("diamond.training.components.Component.update", update)
            train(cfg, tmp_path / "run", torch.device("cpu"), log=lambda m: None, stop_after_epochs=1)
    finally:
        handle.remove()
    assert seen["update"] == {torch.bfloat16}  # every convolution of every update, imagination included
    assert seen["other"] == {torch.float32}  # collection and evaluation act in float32
    assert json.loads((tmp_path / "run" / "config.json").read_text())["compute"]["precision"] == "bfloat16"
    saved = torch.load(tmp_path / "run" / "checkpoints" / "agent.pt", weights_only=False)["agent"]
    for name in ("denoiser", "rew_end", "actor_critic"):
        assert {t.dtype for t in saved[name].values() if t.is_floating_point()} == {torch.float32}, name
        moments = [s["exp_avg"] for s in saved[f"{name}_optimizer"]["state"].values()]
        assert moments and {m.dtype for m in moments} == {torch.float32}, name
        assert all(torch.isfinite(m).all() for m in moments), name


def _model_and_optimizer(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    return model, *make_optimizer(model, OptimizerConfig(lr=1e-2, warmup_steps=0, max_grad_norm=0.05))


def test_a_scaled_update_equals_the_unscaled_one_and_an_overflow_is_skipped():
    x = torch.randn(16, 6, generator=torch.Generator().manual_seed(1))
    plain, scaled = _model_and_optimizer(0), _model_and_optimizer(0)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    for _ in range(3):
        norm_plain = optimizer_step(plain[0], plain[1], plain[2], plain[0](x).square().mean(), 0.05)
        norm_scaled = optimizer_step(scaled[0], scaled[1], scaled[2], scaled[0](x).square().mean(), 0.05, scaler)
        assert torch.equal(norm_plain, norm_scaled)  # unscaled before clipping: a power of two scales exactly
    for a, b in zip(plain[0].parameters(), scaled[0].parameters()):
        assert torch.equal(a, b)

    before = [p.detach().clone() for p in scaled[0].parameters()]
    optimizer_step(scaled[0], scaled[1], scaled[2], scaled[0](x).sum() * float("inf"), 0.05, scaler)
    assert all(torch.equal(a, b) for a, b in zip(before, scaled[0].parameters()))  # the step was skipped
    assert scaler.get_scale() == 2.0**11  # and the scale halved


def test_a_components_loss_scaler_is_checkpointed():
    cfg = train_config("tiny", None, [])
    first, second = (AgentTraining(cfg, torch.device("cpu")).components["denoiser"] for _ in range(2))
    first.loss_scaler, second.loss_scaler = torch.amp.GradScaler("cpu", init_scale=8.0), torch.amp.GradScaler("cpu")
    state = first.state_dict()
    assert state["denoiser_scaler"]["scale"] == 8.0
    second.load_state_dict(state)
    assert second.loss_scaler.get_scale() == 8.0
