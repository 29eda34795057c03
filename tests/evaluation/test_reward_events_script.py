"""scripts/reward_events.py on a real `diamond train --preset tiny` run (MinAtar Breakout), and its
summary arithmetic on figures whose answer is known."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from diamond.cli import main
from diamond.data import EpisodeStore

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "reward_events.py"
CONTEXT = 4  # the tiny preset's denoiser conditions on 4 frames


def load_script():
    spec = importlib.util.spec_from_file_location("reward_events", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def test_summary_weighs_each_group_by_its_size():
    script = load_script()
    groups = {"rewarded": [0] * 2, "ended": [0] * 3, "other": [0] * 95}
    p = lambda reward, end, n: {  # noqa: E731
        "reward/real": torch.full((n,), reward),
        "reward/sampled": torch.full((n,), reward / 2),
        "end/real": torch.full((n,), end),
        "end/sampled": torch.full((n,), end),
        "reward/other_action": torch.full((n,), reward / 4),
        "end/other_action": torch.full((n,), end / 3),
        "equal": torch.tensor([True] + [False] * (n - 1)),
    }
    report = script.summarise(
        groups, {"rewarded": p(0.9, 0.0, 2), "ended": p(0.0, 0.6, 3), "other": p(0.02, 0.0, 10)}, 123
    )
    assert report["data_reward_rate"] == pytest.approx(0.02) and report["data_end_rate"] == pytest.approx(0.03)
    assert report["implied_reward_rate/real"] == pytest.approx((2 * 0.9 + 95 * 0.02) / 100)
    assert report["implied_reward_rate/sampled"] == pytest.approx((2 * 0.45 + 95 * 0.01) / 100)
    assert report["implied_end_rate/real"] == pytest.approx(3 * 0.6 / 100)
    assert report["implied_reward_rate/other_action"] == pytest.approx((2 * 0.225 + 95 * 0.005) / 100)
    assert report["implied_end_rate/other_action"] == pytest.approx(3 * 0.2 / 100)
    other = report["groups"]["other"]
    assert (other["count"], other["evaluated"]) == (95, 10) and other["equal"]["mean"] == pytest.approx(0.1)
    assert report["groups"]["rewarded"]["reward/real"]["above_half"] == 1.0 and report["steps"] == 123


def test_other_actions_are_every_other_action_and_never_the_recorded_one():
    script = load_script()
    act = torch.arange(5).repeat(400)  # 2,000 recorded actions of a 5-action space
    other = script.other_actions(act, 5, torch.Generator().manual_seed(0))
    assert other.shape == act.shape and other.dtype == act.dtype and not (other == act).any()
    for a in range(5):
        counts = torch.bincount(other[act == a], minlength=5)
        assert counts[a] == 0 and (counts[torch.arange(5) != a] > 60).all()  # 400 draws among 4: 100 each
    with pytest.raises(ValueError, match="1 action"):
        script.other_actions(torch.zeros(3, dtype=torch.long), 1, torch.Generator())


def test_script_on_a_real_run(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--device", "cpu", "--out", str(run)]) == 0
    out = run_script(run, "--others", 20, "--envs", 8, "--horizon", 3, "--json", tmp_path / "a.json")
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "a.json").read_text())

    store = EpisodeStore.open(run / "data" / "train", read_only=True)
    rew = [store.get(i).rew[CONTEXT - 1 :] for i in range(len(store))]
    end = [store.get(i).end[CONTEXT - 1 :].astype(bool) for i in range(len(store))]
    rewarded = sum(int((r != 0).sum()) for r in rew)
    ended = sum(int(((r == 0) & e).sum()) for r, e in zip(rew, end))
    total = sum(len(r) for r in rew)
    assert rewarded > 0 and ended > 0  # MinAtar Breakout's random episodes score and end within 300 steps
    groups = report["groups"]
    assert (groups["rewarded"]["count"], groups["ended"]["count"]) == (rewarded, ended)
    assert groups["other"]["count"] == total - rewarded - ended and groups["other"]["evaluated"] == 20
    assert report["data_reward_rate"] == pytest.approx(rewarded / total)
    for entry in groups.values():
        for key in ("reward/real", "reward/sampled", "reward/other_action", "end/real", "end/sampled", "equal"):
            assert 0 <= entry[key]["mean"] <= 1, key
    rates = report["imagined"]
    assert len(rates["reward"]) == len(rates["end"]) == len(rates["changed_pixels"]) == 3
    assert all(0 <= x <= 1 for x in rates["reward"] + rates["end"])
    assert all(0 <= x <= 12 * 12 for x in rates["changed_pixels"])  # the tiny preset draws 12×12 frames
    pairs = [(e.obs[t], e.obs[t + 1]) for e in map(store.get, range(len(store))) for t in range(len(e.obs) - 1)]
    moved = sum(int((np.abs(b.astype(int) - a.astype(int)) > 32).max(0).sum()) for a, b in pairs)
    assert moved > 0 and report["data_changed_pixels"] == pytest.approx(moved / len(pairs))
    assert f"{store.num_steps:,} steps" in out.stdout and "imagined reward rate" in out.stdout

    again = run_script(run, "--others", 20, "--envs", 8, "--horizon", 3, "--json", tmp_path / "b.json")
    assert again.returncode == 0 and json.loads((tmp_path / "b.json").read_text()) == report  # same seed, same figures
    other_seed = run_script(
        run, "--others", 20, "--envs", 8, "--horizon", 3, "--seed", 1, "--json", tmp_path / "c.json"
    )
    assert other_seed.returncode == 0, other_seed.stderr
    assert json.loads((tmp_path / "c.json").read_text())["groups"]["other"] != groups["other"]


def test_script_refuses_a_folder_that_is_not_a_run(tmp_path):
    out = run_script(tmp_path)
    assert out.returncode == 2 and str(tmp_path) in out.stderr and "checkpoints/agent.pt" in out.stderr
    assert "Traceback" not in out.stderr
