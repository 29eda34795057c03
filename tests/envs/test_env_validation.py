"""Bad game names and out-of-range knobs fail early with errors a person can act on (spec §2)."""

from __future__ import annotations

import pytest

from diamond.envs import ATARI_100K_GAMES, AtariConfig, make_atari_env
from diamond.envs.games import validate_atari_game


@pytest.mark.parametrize(
    "name, suggestion", [("Breakuot", "Breakout"), ("breakout", "Breakout"), ("MsPacMan", "MsPacman")]
)
def test_unknown_game_suggests_a_close_match_and_lists_all(name, suggestion):
    with pytest.raises(ValueError) as err:
        AtariConfig(game=name)
    message = str(err.value)
    assert repr(name) in message
    assert f"Did you mean {suggestion!r}" in message
    assert all(game in message for game in ATARI_100K_GAMES)


def test_games_outside_atari100k_need_an_explicit_opt_in():
    with pytest.raises(ValueError, match="only_atari100k=False"):
        AtariConfig(game="SpaceInvaders")
    assert AtariConfig(game="SpaceInvaders", only_atari100k=False).env_id == "SpaceInvadersNoFrameskip-v4"
    with pytest.raises(ValueError, match="unknown ALE game 'NotAGame'"):
        validate_atari_game("NotAGame", only_atari100k=False)


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("noop_max", 0, r"\[1, inf\]"),
        ("frame_skip", 0, r"\[1, inf\]"),
        ("frame_skip", 2.5, r"integer"),
        ("size", 4, r"\[8, 1024\]"),
        ("repeat_action_probability", 1.5, r"\[0.0, 1.0\]"),
        ("max_episode_frames", 10, r"\[31, inf\]"),
        ("max_pool_last_two", 1, r"True or False"),
    ],
)
def test_out_of_range_values_name_the_field_the_value_and_the_range(field, value, allowed):
    with pytest.raises(ValueError, match=rf"AtariConfig\.{field} must .*{allowed}.*got {value!r}"):
        AtariConfig(**{field: value})


def test_factory_rejects_bad_kind_backend_and_num_envs():
    with pytest.raises(ValueError, match="'train', 'test'"):
        make_atari_env(kind="eval")
    with pytest.raises(ValueError, match="num_envs"):
        make_atari_env(num_envs=0)
    with pytest.raises(ValueError, match="backend must be one of.*'threads'"):
        make_atari_env(backend="threads")
