"""Every named preset resolves to a valid configuration of its own kind; the `cpu` preset tests whole episodes."""

import pytest

from diamond.configs.presets import (
    ENGINE_PRESETS,
    TRAIN_PRESETS,
    WORLD_MODEL_PRESETS,
    engine_config,
    train_config,
    world_model_config,
)
from diamond.configs.schema import ConfigError
from diamond.envs.families import make_env
from diamond.training.collector import RandomPolicy
from diamond.training.evaluation_episodes import run_evaluation_episodes


@pytest.mark.parametrize("name", sorted(WORLD_MODEL_PRESETS))
def test_world_model_presets_resolve(name):
    world_model_config(name).validate()


@pytest.mark.parametrize("name", sorted(TRAIN_PRESETS))
def test_train_presets_resolve(name):
    train_config(name).validate()


@pytest.mark.parametrize("name", sorted(ENGINE_PRESETS))
def test_engine_presets_resolve(name):
    engine_config(name).validate()


def test_engine_context_noise_at_sampling_needs_context_noise_in_training():
    engine_config(
        "csgo", None, ["dynamics.context_noise=false", "fast.dynamics.s_cond=0", "higher_quality.dynamics.s_cond=0"]
    ).validate()
    with pytest.raises(ConfigError, match=r"higher_quality.dynamics.s_cond=0.005 is invalid; expected 0 when dynamics"):
        engine_config("csgo", None, ["dynamics.context_noise=false", "fast.dynamics.s_cond=0"]).validate()
    with pytest.raises(ConfigError, match=r"fast.dynamics.s_cond=0.01 is invalid"):
        engine_config("cpu", None, ["fast.dynamics.s_cond=0.01"]).validate()


def test_cpu_train_preset_is_minatar_at_one_pixel_per_cell():
    cfg = train_config("cpu")
    assert (cfg.env.family, cfg.env.size, cfg.schedule.final_episodes, cfg.schedule.random_episodes) == (
        "minatar",
        10,
        100,  # spec §1: 100 test episodes at the end
        100,
    )


def test_cpu_train_preset_tests_whole_episodes_of_the_longest_minatar_game():
    # MinAtar Freeway's episodes are the longest (a time limit of about 2,500 steps): the preset's cap on
    # test steps must leave room for all of its 100 test episodes, in as many envs as the run uses (16)
    sched = train_config("cpu", None, ["env.game=freeway"]).schedule
    env = make_env("minatar", "freeway", "test", 16, 0, "sync", 10)
    try:
        policy = RandomPolicy(env.action_space, seed=0)
        run = run_evaluation_episodes(
            env, policy, sched.random_episodes, seed=0, keep_episodes=False, max_steps=sched.test_env_max_steps
        )
    finally:
        env.close()
    assert len(run.lengths) == 100 and min(run.lengths) > 2_000


def test_errors_say_where_the_bad_value_came_from_then_where_it_sits(tmp_path):
    with pytest.raises(ConfigError) as err:  # the flag as typed, then the section, then the field
        train_config("tiny", None, ["schedule.total_steps=-100"])
    assert str(err.value).startswith("--set schedule.total_steps=-100: schedule: total_steps=-100 is invalid")
    with pytest.raises(ConfigError, match=r"^--set denoiser.net.channels=\[0\]: denoiser.net: channels=\(0,\) is inv"):
        train_config("tiny", None, ["denoiser.net.channels=[0]"])
    bad = tmp_path / "bad.json"
    bad.write_text('{"schedule": {"total_steps": -1}}')
    with pytest.raises(ConfigError, match=rf"^config file {bad}: schedule: total_steps=-1 is invalid"):
        train_config("tiny", bad, [])
    bad.write_text("[1, 2]")  # JSON, but not an object of config values
    with pytest.raises(ConfigError, match=rf"^config file {bad}: expected a JSON object of config values.*got a list"):
        train_config("tiny", bad, [])
