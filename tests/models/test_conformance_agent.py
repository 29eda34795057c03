"""The reward/termination model, the actor-critic and the λ-returns reproduce the reference's numbers."""

import json

import pytest
import torch

from diamond.checkpoints.reference import (
    infer_actor_critic_config,
    infer_rew_end_config,
    join_reference,
    load_reference_file,
    split_reference,
)
from diamond.configs.schema import ActorCriticConfig, RewEndConfig
from diamond.models.actor_critic import ActorCritic
from diamond.models.rew_end import RewEndModel
from diamond.rl.returns import lambda_returns
from diamond.spaces import ActionSpace

TOL = 1e-4


@pytest.fixture(scope="module")
def reference(conformance_dir):
    parts = split_reference(load_reference_file(conformance_dir / "small_agent_reference_format.pt"))
    vectors = torch.load(conformance_dir / "reference_vectors.pt", weights_only=True)
    return parts, vectors


def test_rew_end_model_matches_reference(reference):
    parts, vectors = reference
    cfg = infer_rew_end_config(parts["rew_end_model"])
    assert (cfg.cond_channels, cfg.depths, cfg.channels, cfg.attn_depths, cfg.lstm_dim, cfg.action_space.size) == (
        32,
        (1, 1, 1, 1),
        (16, 16, 16, 16),
        (False,) * 4,
        64,
        4,
    )
    model = RewEndModel(cfg).eval()
    model.load_state_dict(parts["rew_end_model"], strict=True)
    v = vectors["rew_end_model"]
    with torch.no_grad():
        logits_rew, logits_end, (hx, cx) = model(v["obs"], v["act"], v["next_obs"])
    for name, ours in (("logits_rew", logits_rew), ("logits_end", logits_end), ("hx", hx), ("cx", cx)):
        assert ours.shape == v[name].shape, name
        assert (ours - v[name]).abs().max() <= TOL, name


def test_actor_critic_matches_reference(reference):
    parts, vectors = reference
    cfg = infer_actor_critic_config(parts["actor_critic"])
    assert (cfg.channels, cfg.lstm_dim, cfg.action_space.size) == ((16, 16, 32, 32), 64, 4)
    model = ActorCritic(cfg).eval()
    model.load_state_dict(parts["actor_critic"], strict=True)
    v = vectors["actor_critic"]
    obs = v["obs_sequence"]  # (steps, batch, C, H, W)
    state = None
    with torch.no_grad():
        for t in range(obs.size(0)):
            logits, values, state = model(obs[t], state)
            assert (logits - v["logits_act"][t]).abs().max() <= TOL
            assert (values - v["values"][t]).abs().max() <= TOL
    assert (state[0] - v["hx"]).abs().max() <= TOL and (state[1] - v["cx"]).abs().max() <= TOL


def test_lambda_returns_match_reference(reference):
    v = reference[1]["lambda_returns"]
    ours = lambda_returns(v["rew"], v["end"], v["trunc"], v["val_bootstrap"], v["gamma"], v["lambda_"])
    assert (ours - v["returns"]).abs().max() <= TOL


def test_paper_sizes_match_reference_names_and_shapes(conformance_dir):
    expected = json.loads((conformance_dir / "paper_config_checkpoint_shapes.json").read_text())
    shapes = expected["state_dict_shapes"]
    for part, model in (
        ("rew_end_model", RewEndModel(RewEndConfig())),
        ("actor_critic", ActorCritic(ActorCriticConfig())),
    ):
        flat = join_reference({part: model.state_dict()})
        assert {k: list(t.shape) for k, t in flat.items()} == {
            k: s for k, s in shapes.items() if k.startswith(part + ".")
        }
        assert sum(p.numel() for p in model.parameters()) == expected["num_params"][part]


def test_burn_in_reaches_the_reference_state_and_masked_steps_leave_it(reference):
    """burn_in encodes all frames in one call, then steps the LSTM: the state stepping frame by frame reaches."""
    parts, vectors = reference
    model = ActorCritic(infer_actor_critic_config(parts["actor_critic"])).eval()
    model.load_state_dict(parts["actor_critic"], strict=True)
    v = vectors["actor_critic"]
    obs = v["obs_sequence"].transpose(0, 1)  # (batch, steps, C, H, W)
    h, c = model.burn_in(obs)
    assert (h - v["hx"]).abs().max() <= TOL and (c - v["cx"]).abs().max() <= TOL
    mask = torch.ones(obs.shape[:2], dtype=torch.bool)
    mask[0, -1] = False  # the first sequence's last frame is padding: its state stops one frame earlier
    h_masked, _ = model.burn_in(obs, mask)
    h_short, _ = model.burn_in(obs[:1, :-1])
    assert torch.allclose(h_masked[0], h_short[0], atol=1e-6) and torch.equal(h_masked[1:], h[1:])


def test_untrained_heads_give_uniform_policy_and_zero_value():
    model = ActorCritic(
        ActorCriticConfig(channels=(8, 8), lstm_dim=16, action_space=ActionSpace.discrete(5)), image_size=16
    )
    logits, values, _ = model(torch.rand(3, 3, 16, 16) * 2 - 1)
    assert torch.equal(logits, torch.zeros(3, 5)) and torch.equal(values, torch.zeros(3))


def test_lstm_initialisation():
    lstm = RewEndModel(
        RewEndConfig(channels=(8,), depths=(1,), attn_depths=(False,), lstm_dim=6, cond_channels=8), image_size=8
    ).lstm
    b = lstm.bias_ih_l0.detach()
    assert torch.equal(b, torch.tensor([0.0] * 6 + [1.0] * 6 + [0.0] * 12))
    assert torch.equal(lstm.bias_hh_l0.detach(), torch.zeros(24))
    for gate in lstm.weight_hh_l0.detach().chunk(4):
        assert torch.allclose(gate @ gate.T, torch.eye(6), atol=1e-5)
