"""Held-out evaluation of the engine (spec §10) on a tiny synthetic world: a camera that looks at a wide
textured panorama and pans 5 full-resolution pixels (one low-resolution pixel) per step in the direction
of the mouse, as turning right moves the picture left in a first-person game."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from diamond import fps_actions
from diamond.configs.engine import EngineConfig, dynamics_denoiser, upsampler_denoiser
from diamond.data import Episode
from diamond.data.engine_data import EngineSplit
from diamond.data.store import EpisodeStore
from diamond.evaluation.action_sensitivity import (
    action_variants,
    horizontal_shift,
    mirrored_mouse_x,
    mouse_x,
    pans_in_commanded_direction,
    with_mouse_x,
)
from diamond.evaluation.engine_evaluation import evaluate_engine
from diamond.imaging import downscale_frames, to_display, to_model_range
from diamond.layout import EngineEvaluation, StaticDataset
from diamond.models.diffusion.upsampler import bicubic_upsampling
from diamond.models.engine import Engine
from diamond.spaces import to_json

LOW, FULL, FACTOR = (6, 10), (30, 50), 5
PANORAMA_WIDTH, START = FULL[1] + 400, 200
EPISODE_FRAMES, CONTEXT = 16, 4
STEPS = 6  # action-sensitivity steps in the tests


def panorama() -> np.ndarray:
    """(3, H, PANORAMA_WIDTH) uint8: strong column structure (for the shift measure) plus some texture."""
    rng = np.random.default_rng(123)
    knots = rng.integers(0, 256, size=(3, PANORAMA_WIDTH // FACTOR + 1))  # structure coarser than a low-res pixel
    x = np.arange(PANORAMA_WIDTH) / FACTOR
    columns = np.stack([np.interp(x, np.arange(knots.shape[1]), k) for k in knots])[:, None]
    texture = rng.integers(0, 256, size=(3, FULL[0], PANORAMA_WIDTH))
    return (0.8 * columns + 0.2 * texture).astype(np.uint8)


PANORAMA = panorama()
FULL_VIEWS = np.stack([PANORAMA[:, :, o : o + FULL[1]] for o in range(PANORAMA_WIDTH - FULL[1] + 1)])
LOW_VIEWS = downscale_frames(FULL_VIEWS, LOW)
OFFSET_OF_LOW = {v.tobytes(): o for o, v in enumerate(LOW_VIEWS)}


def pan(act: np.ndarray) -> np.ndarray:
    """The camera's move (full-resolution pixels) for actions (..., 51): turning right moves it right."""
    return FACTOR * np.sign(mouse_x(act))


def episode(seed: int) -> Episode:
    rng = np.random.default_rng(seed)
    act = np.stack(
        [fps_actions.encode(("w",) * int(rng.integers(2)), rng.choice([-60, 0, 60])) for _ in range(EPISODE_FRAMES)]
    )
    offsets = START + np.concatenate([[0], np.cumsum(pan(act[:-1]))])
    full = FULL_VIEWS[offsets]
    n = EPISODE_FRAMES - 1
    zeros = np.zeros(n, np.uint8)
    return Episode(
        obs=full[:-1], act=act[:-1], rew=np.zeros(n, np.float32), end=zeros, trunc=zeros, final_obs=full[-1],
        info={"last_action": act[-1].tolist()},
    )  # fmt: skip


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> EngineSplit:
    root = tmp_path_factory.mktemp("static")
    space = to_json(fps_actions.csgo_action_space())
    for name, seeds in (("train", (0,)), ("test", (1, 2))):
        episodes = [episode(s) for s in seeds]
        for res, shape in (("low_res", LOW), ("full_res", FULL)):
            meta = {"obs_shape": [3, *shape], "action_space": space, "num_actions": fps_actions.SIZE}
            store = EpisodeStore.create(root / StaticDataset.store(name, res), meta)
            for ep in episodes:
                obs = ep.obs if res == "full_res" else downscale_frames(ep.obs, LOW)
                final = ep.final_obs if res == "full_res" else downscale_frames(ep.final_obs[None], LOW)[0]
                store.add(Episode(obs, ep.act, ep.rew, ep.end, ep.trunc, final, ep.info))
            store.close()
    split = EngineSplit(root, "test")
    yield split
    split.close()


