"""Algorithm 1's schedule (spec §1) as pure functions."""

import numpy as np
import pytest

from diamond.configs.schema import ScheduleConfig
from diamond.training.schedule import (
    initial_collection_done,
    plan_epoch,
    rare_reward_count,
    regular_epoch_seconds,
    run_finished,
    run_totals,
    scheduled_updates,
)

PAPER = ScheduleConfig()


def test_rare_reward_count_is_non_majority_sign_classes():
    assert rare_reward_count(np.array([0, 0, 0, 2.5, -1, 7, 0])) == 3  # signs: 0×4, +1×2, −1×1
    assert rare_reward_count(np.array([1.0, 1.0, 0.0])) == 1
    assert rare_reward_count(np.zeros(100)) == 0
    assert rare_reward_count(np.array([])) == 0


def test_initial_collection_rule():
    few = np.array([1.0] * 9 + [0.0] * 4991)
    enough = np.array([1.0] * 10 + [0.0] * 4990)
    assert not initial_collection_done(4_900, enough[:4900], PAPER)  # under 5,000 steps: never done
    assert initial_collection_done(5_000, enough, PAPER)
    assert not initial_collection_done(5_000, few, PAPER)  # extended by 100s...
    assert not initial_collection_done(9_900, np.concatenate([few, np.zeros(4900)]), PAPER)
    assert initial_collection_done(10_000, np.concatenate([few, np.zeros(5000)]), PAPER)  # ...until 10,000


def test_epoch_plans_follow_the_paper():
    first = plan_epoch(1, 0, PAPER)
    assert first.collect_steps == 0 and first.updates == {"denoiser": 10_000, "rew_end": 10_000, "actor_critic": 5_000}
    assert list(first.updates) == ["denoiser", "rew_end", "actor_critic"]  # the update order
    second = plan_epoch(2, 5_000, PAPER)
    assert second.collect_steps == 100 and second.updates == {"denoiser": 400, "rew_end": 400, "actor_critic": 400}
    assert plan_epoch(3, 99_950, PAPER).collect_steps == 50  # never beyond the budget
    assert plan_epoch(4, 100_000, PAPER).collect_steps == 0
    assert [e for e in range(1, 31) if plan_epoch(e, 0, PAPER).evaluate] == [10, 20, 30]


def test_a_declared_count_joins_the_plan():
    counts = {"denoiser": scheduled_updates(PAPER, "denoiser"), "upsampler": lambda epoch: 7 * epoch}
    assert plan_epoch(3, 5_000, PAPER, counts).updates == {"denoiser": 400, "upsampler": 21}
    with pytest.raises(ValueError, match="upsampler"):
        scheduled_updates(PAPER, "upsampler")


def test_run_finishes_after_budget_and_extra_epochs():
    assert not run_finished(960, 100_000, 49, PAPER)
    assert run_finished(961, 100_000, 50, PAPER)
    assert not run_finished(961, 99_900, 50, PAPER)


def test_eta_after_the_first_epoch_scales_its_per_update_times():
    cfg = ScheduleConfig(
        steps_per_epoch=200,
        denoiser_updates_first=300,
        rew_end_updates_first=300,
        actor_critic_updates_first=30,
        denoiser_updates=25,
        rew_end_updates=25,
        actor_critic_updates=25,
    )
    first, regular = plan_epoch(1, 0, cfg), plan_epoch(2, 2000, cfg)
    times = {"collect": 10.0, "denoiser": 30.0, "rew_end": 60.0, "actor_critic": 30.0, "evaluation": 0.0}
    # 10 s / 2000 steps × 200 + 30 / 300 × 25 + 60 / 300 × 25 + 30 / 30 × 25
    assert regular_epoch_seconds(times, first, regular, 2000, 200) == pytest.approx(1.0 + 2.5 + 5.0 + 25.0)
    assert regular_epoch_seconds(times, first, regular, 0, 200) == pytest.approx(
        32.5
    )  # nothing collected (model-free): no collect time


def test_run_totals_of_the_papers_schedule():
    run = run_totals(PAPER, 5_000)  # 1 initial epoch, 950 that collect 100 steps, 50 extra ones
    assert (run.epochs, run.collect_steps, run.evaluations) == (1_001, 95_000, 100)
    assert run.updates == {"denoiser": 410_000, "rew_end": 410_000, "actor_critic": 405_000}
    extended = run_totals(PAPER, 10_000)  # an initial collection extended to its maximum leaves fewer epochs
    assert (extended.epochs, extended.collect_steps, extended.updates["denoiser"]) == (951, 90_000, 390_000)
    odd = run_totals(PAPER, 5_050)  # the last collecting epoch takes what is left of the budget
    assert (odd.epochs, odd.collect_steps) == (1_001, 94_950)
