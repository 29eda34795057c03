"""The neural game engine (spec §10) reproduces the reference's numbers: the dynamics model with its
context-noise embedding, the ×5 upsampler, both sampling settings (the upsampler's churn sampler replayed
with the recorded noise), and the paper-size engine has exactly the reference's tensors."""

import json

import pytest
import torch

from diamond.checkpoints.reference import infer_denoiser_config, load_reference_file, split_reference
from diamond.configs.engine import (
    ENGINE_OFFSET_NOISE,
    EngineConfig,
    fast_sampling,
    higher_quality_sampling,
)
from diamond.configs.schema import SamplerConfig
from diamond.fps_actions import csgo_action_space
from diamond.models.diffusion import edm
from diamond.models.diffusion.denoiser import Denoiser
from diamond.models.diffusion.schedule import karras_sigmas
from diamond.models.diffusion.upsampler import Upsampler, bicubic_upsampling

TOL = 1e-4
LEVEL = 2 / 255 + 1e-6  # one 8-bit level


@pytest.fixture(scope="module")
def engine(conformance_dir):
    parts = split_reference(load_reference_file(conformance_dir / "engine_reference_format.pt"))
    vectors = torch.load(conformance_dir / "engine_vectors.pt", weights_only=True)
    dyn_cfg = infer_denoiser_config(
        parts["denoiser"], csgo_action_space(), sigma_offset_noise=ENGINE_OFFSET_NOISE, context_noise=True
    )
    up_cfg = infer_denoiser_config(parts["upsampler"], sigma_offset_noise=ENGINE_OFFSET_NOISE)
    dynamics, upsampler = Denoiser(dyn_cfg).eval(), Upsampler(up_cfg).eval()
    dynamics.load_state_dict(parts["denoiser"], strict=True)
    upsampler.load_state_dict(parts["upsampler"], strict=True)
    return dynamics, upsampler, vectors


def close(ours, ref, name, tol=TOL):
    assert ours.shape == ref.shape, name
    assert (ours - ref).abs().max().item() <= tol, f"{name}: max abs diff {(ours - ref).abs().max().item():.3g}"


def trajectory_close(ours, ref, name):
    """The folder README's rule: ≤ 1e-4 everywhere except ≤ 0.01% of the values, off by at most one level."""
    diff = (torch.stack(ours) - ref).abs()
    assert diff.max().item() <= LEVEL, name
    assert (diff > TOL).float().mean().item() <= 1e-4, name


def test_shapes_tell_the_reference_configuration(engine):
    dynamics, upsampler, _ = engine
    d, u = dynamics.cfg.net, upsampler.cfg.net
    assert (d.num_steps_conditioning, d.cond_channels, d.channels, d.attn_depths) == (
        4, 64, (32, 32, 64, 64), (False, False, True, True),
    )  # fmt: skip
    assert d.context_noise_embedding and not d.low_res_conditioning and d.action_space.size == 51
    assert (u.num_steps_conditioning, u.channels, u.attn_depths) == (1, (16, 16, 32, 32), (False, False, False, True))
    assert u.context_noise_embedding and u.low_res_conditioning


def test_dynamics_denoiser_matches_reference(engine):
    dynamics, _, vectors = engine
    v = vectors["dynamics"]
    pc = dynamics.preconditioners(v["sigma"])
    for name in ("c_in", "c_out", "c_skip", "c_noise"):
        close(getattr(pc, name).reshape(-1), v[name], name)
    close(edm.context_noise_level(v["sigma_cond"]), v["c_noise_cond"], "c_noise_cond")
    with torch.no_grad():
        raw = dynamics.model_output(v["noisy_next_obs"], v["sigma"], v["obs"], v["act"], sigma_cond=v["sigma_cond"])
        clean = dynamics.model_output(v["noisy_next_obs"], v["sigma"], v["obs"], v["act"])
        denoised = dynamics.denoise(v["noisy_next_obs"], v["sigma"], v["obs"], v["act"], v["sigma_cond"])
    close(raw, v["raw_model_output"], "raw_model_output")
    close(clean, v["raw_model_output_no_context_noise"], "raw_model_output_no_context_noise")
    assert (raw - clean).abs().max() > 1e-3  # the context-noise embedding does reach the output
    close(denoised, v["denoised_quantized"], "denoised_quantized", LEVEL)
    assert (denoised - v["denoised_quantized"]).abs().gt(TOL).float().mean() <= 1e-3
    close(edm.training_target(v["next_obs"], v["noisy_next_obs"], pc), v["training_target"], "training_target")


@pytest.mark.parametrize("name", ["dynamics_sampler_higher_quality", "dynamics_sampler_fast"])
def test_dynamics_samplers_match_reference(engine, name):
    dynamics, _, vectors = engine
    v, s = vectors["dynamics"], vectors[name]
    setting = higher_quality_sampling() if name.endswith("higher_quality") else fast_sampling()
    assert setting.dynamics.num_steps_denoising == s["num_steps"]
    sampler = SamplerConfig(**{**setting.dynamics.__dict__, "s_cond": 0.0})  # recorded without context noise
    close(karras_sigmas(s["num_steps"]), s["sigmas"], "sigmas")
    out, trajectory = dynamics.sample_next_obs(v["obs"], v["act"], sampler, x_init=s["x_init"])
    close(out, s["output"], "output", LEVEL)
    trajectory_close(trajectory, s["trajectory"], "trajectory")


