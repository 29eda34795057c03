"""EDM pieces whose behaviour the spec pins down (spec §4)."""

import dataclasses
import math

import pytest
import torch

from diamond.configs.schema import DenoiserConfig, DenoiserNetConfig, SamplerConfig
from diamond.imaging import quantize, to_model_range, to_uint8
from diamond.models.diffusion import edm
from diamond.models.diffusion.denoiser import Denoiser
from diamond.models.diffusion.samplers import sample
from diamond.models.diffusion.schedule import karras_sigmas

TINY = DenoiserConfig(
    net=DenoiserNetConfig(cond_channels=16, channels=(8, 8), depths=(1, 1), attn_depths=(False, False))
)


def test_quantisation_truncates_not_rounds():
    # 0.999 of a level above level 10 must stay at level 10: floor, not round.
    x = torch.tensor([(10.999 / 255) * 2 - 1, 2.0, -3.0])
    assert to_uint8(x).tolist() == [10, 255, 0]
    assert torch.allclose(quantize(x), to_model_range(torch.tensor([10, 255, 0], dtype=torch.uint8)))


def test_preconditioning_reconstructs_clean_image_from_target():
    x0 = torch.rand(3, 3, 8, 8) * 2 - 1
    sigma = torch.tensor([0.01, 0.5, 10.0])
    noisy = edm.add_noise(x0, sigma, 0.3, generator=torch.Generator().manual_seed(0))
    pc = edm.preconditioners(sigma, 0.5, 0.3)
    target = edm.training_target(x0, noisy, pc)
    d = edm.as_image_scale(pc.c_skip, 4) * noisy + edm.as_image_scale(pc.c_out, 4) * target
    assert torch.allclose(d, x0, atol=1e-5)
    # σ_eff includes the offset noise: at σ → 0 the skip weight is σ_data²/(σ_off² + σ_data²), not 1.
    assert math.isclose(edm.preconditioners(torch.tensor(0.0), 0.5, 0.3).c_skip.item(), 0.25 / 0.34, rel_tol=1e-6)


