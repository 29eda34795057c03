"""The project's denoiser, loaded from the reference checkpoint, reproduces the reference's numbers."""

import json

import pytest
import torch

from diamond.checkpoints.reference import infer_denoiser_config, join_reference, load_reference_file, split_reference
from diamond.configs.schema import DenoiserConfig, SamplerConfig
from diamond.imaging import to_uint8
from diamond.models.diffusion.denoiser import Denoiser
from diamond.models.diffusion.schedule import karras_sigmas

TOL = 1e-4


@pytest.fixture(scope="module")
def reference(conformance_dir):
    sd = load_reference_file(conformance_dir / "small_agent_reference_format.pt")
    vectors = torch.load(conformance_dir / "reference_vectors.pt", weights_only=True)
    return sd, vectors


@pytest.fixture(scope="module")
def denoiser(reference):
    sd, _ = reference
    parts = split_reference(sd)
    cfg = infer_denoiser_config(parts["denoiser"])
    model = Denoiser(cfg)
    model.load_state_dict(parts["denoiser"], strict=True)
    return model.eval()


def test_inferred_config_matches_documented_small_agent(denoiser):
    net = denoiser.cfg.net
    assert (net.cond_channels, net.depths, net.channels, net.attn_depths, net.action_space.size) == (
        64,
        (1, 1, 1, 1),
        (32, 32, 64, 64),
        (False, False, False, True),
        4,
    )


def test_preconditioners_and_network(reference, denoiser):
    v = reference[1]["denoiser"]
    pc = denoiser.preconditioners(v["sigma"])
    for name in ("c_in", "c_out", "c_skip", "c_noise"):
        assert torch.allclose(getattr(pc, name), v[name], atol=TOL), name
    with torch.no_grad():
        out = denoiser.model_output(v["noisy_next_obs"], v["sigma"], v["obs"], v["act"])
        assert (out - v["raw_model_output"]).abs().max() <= TOL
        den = denoiser.denoise(v["noisy_next_obs"], v["sigma"], v["obs"].flatten(1, 2), v["act"])
    level_diff = (to_uint8(den).int() - to_uint8(v["denoised_quantized"]).int()).abs()
    assert level_diff.max() <= 1 and (level_diff > 0).float().mean() < 1e-3
    from diamond.models.diffusion.edm import training_target

    target = training_target(v["clean_next_obs"], v["noisy_next_obs"], pc)
    assert (target - v["training_target"]).abs().max() <= TOL


@pytest.mark.parametrize("name", ["sampler_euler3", "sampler_euler1", "sampler_heun2"])
def test_samplers(reference, denoiser, name):
    v = reference[1][name]
    ctx = reference[1]["denoiser"]
    c = v["config"]
    cfg = SamplerConfig(
        num_steps_denoising=c["num_steps_denoising"],
        sigma_min=c["sigma_min"],
        sigma_max=c["sigma_max"],
        rho=c["rho"],
        order=c["order"],
        s_churn=c["s_churn"],
        s_tmin=c["s_tmin"],
        s_tmax=float(c["s_tmax"]),
        s_noise=c["s_noise"],
    )
    sigmas = karras_sigmas(cfg.num_steps_denoising, cfg.sigma_min, cfg.sigma_max, cfg.rho)
    assert torch.allclose(sigmas, v["sigmas"], atol=TOL)
    out, traj = denoiser.sample_next_obs(ctx["obs"], ctx["act"], cfg, x_init=v["x_init"])
    traj = torch.stack(traj, dim=1)
    assert traj.shape == v["trajectory"].shape
    # Quantised intermediate predictions may flip one 8-bit level at a rounding boundary; the effect on x is
    # bounded by that level times the step's weight, so compare with a tolerance of one level.
    assert (traj - v["trajectory"]).abs().max() <= 2 / 255 + TOL
    assert (out - v["output"]).abs().max() <= 2 / 255 + TOL
    assert (out - v["output"]).abs().mean() <= 1e-5


@pytest.mark.parametrize("n", [1, 3, 10])
def test_karras_schedule(reference, n):
    assert torch.allclose(karras_sigmas(n), reference[1]["sigmas_karras"][f"n{n}"], atol=TOL)


def test_paper_denoiser_matches_reference_layout(conformance_dir):
    spec = json.loads((conformance_dir / "paper_config_checkpoint_shapes.json").read_text())
    model = Denoiser(DenoiserConfig())
    ref = join_reference({"denoiser": model.state_dict()})
    expected = {k: v for k, v in spec["state_dict_shapes"].items() if k.startswith("denoiser.")}
    assert {k: list(v.shape) for k, v in ref.items()} == expected
    assert sum(p.numel() for p in model.parameters()) == spec["num_params"]["denoiser"] == 4_405_955


def test_conversion_round_trip(reference, denoiser):
    sd, _ = reference
    parts = split_reference(sd)
    back = join_reference({"denoiser": denoiser.state_dict(), **{k: v for k, v in parts.items() if k != "denoiser"}})
    assert back.keys() == sd.keys()
    assert all(torch.equal(back[k], sd[k]) for k in sd)