def test_upsampler_denoiser_matches_reference(engine):
    _, upsampler, vectors = engine
    v = vectors["upsampler"]
    close(bicubic_upsampling(v["low_res_next"], 5), v["bicubic_x5"], "bicubic_x5")
    pc = upsampler.preconditioners(v["sigma"])
    for name in ("c_in", "c_out", "c_skip", "c_noise"):
        close(getattr(pc, name).reshape(-1), v[name], name)
    context = upsampler.context(v["prev_full_res"], v["low_res_next"])
    with torch.no_grad():
        raw = upsampler.model_output(v["noisy_next_obs"], v["sigma"], context, None, pc)
        denoised = upsampler.denoise(v["noisy_next_obs"], v["sigma"], context, None)
    close(raw, v["raw_model_output"], "raw_model_output")
    close(denoised, v["denoised_quantized"], "denoised_quantized", LEVEL)
    close(edm.training_target(v["full_res_next"], v["noisy_next_obs"], pc), v["training_target"], "training_target")


@pytest.mark.parametrize("name", ["upsampler_sampler_higher_quality", "upsampler_sampler_fast"])
def test_upsampler_churn_samplers_match_reference(engine, name):
    _, upsampler, vectors = engine
    v, s = vectors["upsampler"], vectors[name]
    setting = (higher_quality_sampling() if name.endswith("higher_quality") else fast_sampling()).upsampler
    recorded = (
        "num_steps_denoising",
        "order",
        "s_churn",
        "s_tmin",
        "s_tmax",
        "s_noise",
        "sigma_min",
        "sigma_max",
        "rho",
    )
    assert {k: float(getattr(setting, k)) for k in recorded} == {k: float(s[k]) for k in recorded}
    context = upsampler.context(v["prev_full_res"], v["low_res_next"])
    close(context, s["context"].flatten(1, 2), "context")
    draws = list(s["churn_noise"])
    out, trajectory = upsampler.upsample(
        v["prev_full_res"], v["low_res_next"], setting, x_init=s["x_init"], churn_noise=iter(draws)
    )
    close(out, s["output"], "output", LEVEL)
    trajectory_close(trajectory, s["trajectory"], "trajectory")
    # Every recorded draw was used, so the sampler churned at every step as the reference did.
    with pytest.raises(StopIteration):
        upsampler.upsample(
            v["prev_full_res"], v["low_res_next"], setting, x_init=s["x_init"], churn_noise=iter(draws[:-1])
        )


def test_paper_engine_has_the_reference_tensors(conformance_dir):
    reference = json.loads((conformance_dir / "csgo_paper_checkpoint_shapes.json").read_text())
    cfg = EngineConfig()
    with torch.device("meta"):
        networks = {"denoiser": Denoiser(cfg.dynamics), "upsampler": Upsampler(cfg.upsampler)}
    ours = {f"{part}.{k}": list(t.shape) for part, m in networks.items() for k, t in m.state_dict().items()}
    assert ours == {k: list(v) for k, v in reference["tensors"].items()}
    assert {part: sum(p.numel() for p in m.parameters()) for part, m in networks.items()} == reference["parameters"]


def test_context_noise_at_sampling_is_drawn_at_every_step(engine):
    dynamics, _, vectors = engine
    v = vectors["dynamics"]
    setting = higher_quality_sampling().dynamics
    x_init = vectors["dynamics_sampler_higher_quality"]["x_init"]
    runs = [
        dynamics.sample_next_obs(v["obs"], v["act"], setting, x_init=x_init, generator=torch.Generator().manual_seed(s))
        for s in (0, 0, 1)
    ]
    assert torch.equal(runs[0][0], runs[1][0])  # reproducible from the generator
    assert not torch.equal(runs[0][1][1], runs[2][1][1])  # the context noise differs between draws
    clean = dynamics.sample_next_obs(v["obs"], v["act"], SamplerConfig(num_steps_denoising=3), x_init=x_init)[0]
    assert 0 < (runs[0][0] - clean).abs().max() < 0.5  # light: it moves the sample, not much


def test_context_noise_at_sampling_needs_the_embedding(conformance_dir):
    parts = split_reference(load_reference_file(conformance_dir / "small_agent_reference_format.pt"))
    atari = Denoiser(infer_denoiser_config(parts["denoiser"]))
    obs, act = torch.zeros(1, 4, 3, 64, 64), torch.zeros(1, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="s_cond=0.005: this denoiser's network has no context-noise embedding"):
        atari.sample_next_obs(obs, act, SamplerConfig(s_cond=0.005))
