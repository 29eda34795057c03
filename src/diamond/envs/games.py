"""The 26 games of the Atari 100k benchmark and the validation of game names (spec §2)."""

from __future__ import annotations

import difflib

from diamond.errors import InvalidValue

# spec §2: the 26 games, spelled as in the Gymnasium ids `<Game>NoFrameskip-v4`.
ATARI_100K_GAMES: tuple[str, ...] = (
    "Alien",
    "Amidar",
    "Assault",
    "Asterix",
    "BankHeist",
    "BattleZone",
    "Boxing",
    "Breakout",
    "ChopperCommand",
    "CrazyClimber",
    "DemonAttack",
    "Freeway",
    "Frostbite",
    "Gopher",
    "Hero",
    "Jamesbond",
    "Kangaroo",
    "Krull",
    "KungFuMaster",
    "MsPacman",
    "Pong",
    "PrivateEye",
    "Qbert",
    "RoadRunner",
    "Seaquest",
    "UpNDown",
)

MINATAR_GAMES: tuple[str, ...] = ("asterix", "breakout", "freeway", "seaquest", "space_invaders")


def atari_env_id(game: str) -> str:
    """The Gymnasium id of the raw emulator: frameskip 1, no sticky actions (spec §2)."""
    return f"{game}NoFrameskip-v4"


def all_ale_games() -> tuple[str, ...]:
    """Every game that ale-py registers a `<Game>NoFrameskip-v4` id for (a superset of Atari 100k)."""
    import ale_py
    import gymnasium

    gymnasium.register_envs(ale_py)
    suffix = "NoFrameskip-v4"
    return tuple(sorted(k[: -len(suffix)] for k in gymnasium.registry if k.endswith(suffix) and "/" not in k))


def unknown_name_error(kind: str, name: object, valid: tuple[str, ...], where: str, note: str = "") -> InvalidValue:
    """An InvalidValue naming the bad name, a close match if there is one, and every valid name."""
    matches = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.6)
    if not matches:  # also try ignoring case, so that "breakout" suggests "Breakout"
        lowered = {v.lower(): v for v in valid}
        close = difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.6)
        matches = [lowered[c] for c in close]
    hint = f" Did you mean {matches[0]!r}?" if matches else ""
    return InvalidValue(f"{where}: unknown {kind} {name!r}.{hint} Valid names: {', '.join(valid)}{note}")


def validate_atari_game(game: str, only_atari100k: bool = True, where: str = "AtariConfig.game") -> str:
    """Return ``game`` if it names an Atari 100k game (or any ALE game when ``only_atari100k`` is False)."""
    if game in ATARI_100K_GAMES:
        return game
    if not only_atari100k:
        valid = all_ale_games()
        if game in valid:
            return game
        raise unknown_name_error("ALE game", game, valid, where)
    raise unknown_name_error(
        "Atari 100k game", game, ATARI_100K_GAMES, where, note=" (set only_atari100k=False to allow other ALE games)"
    )


def validate_minatar_game(game: str, where: str = "MinAtarConfig.game") -> str:
    """Return ``game`` if it names one of the five MinAtar games."""
    if game in MINATAR_GAMES:
        return game
    raise unknown_name_error("MinAtar game", game, MINATAR_GAMES, where)
