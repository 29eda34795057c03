"""The DDPM world model (spec §9), loaded from the reference checkpoint, reproduces the reference's numbers:
the schedule, the predicted noise, single-step sampling at t = 500 and 3- and 10-step DDPM sampling with the
recorded step noise; its formulas agree with diffusers' DDPMScheduler where diffusers is installed."""

import pytest
import torch

from diamond.checkpoints.denoiser import load_denoiser
from diamond.configs.schema import SamplerConfig
from diamond.models.diffusion import ddpm

TOL = 1e-4


@pytest.fixture(scope="module")
def model_and_vectors(conformance_dir):
    model, cfg = load_denoiser(conformance_dir / "ddpm_reference_format.pt")
    return model, torch.load(conformance_dir / "ddpm_vectors.pt", weights_only=True)


def close_up_to_one_level(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    """The folder README's tolerance: 1e-4 everywhere but 0.01% of values, which may be one 8-bit level off."""
    diff = (ours - theirs).abs()
    assert diff.max() <= 2 / 255 + TOL
    assert (diff > TOL).float().mean() <= 1e-4


def test_the_reference_checkpoint_loads_as_the_ddpm_formulation(model_and_vectors):
    model, v = model_and_vectors
    assert isinstance(model, ddpm.DdpmDenoiser) and model.cfg.formulation == "ddpm"
    net = model.cfg.net
    assert (net.channels, net.attn_depths, net.action_space.size) == ((32, 32, 64, 64), (False,) * 3 + (True,), 4)
    assert torch.equal(model.alphas_cumprod, v["model"]["alphas_cumprod"])


def test_noising_and_the_predicted_noise(model_and_vectors):
    model, v = model_and_vectors
    m = v["model"]
    a = model.alphas_cumprod[m["timesteps"]].view(-1, 1, 1, 1)
    assert (a.sqrt() * m["next_obs"] + (1 - a).sqrt() * m["noise"] - m["noisy_next_obs"]).abs().max() <= TOL
    assert torch.allclose(ddpm.c_noise(m["timesteps"]), m["c_noise"], atol=1e-7)
    with torch.no_grad():
        eps = model.predict_noise(m["noisy_next_obs"], m["timesteps"], m["obs"], m["act"])
    assert (eps - m["predicted_noise"]).abs().max() <= TOL


@pytest.mark.parametrize("n", [1, 3, 10])
def test_sampling_with_the_recorded_noise(model_and_vectors, n):
    model, v = model_and_vectors
    s, m = v[f"sampler_{n}"], v["model"]
    assert ddpm.sampling_timesteps(n) == s["timesteps"].tolist()
    out, trajectory = model.sample_next_obs(
        m["obs"], m["act"], SamplerConfig(num_steps_denoising=n), x_init=s["x_init"], step_noise=iter(s["step_noise"])
    )
    assert len(trajectory) == len(s["trajectory"]) == n + 1
    for ours, theirs in zip(trajectory, s["trajectory"]):
        close_up_to_one_level(ours, theirs)
    close_up_to_one_level(out, s["output"])


def test_the_formulas_are_diffusers_ddpm_scheduler():
    diffusers = pytest.importorskip("diffusers")
    scheduler = diffusers.DDPMScheduler()  # its defaults are the reference's configuration
    assert torch.equal(scheduler.alphas_cumprod, ddpm.alphas_cumprod())
    x, eps = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    for n in (2, 3, 10):
        scheduler.set_timesteps(n)
        assert scheduler.timesteps.tolist() == ddpm.sampling_timesteps(n)
        timesteps = ddpm.sampling_timesteps(n)
        for i, t in enumerate(timesteps):
            prev = timesteps[i + 1] if i + 1 < n else -1
            a_t = ddpm.alphas_cumprod()[t]
            a_prev = ddpm.alphas_cumprod()[prev] if prev >= 0 else torch.tensor(1.0)
            seed = torch.Generator().manual_seed(t)
            theirs = scheduler.step(eps, t, x, generator=seed).prev_sample
            draw = torch.randn(x.shape, generator=torch.Generator().manual_seed(t)) if t > 0 else None
            torch.testing.assert_close(ddpm.posterior_step(x, eps, a_t, a_prev, draw), theirs, atol=1e-5, rtol=1e-5)
