"""The helper scripts in scripts/ (other than reward_events.py, tested beside the evaluation code): run as
users run them, on real files, a real emulator and the project's own loaders."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(name: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / f"{name}.py"), *map(str, args)], capture_output=True, text=True
    )


def write_run(folder: Path, results: dict, metrics: list[dict]) -> Path:
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    return folder


RESULTS = {
    "game": "breakout",
    "final": {"mean_return": 2.5, "returns": [2.0, 3.0]},
    "train_seconds": 100.0,
    "final_seconds": 3.0,
    "learning_curve": "/a/learning_curve.png",
    "videos": {"real_game": "/a/real.mp4"},
}
METRICS = [
    {"epoch": 1, "train/denoiser_loss": 0.5, "time/denoiser": 1.0, "imagined_frames_per_s": 800.0},
    {"epoch": 2, "train/denoiser_loss": 0.25, "time/denoiser": 1.1, "imagined_frames_per_s": 810.0},
]


def test_compare_runs_ignores_timings_and_paths_only(tmp_path):
    a = write_run(tmp_path / "a", RESULTS, METRICS)
    timed = {**RESULTS, "train_seconds": 250.0, "final_seconds": 9.0, "learning_curve": "/b/c.png", "videos": {}}
    retimed = [{**m, "time/denoiser": 7.0, "imagined_frames_per_s": 1.0} for m in METRICS]
    b = write_run(tmp_path / "b", timed, retimed)
    out = run_script("compare_runs", a, b)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"0 difference(s) between {a} and {b}" in out.stdout

    changed = {**RESULTS, "final": {"mean_return": 2.5, "returns": [2.0, 3.0, 4.0]}, "seed": 1}
    relogged = [METRICS[0], {**METRICS[1], "train/denoiser_loss": 0.3}]
    c = write_run(tmp_path / "c", changed, relogged)
    out = run_script("compare_runs", a, c)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert "results.json.final.returns: 2 items != 3 items" in lines
    assert "results.json.seed: only in B" in lines
    assert "metrics.jsonl[1].train/denoiser_loss: 0.25 != 0.3" in lines
    assert f"3 difference(s) between {a} and {c}" in out.stdout


def test_compare_runs_refuses_a_folder_that_is_not_a_finished_run(tmp_path):
    a = write_run(tmp_path / "a", RESULTS, METRICS)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "metrics.jsonl").write_text("")
    out = run_script("compare_runs", a, unfinished)
    assert out.returncode == 2 and f"{unfinished}: no results.json" in out.stderr and "Traceback" not in out.stderr
    out = run_script("compare_runs", a)
    assert out.returncode == 2 and "Usage" in out.stderr


def test_paddle_x_follows_the_real_paddle_in_atari_breakout():
    from diamond.envs.atari import AtariEnv

    paddle_x = load_script("breakout_paddle_tracking").paddle_x
    env = AtariEnv(seed=0)
    try:
        obs, _ = env.reset()
        assert obs.shape == (3, 64, 64) and obs.dtype == np.uint8
        xs = [paddle_x(obs)]
        for action in [2] * 6 + [3] * 12:  # Breakout's actions: 2 RIGHT, 3 LEFT
            obs, *_ = env.step(action)
            xs.append(paddle_x(obs))
    finally:
        env.close()
    xs = np.array(xs)
    assert not np.isnan(xs).any()
    assert xs[6] >= xs[0] + 4 and xs[-1] <= xs[6] - 8  # right, then further left
    assert (np.diff(xs[:7]) >= 0).all() and (np.diff(xs[6:]) <= 0).all()
    frames = np.stack([obs, np.zeros_like(obs)])  # a frame without a paddle has no position
    both = paddle_x(frames)
    assert both[0] == pytest.approx(xs[-1]) and np.isnan(both[1])


def test_paper_size_checkpoint_has_the_papers_shapes_in_the_reference_layout(tmp_path):
    from diamond.checkpoints.reference import (
        infer_actor_critic_config,
        infer_denoiser_config,
        infer_rew_end_config,
        is_reference_layout,
        load_reference_file,
        split_reference,
    )
    from diamond.configs.schema import TrainConfig
    from diamond.spaces import ActionSpace
    from diamond.training.agent import fit_to_env

    out = run_script("paper_size_checkpoint", tmp_path / "paper.pt", "--actions", 6)
    assert out.returncode == 0, out.stderr
    state = load_reference_file(tmp_path / "paper.pt")
    assert is_reference_layout(state)
    parts = split_reference(state)
    space = ActionSpace.discrete(6)
    paper = fit_to_env(TrainConfig(), space, 3)
    assert infer_denoiser_config(parts["denoiser"], space).net == paper.denoiser.net
    assert infer_rew_end_config(parts["rew_end_model"], space) == paper.rew_end
    assert infer_actor_critic_config(parts["actor_critic"], space) == paper.actor_critic
    denoiser_parameters = sum(t.numel() for t in parts["denoiser"].values() if t.is_floating_point())
    assert 4.0e6 < denoiser_parameters < 4.8e6  # spec §4: the Atari denoiser has 4.4M parameters


def test_minatar_counterfactuals_leave_the_game_taken_untouched(tmp_path):
    import minatar

    out = run_script("minatar_counterfactuals", "asterix", "--steps", 1500, "--seed", 3, "--json", tmp_path / "a.json")
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "a.json").read_text())
    assert sum(report[k]["count"] for k in ("rewarded", "ended", "other")) == 1500

    # the same game and the same action draws, played without copies: the same rewards and ends
    env = minatar.Environment(env_name="asterix", sticky_action_prob=0.1, difficulty_ramping=True)
    env.seed(3)
    env.reset()
    rng, actions = np.random.default_rng(3), list(env.minimal_action_set())
    rewarded = ended = 0
    for _ in range(1500):
        reward, end = env.act(actions[int(rng.integers(len(actions)))])
        rewarded += reward != 0
        ended += bool(end) and reward == 0
        if end:
            env.reset()
    assert (report["rewarded"]["count"], report["ended"]["count"]) == (rewarded, ended) and ended > 10
    # Asterix kills where an enemy is one step away, whatever the action, more often than elsewhere
    assert report["ended"]["end"] > 5 * report["other"]["end"] and report["rewarded"]["reward"] > 0
    assert "asterix" in out.stdout and "with another action" in out.stdout

    wrong = run_script("minatar_counterfactuals", "pong")
    assert wrong.returncode == 2 and "'pong'" in wrong.stderr and "space_invaders" in wrong.stderr
