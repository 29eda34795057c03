"""Argument groups that several of the ``diamond`` command's subcommands share."""

from __future__ import annotations

import argparse

from diamond.envs.families import FAMILY_NAMES
from diamond.flags import add_device_flag


def env_args(sp: argparse.ArgumentParser, game_default: str = "Breakout") -> None:
    sp.add_argument("--env", choices=FAMILY_NAMES, default="atari", help="environment family (default atari)")
    sp.add_argument(
        "--game", default=game_default, help="Atari 100k game, MinAtar game or Gymnasium id (see `diamond games`)"
    )
    sp.add_argument("--num-envs", type=int, default=1, help="environments stepped together (default 1)")


def model_args(
    sp: argparse.ArgumentParser,
    preset_default: str,
    presets: str = "paper | cpu | tiny",
    example: str = "training.batch_size=16",
) -> None:
    """``--preset``, ``--set`` (``example``: a key of the command's own configuration), ``--device``, ``--no-progress``."""
    sp.add_argument("--preset", default=preset_default, help=f"{presets} (default %(default)s)")
    sp.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help=f"override a config value, e.g. --set {example} (repeatable)",
    )
    add_device_flag(sp)
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
