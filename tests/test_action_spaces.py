"""Action spaces end to end: discrete, a 51-entry multi-hot with one-hot groups (the CS:GO layout, spec §10)
and continuous, each through the episode store, the segment sampler, the action encoder, the denoiser's
loss and sampling, the policy's distribution and a step of the world-model environment (tiny networks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diamond.configs.schema import (
    DIFFUSION_FORMULATIONS,
    ActorCriticConfig,
    ConfigError,
    DenoiserConfig,
    DenoiserNetConfig,
    RewEndConfig,
    SamplerConfig,
    from_dict,
    to_dict,
)
from diamond.data import Episode, EpisodeStore, SegmentSampler
from diamond.models.action_distribution import ActionDistribution, policy_outputs
from diamond.models.action_encoder import ActionEncoder
from diamond.models.actor_critic import ActorCritic
from diamond.models.diffusion.formulations import FORMULATIONS, NextFrameDenoiser, make_denoiser
from diamond.models.rew_end import RewEndModel
from diamond.rl.rollouts import RolloutRunner
from diamond.rl.world_model_env import WorldModelEnv
from diamond.spaces import ActionError, ActionSpace, from_json, to_json

KEYS = ("w", "a", "s", "d", "space", "ctrl", "shift", "1", "2", "3", "r", "lmb", "rmb")
MOUSE_X = (-1000, -500, -300, -200, -100, -60, -30, -20, -10, -4, -2, 0, 2, 4, 10, 20, 30, 60, 100, 200, 300, 500, 1000)
MOUSE_Y = (-200, -100, -50, -20, -10, -4, -2, 0, 2, 4, 10, 20, 50, 100, 200)


def csgo_space() -> ActionSpace:
    names = [*KEYS, *(f"mouse_x{v:+d}" for v in MOUSE_X), *(f"mouse_y{v:+d}" for v in MOUSE_Y)]
    x = tuple(range(len(KEYS), len(KEYS) + len(MOUSE_X)))
    y = tuple(range(x[-1] + 1, len(names)))
    return ActionSpace.multi_hot(names, groups=(x, y))


SPACES = {
    "discrete": ActionSpace.discrete(5, ("NOOP", "UP", "DOWN", "LEFT", "RIGHT")),
    "multi_hot": csgo_space(),
    "continuous": ActionSpace.continuous(low=(-1.0, 0.0, -2.0), high=(1.0, 5.0, 2.0), names=("steer", "gas", "turn")),
}
SIZE, CONTEXT, TARGETS = 8, 2, 2


def tiny_denoiser_cfg(space: ActionSpace) -> DenoiserConfig:
    net = DenoiserNetConfig(
        img_channels=3,
        num_steps_conditioning=CONTEXT,
        cond_channels=8,
        depths=(1, 1),
        channels=(4, 4),
        attn_depths=(False, False),
        action_space=space,
    )
    return DenoiserConfig(net=net)


def episodes(space: ActionSpace, rng: np.random.Generator, lengths=(7, 12, 5)) -> list[Episode]:
    out = []
    for t in lengths:
        out.append(
            Episode(
                obs=rng.integers(0, 256, (t, 3, SIZE, SIZE), dtype=np.uint8),
                act=space.sample(rng, t),
                rew=rng.integers(-1, 2, t).astype(np.float32),
                end=np.eye(1, t, t - 1, dtype=np.uint8)[0],
                trunc=np.zeros(t, np.uint8),
                final_obs=rng.integers(0, 256, (3, SIZE, SIZE), dtype=np.uint8),
            )
        )
    return out


def test_the_csgo_layout_has_51_entries_in_two_one_hot_groups():
    space = csgo_space()
    assert space.size == 51 and [len(g) for g in space.groups] == [23, 15] and len(space.free_entries()) == 13


@pytest.mark.parametrize("kind", sorted(SPACES))
def test_an_action_space_end_to_end(kind, tmp_path):
    space = SPACES[kind]
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    # The store keeps the actions exactly, and its metadata names the space.
    store = EpisodeStore.create(tmp_path / "store", {"obs_shape": [3, SIZE, SIZE], "action_space": to_json(space)})
    eps = episodes(space, rng)
    for ep in eps:
        store.add(ep)
    store.close()
    store = EpisodeStore.open(tmp_path / "store", read_only=True)
    assert from_json(store.metadata["action_space"], "test") == space
    for i, ep in enumerate(eps):
        assert store.get(i).act.dtype == space.dtype and np.array_equal(store.get(i).act, ep.act)

    # Segments carry one action per step of the space's shape; padding is an all-zero action.
    batch = SegmentSampler(store, np.random.default_rng(1)).sample(4, CONTEXT + TARGETS, "end")
    assert tuple(batch.act.shape) == (4, CONTEXT + TARGETS, *space.shape)
    space.check(batch.act[batch.mask_padding].numpy(), "a sampled segment")

    # The encoder reads every kind; the loss trains its rows of the actions that were taken (once the layers
    # that start at zero, through which no gradient would flow, are perturbed).
    denoiser = make_denoiser(tiny_denoiser_cfg(space))
    assert isinstance(denoiser, NextFrameDenoiser) and denoiser.action_space == space
    with torch.no_grad():
        for p in denoiser.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    obs = batch.obs.float() / 127.5 - 1
    loss = denoiser.loss(obs, batch.act, batch.mask_padding, generator=torch.Generator().manual_seed(0))
    loss.backward()
    table = denoiser.inner_model.act_emb[0].weight
    rows_with_grad = set(np.flatnonzero(table.grad.abs().sum(1).numpy() > 0))
    used = batch.act[:, : CONTEXT + TARGETS - 1][batch.mask_padding[:, : CONTEXT + TARGETS - 1]].numpy()
    if kind == "discrete":
        assert rows_with_grad <= set(used.tolist()) and rows_with_grad
    elif kind == "multi_hot":
        assert rows_with_grad <= set(np.flatnonzero(used.sum(0))) and rows_with_grad
    else:
        assert rows_with_grad == set(range(space.size))

    # Sampling: the action changes the frame.
    context = obs[:2, :CONTEXT]
    a1 = torch.from_numpy(space.sample(np.random.default_rng(3), 2 * CONTEXT)).reshape(2, CONTEXT, *space.shape)
    a2 = torch.from_numpy(space.sample(np.random.default_rng(4), 2 * CONTEXT)).reshape(2, CONTEXT, *space.shape)
    noise = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(5))
    x1, _ = denoiser.sample_next_obs(context, a1, SamplerConfig(), x_init=noise)
    x2, _ = denoiser.sample_next_obs(context, a2, SamplerConfig(), x_init=noise)
    assert x1.shape == (2, 3, SIZE, SIZE) and not torch.equal(x1, x2)

    # The policy's distribution draws valid actions; a step of the world model takes them.
    rew_end = RewEndModel(
        RewEndConfig(
            img_channels=3,
            cond_channels=8,
            depths=(1, 1),
            channels=(4, 4),
            attn_depths=(False, False),
            lstm_dim=8,
            action_space=space,
        ),
        image_size=SIZE,
    )
    actor_critic = ActorCritic(
        ActorCriticConfig(img_channels=3, channels=(4,), lstm_dim=8, action_space=space), image_size=SIZE
    )
    assert actor_critic.actor_linear.out_features == policy_outputs(space)
    sampler = SegmentSampler(store, np.random.default_rng(2))
    env = WorldModelEnv(
        denoiser.eval(),
        rew_end.eval(),
        lambda n: sampler.sample(n, CONTEXT, "end"),
        num_envs=3,
        horizon=4,
        sampler=SamplerConfig(num_steps_denoising=1),
        generator=torch.Generator().manual_seed(0),
    )
    assert env.action_space == space
    rollout = RolloutRunner(env, actor_critic, generator=torch.Generator().manual_seed(1)).rollout(3)
    assert tuple(rollout.act.shape) == (3, 3, *space.shape)
    space.check(rollout.act.numpy(), "actions drawn by the policy")
    log_prob = actor_critic.policy(rollout.logits).log_prob(rollout.act)
    assert log_prob.shape == (3, 3) and torch.isfinite(log_prob).all()
    with pytest.raises(ValueError, match="expected actions of shape"):
        env.step(torch.zeros(2, *space.shape))


def test_invalid_actions_name_the_entry_at_fault(tmp_path):
    space = csgo_space()
    act = space.sample(np.random.default_rng(0), 6)
    act[4, space.groups[0][3]] = 1  # a second active bin in the horizontal mouse group
    with pytest.raises(
        ActionError, match=r"action 4 has 2 active entries in the one-hot group mouse_x-1000\.\.mouse_x\+1000"
    ):
        space.check(act, "test")
    act = space.sample(np.random.default_rng(0), 6)
    act[2, 0] = 0.5
    with pytest.raises(ActionError, match=r"action 2, entry w \(index 0\) = 0\.5"):
        space.check(act, "test")
    # Through the store: the episode is refused and the store keeps nothing of it.
    store = EpisodeStore.create(tmp_path / "s", {"obs_shape": [3, SIZE, SIZE], "action_space": to_json(space)})
    bad = episodes(space, np.random.default_rng(1), lengths=(6,))[0]
    bad.act[5, list(space.groups[1])] = 0  # no vertical mouse bin at all
    with pytest.raises(ActionError, match=r"action 5 has 0 active entries in the one-hot group mouse_y-200"):
        store.add(bad)
    assert len(store) == 0

    box = SPACES["continuous"]
    act = box.sample(np.random.default_rng(0), 4)
    act[1, 1] = 7.5
    with pytest.raises(ActionError, match=r"action 1, gas \(dimension 1\) = 7\.5 is outside its bounds \[0\.0, 5\.0\]"):
        box.check(act, "test")


def test_policy_samples_respect_groups_and_bounds():
    for kind in ("multi_hot", "continuous"):
        space = SPACES[kind]
        outputs = torch.randn(64, policy_outputs(space), generator=torch.Generator().manual_seed(0)) * 3
        act = ActionDistribution(space, outputs).sample(torch.Generator().manual_seed(1))
        space.check(act.numpy(), kind)  # raises if a group is not one-hot or a value leaves the box
        dist = ActionDistribution(space, outputs)
        assert torch.isfinite(dist.log_prob(act)).all() and torch.isfinite(dist.entropy()).all()
        if kind == "multi_hot":  # a sum of discrete entropies (a Gaussian's differential entropy may be negative)
            assert (dist.entropy() > 0).all()


def test_a_discrete_encoder_is_the_embedding_it_replaces():
    torch.manual_seed(7)
    enc = ActionEncoder(ActionSpace.discrete(6), 10)
    torch.manual_seed(7)
    emb = torch.nn.Embedding(6, 10)
    assert list(enc.state_dict()) == ["weight"] and torch.equal(enc.weight, emb.weight)
    act = torch.tensor([[0, 5], [3, 3]])
    assert torch.equal(enc(act), emb(act))


def test_multi_hot_encoding_is_the_sum_of_the_active_rows():
    space = csgo_space()
    enc = ActionEncoder(space, 4)
    act = torch.from_numpy(space.sample(np.random.default_rng(0), 3))
    expected = torch.stack([enc.weight[a.bool()].sum(0) for a in act])
    assert torch.allclose(enc(act), expected)


def test_spaces_round_trip_through_configs_and_older_configs_still_read():
    for space in SPACES.values():
        cfg = tiny_denoiser_cfg(space)
        assert from_dict(DenoiserConfig, to_dict(cfg), "test") == cfg
        assert from_json(to_json(space), "test") == space
    legacy = to_dict(tiny_denoiser_cfg(ActionSpace.discrete(4)))
    del legacy["net"]["action_space"], legacy["formulation"]
    legacy["net"]["num_actions"] = 7
    assert from_dict(DenoiserConfig, legacy, "old file").net.action_space == ActionSpace.discrete(7)
    with pytest.raises(ValueError, match=r"action_space: kind='joystick' is invalid; expected one of"):
        from_dict(DenoiserNetConfig, {"action_space": {"kind": "joystick"}}, "config file x.json")


def test_the_formulation_is_chosen_by_name():
    assert set(FORMULATIONS) == set(DIFFUSION_FORMULATIONS)
    with pytest.raises(ConfigError, match=r"formulation='ddim' is invalid; expected one of \['edm', 'ddpm'\]"):
        from_dict(DenoiserConfig, {"formulation": "ddim"}, "--set denoiser.formulation=ddim")


def test_a_checkpoint_written_before_action_spaces_still_loads_and_resumes(tmp_path):
    from diamond.checkpoints.denoiser import load_denoiser
    from diamond.checkpoints.project import require_same_config, save_checkpoint
    from diamond.configs.schema import WorldModelRunConfig

    cfg = WorldModelRunConfig(denoiser=tiny_denoiser_cfg(ActionSpace.discrete(4)))
    old = to_dict(cfg)
    del old["denoiser"]["formulation"], old["denoiser"]["net"]["action_space"]
    old["denoiser"]["net"]["num_actions"] = 4
    state = make_denoiser(cfg.denoiser).state_dict()
    save_checkpoint(tmp_path / "old.pt", old, denoiser=state, step=0)
    denoiser, loaded = load_denoiser(tmp_path / "old.pt")
    assert loaded == cfg and all(torch.equal(denoiser.state_dict()[k], v) for k, v in state.items())
    require_same_config(tmp_path / "old.pt", old, to_dict(cfg), WorldModelRunConfig)  # a resume sees no change
    with pytest.raises(ValueError, match=r"denoiser.net.action_space.size: checkpoint=4, current=5"):
        changed = WorldModelRunConfig(denoiser=tiny_denoiser_cfg(ActionSpace.discrete(5)))
        require_same_config(tmp_path / "old.pt", old, to_dict(changed), WorldModelRunConfig)