def tiny_engine() -> tuple[Engine, EngineConfig]:
    small = {"channels": (8, 8), "depths": (1, 1), "attn_depths": (False, False), "cond_channels": 16}
    cfg = EngineConfig(
        dynamics=dynamics_denoiser(**small), upsampler=upsampler_denoiser(**small), eval_contexts=4, rollout_horizon=3
    )
    torch.manual_seed(0)
    return Engine(cfg), cfg


def make_perfect(engine: Engine) -> None:
    """The engine knows the world: the next view from the last one and the mouse, the full view from the low."""

    def offset(low: torch.Tensor) -> np.ndarray:
        return np.array([OFFSET_OF_LOW[f.tobytes()] for f in to_display(low).cpu().numpy()])

    def dynamics(obs, act, sampler, generator=None, **kwargs):
        nxt = offset(obs[:, -1]) + pan(act[:, -1].cpu().numpy())
        return to_model_range(torch.from_numpy(LOW_VIEWS[nxt])), []

    def upsampler(prev, low_next, sampler, generator=None, **kwargs):
        return to_model_range(torch.from_numpy(FULL_VIEWS[offset(low_next)])), []

    engine.dynamics.sample_next_obs = dynamics
    engine.upsampler.upsample = upsampler


def test_horizontal_shift_recovers_known_shifts():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(3, 20, 64), dtype=np.uint8)
    for shift in (-9, -3, -1, 0, 2, 7):
        assert horizontal_shift(image, np.roll(image, shift, axis=-1), max_shift=12) == shift
    wide = rng.random((40, 200))  # a camera pan: the next view is another crop, not a roll
    assert horizontal_shift(wide[:, 50:150], wide[:, 54:154], max_shift=25) == -4  # turned right: picture moves left
    assert horizontal_shift(wide[:, 50:150], wide[:, 45:145], max_shift=25) == 5
    assert horizontal_shift(np.zeros((3, 8, 16)), np.zeros((3, 8, 16)), max_shift=4) == 0  # featureless


def test_action_variants_change_only_the_horizontal_mouse_from_the_current_step():
    act = np.stack([fps_actions.encode(("w", "lmb"), dx, 20) for dx in (-4, 100, -1000, 0, 30)])[None]
    variants = action_variants(act, start=2)
    for name, v in variants.items():
        assert v.shape == act.shape and v.dtype == np.float32
        np.testing.assert_array_equal(v[:, :2], act[:, :2], err_msg=name)  # the past stays as recorded
        assert [fps_actions.decode(a)[0] for a in v[0]] == [("w", "lmb")] * 5  # keys as recorded
        assert [fps_actions.decode(a)[2] for a in v[0]] == [20] * 5
    assert mouse_x(variants["turn_left"][0, 2:]).tolist() == [-60] * 3
    assert mouse_x(variants["turn_right"][0, 2:]).tolist() == [60] * 3
    assert mouse_x(variants["mirrored"][0]).tolist() == [-4, 100, 1000, 0, -30]
    assert mouse_x(with_mouse_x(act, 2)).tolist() == [[2] * 5]
    np.testing.assert_array_equal(mirrored_mouse_x(mirrored_mouse_x(act)), act)
    assert pans_in_commanded_direction(4.0, -3.0, real_left=5.0, real_right=-5.0)
    assert not pans_in_commanded_direction(-4.0, 3.0, real_left=5.0, real_right=-5.0)  # the wrong way round
    assert not pans_in_commanded_direction(0.0, -3.0, real_left=5.0, real_right=-5.0)
    assert pans_in_commanded_direction(4.0, -3.0, real_left=float("nan"), real_right=-5.0)


