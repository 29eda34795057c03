"""The env families registry: one description per family, read by the CLI, the configs, sweeps and jobs."""

from __future__ import annotations

import numpy as np
import pytest

from diamond.configs.schema import ConfigError, EnvConfig
from diamond.envs.families import FAMILIES, FAMILY_NAMES, get_family, make_env, make_run_env
from diamond.errors import InvalidValue


def test_the_families_and_their_size_rules():
    assert FAMILY_NAMES == ("atari", "minatar", "gym", "vizdoom")
    assert FAMILIES["atari"].fixed_size == 64 and FAMILIES["gym"].fixed_size is None
    with pytest.raises(InvalidValue, match="size=32 is invalid for --env atari; expected 64"):
        make_env("atari", "Breakout", size=32)
    with pytest.raises(ConfigError, match="size=32.*64 for atari"):
        EnvConfig(family="atari", size=32).validate()
    with pytest.raises(ConfigError, match="family='doom'.*'atari' or 'minatar' or 'gym'"):
        EnvConfig(family="doom").validate()
    with pytest.raises(InvalidValue, match="--env 'doom' is unknown; expected one of atari, minatar, gym"):
        get_family("doom")


def test_game_names_are_checked_by_their_family():
    assert get_family("atari").validate_game("Pong", "--game") == "Pong"
    with pytest.raises(InvalidValue, match="--game: unknown Atari 100k game 'Pongg'"):
        get_family("atari").validate_game("Pongg", "--game")
    with pytest.raises(InvalidValue, match="--game: unknown MinAtar game 'pong'"):
        get_family("minatar").validate_game("pong", "--game")
    assert get_family("gym").validate_game("CartPole-v1", "--game") == "CartPole-v1"
    with pytest.raises(InvalidValue, match="'CartPol-v1' is not a registered Gymnasium id. Did you mean 'CartPole-v1'"):
        get_family("gym").validate_game("CartPol-v1", "--game")


def test_a_gym_env_renders_its_pixels_at_the_asked_size_with_an_episode_limit():
    env = make_env("gym", "CartPole-v1", num_envs=2, seed=0, size=16, max_episode_steps=3)
    try:
        obs = env.reset()
        assert obs.shape == (2, 3, 16, 16) and obs.dtype == np.uint8 and obs.max() > 0
        for _ in range(2):
            _, _, end, trunc, _ = env.step(np.array([0, 1]))
            assert not trunc.any()
        _, _, end, trunc, _ = env.step(np.array([0, 1]))
        assert trunc.all()  # the third step reaches max_episode_steps
        protocol = env.protocol()
        assert protocol["env"] == "gym_pixels" and protocol["pixels_from_resolved"] == "render"
    finally:
        env.close()


def test_a_run_configuration_builds_its_envs():
    from diamond.configs.presets import train_config

    cfg = train_config("tiny", None, ["env.family=gym", "env.game=CartPole-v1", "env.max_episode_steps=5"])
    env = make_run_env(cfg, "test", 1, 0)
    try:
        assert env.observation_shape == (3, cfg.env.size, cfg.env.size) and env.action_space.size == 2
    finally:
        env.close()


def test_train_flags_apply_a_fixed_frame_size_only():
    from diamond.training.command import train_flags

    assert "env.size=64" in train_flags("atari", "Pong", None, False, [])
    assert not any(f.startswith("env.size") for f in train_flags("gym", "CartPole-v1", None, False, []))
    assert not any(f.startswith("env.size") for f in train_flags("atari", "Pong", None, False, ["env.size=64"]))


def test_games_lists_every_family(capsys):
    from diamond import cli

    assert cli.main(["games"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [f.title for f in FAMILIES.values()]
    assert "CartPole-v1" in out[2] and "Breakout" in out[0] and "breakout" in out[1]


def test_collect_from_a_gym_env(tmp_path):
    from diamond.data.store import EpisodeStore
    from diamond.jobs import collect

    result = collect("gym", "CartPole-v1", "train", 40, tmp_path / "cp", 1, 0, "sync", log=lambda m: None)
    assert result["steps_taken"] == 40
    with EpisodeStore.open(tmp_path / "cp", read_only=True) as store:
        assert store.metadata["obs_shape"] == [3, 64, 64] and store.metadata["num_actions"] == 2
        assert store.metadata["protocol"]["env_id"] == "CartPole-v1"


def test_sweeps_read_the_registry():
    from diamond.sweeps.launch import parse_games

    assert len(parse_games("all", "atari")) == 26
    assert parse_games("breakout,freeway", "minatar") == ["breakout", "freeway"]
    assert parse_games("CartPole-v1", "gym") == ["CartPole-v1"]
    with pytest.raises(ConfigError, match="--env gym has no fixed list of games"):
        parse_games("all", "gym")


def test_train_refuses_a_family_whose_envs_cannot_be_snapshotted(tmp_path, capsys):
    from diamond import cli

    out = tmp_path / "run"
    code = cli.main(["train", "--preset", "tiny", "--env", "gym", "--game", "CartPole-v1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "env.family=gym: `diamond train` needs envs that can save their exact state" in err
    assert not out.exists()