def test_offset_noise_is_constant_over_pixels():
    x0 = torch.zeros(4, 3, 16, 16)
    noisy = edm.add_noise(x0, torch.zeros(4), 0.3, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(noisy, noisy[..., :1, :1].expand_as(noisy))
    assert noisy[..., 0, 0].std() > 0.1


def test_training_sigmas_are_lognormal_and_clipped():
    s = edm.sample_training_sigmas(200_000, -0.4, 1.2, 0.002, 20.0, generator=torch.Generator().manual_seed(0))
    assert s.min() >= 0.002 and s.max() <= 20.0
    assert abs(s.log().median().item() + 0.4) < 0.02


def test_karras_endpoints_and_monotonic():
    s = karras_sigmas(5, 0.002, 5.0, 7.0)
    assert s[0].item() == pytest.approx(5.0, rel=1e-5) and s[-2].item() == pytest.approx(0.002, rel=1e-5) and s[-1] == 0
    assert (s[:-1] > s[1:]).all()


def test_euler_on_a_known_denoiser_is_exact_in_one_step():
    # With a perfect denoiser for a point mass at c, one Euler step from σ_max to 0 lands exactly on c.
    c = torch.full((1, 3, 4, 4), 0.25)
    out, traj = sample(lambda x, s: c.expand_as(x), torch.randn(1, 3, 4, 4), karras_sigmas(1))
    assert torch.allclose(out, c) and len(traj) == 2


def test_churn_adds_noise_only_when_enabled():
    den = lambda x, s: 0.5 * x  # noqa: E731  (an imperfect denoiser, so injected noise shows in the result)
    x0 = torch.randn(1, 1, 4, 4)

    def run(churn: float, seed: int) -> torch.Tensor:
        return sample(den, x0, karras_sigmas(3), s_churn=churn, generator=torch.Generator().manual_seed(seed))[0]

    assert torch.equal(run(0.0, 0), run(0.0, 1))  # deterministic without churn
    assert not torch.allclose(run(1.0, 0), run(1.0, 1))  # fresh noise with churn
    assert torch.equal(run(1.0, 0), run(1.0, 0))  # and reproducible from the generator


def test_loss_ignores_padded_targets_and_uses_own_prediction():
    torch.manual_seed(0)
    model = Denoiser(TINY)
    obs = torch.rand(2, 6, 3, 16, 16) * 2 - 1
    act = torch.randint(0, 4, (2, 6))
    mask = torch.ones(2, 6, dtype=torch.bool)
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    base = model.loss(obs, act, mask, generator=g())
    # Changing a padded sample's target frames does not change the loss.
    mask2 = mask.clone()
    mask2[1, 4:] = False
    obs2 = obs.clone()
    obs2[1, 4:] = 0.7
    assert torch.allclose(model.loss(obs, act, mask2, generator=g()), model.loss(obs2, act, mask2, generator=g()))
    assert torch.isfinite(base)


def test_second_target_is_conditioned_on_the_quantised_first_prediction():
    torch.manual_seed(0)
    model = Denoiser(TINY)
    obs = torch.rand(2, 6, 3, 16, 16) * 2 - 1
    calls = []
    model.inner_model.register_forward_hook(lambda m, args, out: calls.append((args, out.detach())))
    model.loss(obs, torch.randint(0, 4, (2, 6)), torch.ones(2, 6, dtype=torch.bool))
    (noisy1, _, ctx1, _, cond1), out1 = calls[0]
    (_, _, ctx2, _, _), _ = calls[1]
    assert cond1 is None  # no context noise: the network is told nothing about it
    sd = model.cfg.sigma_data
    # Second call's context: true frames 1..3, then the model's own quantised denoised first target.
    assert torch.allclose(ctx2[:, :9] * sd, obs[:, 1:4].flatten(1, 2), atol=1e-6)
    last = ctx2[:, 9:] * sd
    assert not torch.allclose(last, obs[:, 4], atol=1e-3)
    levels = (last + 1) / 2 * 255
    assert torch.allclose(levels, levels.round(), atol=1e-3)  # 8-bit quantised


def test_context_noise_in_training_noises_the_context_and_tells_the_network():
    """spec §10: with context noise, each target's context is x + offset noise + σ_cond ε and the network
    receives c_noise_cond = ln(σ_cond) / 4 (σ_cond drawn from the training distribution)."""
    torch.manual_seed(0)
    net = dataclasses.replace(TINY.net, context_noise_embedding=True)
    model = Denoiser(dataclasses.replace(TINY, net=net, context_noise=True))
    obs = torch.rand(64, 5, 3, 16, 16) * 2 - 1
    calls = []
    model.inner_model.register_forward_hook(lambda m, args, out: calls.append(args))
    model.loss(obs, torch.randint(0, 4, (64, 5)), torch.ones(64, 5, dtype=torch.bool))
    (_, _, ctx, _, c_noise_cond) = calls[0]
    sigma_cond = (c_noise_cond * 4).exp()
    residual = ctx * model.cfg.sigma_data - obs[:, :4].flatten(1, 2)
    offset = residual.mean(dim=(2, 3), keepdim=True)  # the per-channel offset noise, ε_c · σ_off
    per_pixel = (residual - offset).std(dim=(1, 2, 3))
    assert torch.allclose(per_pixel, sigma_cond, rtol=0.05)
    dist = model.cfg.sigma_distribution
    assert sigma_cond.min() >= dist.sigma_min and sigma_cond.max() <= dist.sigma_max
    assert abs(sigma_cond.log().mean().item() - dist.loc) < 0.5  # drawn from ln σ ~ N(loc, scale²)


def test_sample_next_obs_shapes_and_range():
    model = Denoiser(TINY).eval()
    obs = torch.rand(3, 4, 3, 16, 16) * 2 - 1
    out, traj = model.sample_next_obs(obs, torch.zeros(3, 4, dtype=torch.long), SamplerConfig(num_steps_denoising=2))
    assert out.shape == (3, 3, 16, 16) and len(traj) == 3


def test_unet_handles_sizes_not_multiple_of_levels():
    cfg = DenoiserConfig(
        net=DenoiserNetConfig(cond_channels=16, channels=(8, 8, 8), depths=(1, 1, 1), attn_depths=(False, False, False))
    )
    model = Denoiser(cfg)
    out = model.model_output(
        torch.randn(2, 3, 30, 21), torch.ones(2), torch.randn(2, 4, 3, 30, 21), torch.zeros(2, 4, dtype=torch.long)
    )
    assert out.shape == (2, 3, 30, 21)
