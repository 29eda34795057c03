"""The environment families, each described once: its name, games, frame-size rule and factory (spec §2).

Every part of the program that needs to know about families (the ``--env`` choices, ``EnvConfig``
validation, ``diamond games``, sweeps, the players) reads ``FAMILIES``; adding a family is one entry
here. The env modules are imported only when a family builds or validates something, so this module is
cheap to import (the CLI reads the names while parsing flags) and an optional family never breaks import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diamond.errors import InvalidValue

if TYPE_CHECKING:
    from diamond.envs.base import VectorEnv


@dataclass(frozen=True)
class EnvFamily:
    """One family of real environments behind the vector-env interface."""

    name: str  # the value of --env and of EnvConfig.family
    title: str  # how `diamond games` introduces its games
    fixed_size: int | None  # the only allowed frame side, when the protocol fixes one
    # (game, kind, num_envs, seed, backend, size, max_episode_steps) -> a vector env
    factory: Callable[[str, str, int, int | None, str, int, int | None], VectorEnv]
    # (game, where) -> game, or an InvalidValue naming it, the valid names and ``where``
    game_validator: Callable[[str, str], str]
    games: Callable[[], tuple[str, ...]]  # the games `diamond games` lists (empty: any valid id)
    games_note: str = ""  # what `diamond games` prints when the family lists no games
    reported: bool = False  # `diamond report` knows its published scores (the Atari 100k benchmark)
    # its envs save and restore their exact state, which `diamond train` needs to resume a killed run exactly
    snapshots: bool = True

    def validate_game(self, game: str, where: str) -> str:
        return self.game_validator(game, where)

    def check_size(self, size: int, where: str) -> None:
        if self.fixed_size is not None and size != self.fixed_size:
            raise InvalidValue(
                f"{where}: size={size} is invalid for --env {self.name}; "
                f"expected {self.fixed_size} (the protocol's frame size)"
            )


# -- the families -------------------------------------------------------------------------------------


def _make_atari(
    game: str, kind: str, num_envs: int, seed: int | None, backend: str, size: int, max_episode_steps: int | None
) -> VectorEnv:
    from diamond.envs.atari import AtariConfig, make_atari_env

    return make_atari_env(AtariConfig(game=game), kind=kind, num_envs=num_envs, seed=seed, backend=backend)


def _atari_game(game: str, where: str) -> str:
    from diamond.envs.games import validate_atari_game

    return validate_atari_game(game, where=where)


def _atari_games() -> tuple[str, ...]:
    from diamond.envs.games import ATARI_100K_GAMES

    return ATARI_100K_GAMES


def _make_minatar(
    game: str, kind: str, num_envs: int, seed: int | None, backend: str, size: int, max_episode_steps: int | None
) -> VectorEnv:
    from diamond.envs.minatar import MinAtarConfig, make_minatar_env

    config = MinAtarConfig(game=game, size=size, max_episode_steps=max_episode_steps)
    return make_minatar_env(config, num_envs=num_envs, seed=seed, backend=backend)


def _minatar_game(game: str, where: str) -> str:
    from diamond.envs.games import validate_minatar_game

    return validate_minatar_game(game, where=where)


def _minatar_games() -> tuple[str, ...]:
    from diamond.envs.games import MINATAR_GAMES

    return MINATAR_GAMES


def _make_gym(
    game: str, kind: str, num_envs: int, seed: int | None, backend: str, size: int, max_episode_steps: int | None
) -> VectorEnv:
    from diamond.envs.gym_pixels import GymPixelConfig, make_gym_pixel_env

    make_kwargs = {"max_episode_steps": max_episode_steps} if max_episode_steps else {}
    config = GymPixelConfig(env_id=game, size=size, make_kwargs=make_kwargs)
    return make_gym_pixel_env(config, num_envs=num_envs, seed=seed, backend=backend)


def _gym_game(game: str, where: str) -> str:
    from diamond.envs.gym_pixels import validate_gym_id

    return validate_gym_id(game, where=where)


def _make_vizdoom(
    game: str, kind: str, num_envs: int, seed: int | None, backend: str, size: int, max_episode_steps: int | None
) -> VectorEnv:
    from diamond.envs.vizdoom_fps import VizdoomConfig, make_vizdoom_env

    config = VizdoomConfig(scenario=game, episode_frames=max_episode_steps)
    return make_vizdoom_env(config, num_envs=num_envs, seed=seed, backend=backend)


def _vizdoom_game(game: str, where: str) -> str:
    from diamond.envs.vizdoom_fps import validate_scenario

    return validate_scenario(game, where)


def _vizdoom_games() -> tuple[str, ...]:
    from diamond.envs.vizdoom_fps import SCENARIOS

    return tuple(SCENARIOS)


FAMILIES: dict[str, EnvFamily] = {
    f.name: f
    for f in (
        EnvFamily("atari", "Atari 100k (spec §2)", 64, _make_atari, _atari_game, _atari_games, reported=True),
        EnvFamily("minatar", "MinAtar (optional extra)", None, _make_minatar, _minatar_game, _minatar_games),
        # A Gymnasium env in general cannot save its state (renderers, external simulators), so `diamond train`
        # refuses it; collecting, world-model training, imagination and play work.
        EnvFamily(
            "gym",
            "Gymnasium pixels (--env gym)",
            None,
            _make_gym,
            _gym_game,
            lambda: (),
            snapshots=False,
            games_note="any registered Gymnasium id with discrete actions, e.g. CartPole-v1 or ALE/Pong-v5; "
            "drawn with render_mode='rgb_array' unless the observation is an image, area-resized",
        ),
        # A first-person shooter with the 51-entry CS:GO actions and 150×280 frames (the fixed "size" is the
        # frame height; the width is 280). ViZDoom cannot save its state and has no reward protocol here, so
        # `diamond train` refuses it; `diamond record-vizdoom` records datasets in the CS:GO file format.
        EnvFamily(
            "vizdoom",
            "ViZDoom first-person shooter, keyboard-and-mouse actions of spec §10 (optional extra)",
            150,
            _make_vizdoom,
            _vizdoom_game,
            _vizdoom_games,
            snapshots=False,
        ),
    )
}
FAMILY_NAMES: tuple[str, ...] = tuple(FAMILIES)
DEFAULT_SIZE = 64  # frame side when nothing else asks (the spec §2 size)


def get_family(name: str, where: str = "--env") -> EnvFamily:
    """The family called ``name``, or an InvalidValue listing the families."""
    if name not in FAMILIES:
        raise InvalidValue(f"{where} {name!r} is unknown; expected one of {', '.join(FAMILY_NAMES)}")
    return FAMILIES[name]


def make_env(
    family: str,
    game: str,
    kind: str = "train",
    num_envs: int = 1,
    seed: int | None = 0,
    backend: str = "sync",
    size: int | None = None,
    max_episode_steps: int | None = None,
) -> VectorEnv:
    """``num_envs`` real envs of ``family``/``game`` (env i seeded ``seed + i``) behind the vector interface.

    ``kind`` is "train" or "test" (it matters to Atari: life loss ends training episodes only, spec §2);
    ``size`` is the frame side (the family's fixed one, or 64, when None); ``max_episode_steps`` truncates
    episodes where the family has no limit of its own (MinAtar, Gymnasium).
    """
    fam = get_family(family)
    side = size if size is not None else (fam.fixed_size or DEFAULT_SIZE)
    fam.check_size(side, f"{family} env")
    return fam.factory(game, kind, num_envs, seed, backend, side, max_episode_steps)


def make_run_env(cfg, kind: str, num_envs: int, seed: int) -> VectorEnv:
    """The real envs of a run configuration (``cfg.env``: family, game, size, backend, episode limit)."""
    e = cfg.env
    return make_env(e.family, e.game, kind, num_envs, seed, e.backend, e.size, e.max_episode_steps or None)