def test_evaluation_writes_its_files_and_its_baselines_match_a_hand_computation(split, tmp_path):
    engine, cfg = tiny_engine()
    lines = []
    result = evaluate_engine(
        engine, split, tmp_path, cfg, "fast", seed=3, progress=lines.append, sensitivity_steps=STEPS
    )
    assert engine.training  # left as it was found
    written = json.loads((tmp_path / EngineEvaluation.RESULTS).read_text())
    assert set(written) >= {"one_step", "upsampler", "rollouts", "action_sensitivity", "files", "setting"}
    for name in (EngineEvaluation.PSNR_PLOT, EngineEvaluation.ACTION_SENSITIVITY, result["files"]["rollout_video"]):
        assert (tmp_path / name).stat().st_size > 0, name
    assert result["files"]["rollout_video"] == EngineEvaluation.ROLLOUT_VIDEO

    one = result["one_step"]
    assert one["num_contexts"] == 4 and one["changed_threshold_levels"] == 8
    last = np.stack([split.low_res(e, s + CONTEXT - 1, s + CONTEXT)[0] for e, s in one["windows"]]).astype(float)
    real = np.stack([split.low_res(e, s + CONTEXT, s + CONTEXT + 1)[0] for e, s in one["windows"]]).astype(float)
    assert one["psnr_copy_last"] == pytest.approx(10 * np.log10(255**2 / np.mean((last - real) ** 2)))
    changed = (np.abs(last - real) > 8).any(axis=1)
    assert one["changed_pixel_fraction"] == pytest.approx(changed.mean())
    assert np.isfinite(one["psnr_dynamics"]) and np.isfinite(one["psnr_dynamics_changed"])

    assert result["upsampler"]["factor"] == FACTOR and np.isfinite(result["upsampler"]["psnr_upsampler"])
    rollouts = result["rollouts"]
    assert rollouts["horizon"] == 3 and len(rollouts["psnr_full_res"]) == 3 and rollouts["num_rollouts"] == 4
    e, s = rollouts["windows"][0]
    assert split.lengths[e] >= s + CONTEXT + 3
    sens = result["action_sensitivity"]
    assert sens["steps"] == STEPS and len(sens["turn_left_shift_per_step"]) == STEPS - 1  # imagined to imagined
    assert sens["real_turn_right_shift"] == -FACTOR and sens["real_turn_left_shift"] == FACTOR
    assert sens["real_turn_none_shift"] == 0 and sens["real_turn_right_pairs"] > 0
    assert isinstance(sens["pans_in_commanded_direction"], bool)
    total = 2 * 4 + 4 * (3 + 4 * STEPS)  # one-step, upsampler, rollouts, four action variants
    assert f"{total}/{total} frames" in lines[-1]  # the closing progress line


def test_a_perfect_engine_reaches_the_extremes_and_pans_the_commanded_way(split, tmp_path):
    engine, cfg = tiny_engine()
    make_perfect(engine)
    result = evaluate_engine(engine, split, tmp_path, cfg, "fast", seed=1, sensitivity_steps=STEPS)
    assert result["one_step"]["psnr_dynamics"] == np.inf and result["one_step"]["psnr_dynamics_changed"] == np.inf
    assert result["upsampler"]["psnr_upsampler"] == np.inf
    assert result["upsampler"]["psnr_bicubic"] < 40
    assert result["rollouts"]["psnr_full_res"] == [np.inf] * 3 and result["rollouts"]["mean_psnr_low_res"] == np.inf
    sens = result["action_sensitivity"]
    assert sens["turn_right_shift"] == -FACTOR and sens["turn_left_shift"] == FACTOR
    assert sens["pans_in_commanded_direction"] is True
    written = json.loads((tmp_path / EngineEvaluation.RESULTS).read_text())
    assert written["upsampler"]["psnr_upsampler"] == "inf"  # strict JSON


def test_an_engine_that_copies_the_last_frame_equals_the_baseline_and_does_not_turn(split, tmp_path):
    engine, cfg = tiny_engine()

    def copy_last(obs, act, sampler, generator=None, **kwargs):
        return obs[:, -1], []

    def bicubic(prev, low_next, sampler, generator=None, **kwargs):
        return bicubic_upsampling(low_next, FACTOR).clamp(-1, 1), []

    engine.dynamics.sample_next_obs = copy_last
    engine.upsampler.upsample = bicubic
    result = evaluate_engine(engine, split, tmp_path, cfg, "higher_quality", seed=2, sensitivity_steps=STEPS)
    one, up = result["one_step"], result["upsampler"]
    assert one["psnr_dynamics"] == one["psnr_copy_last"]
    assert one["psnr_dynamics_changed"] == one["psnr_copy_last_changed"]
    assert up["psnr_upsampler"] == up["psnr_bicubic"]
    assert result["rollouts"]["psnr_low_res"] == result["rollouts"]["psnr_copy_last_low_res"]
    sens = result["action_sensitivity"]
    assert sens["turn_left_shift"] == sens["turn_right_shift"] == 0
    assert sens["pans_in_commanded_direction"] is False
