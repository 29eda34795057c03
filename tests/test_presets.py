"""Every named preset resolves to a valid configuration of its own kind."""

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
