"""Every named preset resolves to a valid configuration of its own kind."""

import pytest

from diamond.configs.presets import TRAIN_PRESETS, WORLD_MODEL_PRESETS, train_config, world_model_config


@pytest.mark.parametrize("name", sorted(WORLD_MODEL_PRESETS))
def test_world_model_presets_resolve(name):
    world_model_config(name).validate()


@pytest.mark.parametrize("name", sorted(TRAIN_PRESETS))
def test_train_presets_resolve(name):
    train_config(name).validate()


def test_cpu_train_preset_is_minatar_at_one_pixel_per_cell():
    cfg = train_config("cpu")
    assert (cfg.env.family, cfg.env.size, cfg.schedule.final_episodes, cfg.schedule.random_episodes) == (
        "minatar",
        10,
        50,
        50,
    )
