"""Argument groups that several of the ``diamond`` command's subcommands share."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diamond.envs.families import FAMILY_NAMES
from diamond.flags import add_device_flag, integer


def env_args(sp: argparse.ArgumentParser, game_default: str = "Breakout") -> None:
    sp.add_argument("--env", choices=FAMILY_NAMES, default="atari", help="environment family (default atari)")
    sp.add_argument(
        "--game", default=game_default, help="Atari 100k game, MinAtar game or Gymnasium id (see `diamond games`)"
    )
    sp.add_argument("--num-envs", type=integer(1), default=1, help="environments stepped together (default 1)")


def model_args(
    sp: argparse.ArgumentParser,
    preset_default: str,
    presets: str = "paper | cpu | tiny",
    example: str = "training.batch_size=16",
    resumable: bool = False,
) -> None:
    """``--preset``, ``--set`` (``example``: a key of the command's own configuration), ``--device``, ``--no-progress``.
    A ``resumable`` command's ``--preset`` is None when not given: ``run_config`` decides."""
    if resumable:
        help = f"{presets} (default {preset_default}; with --resume, the run's saved configuration)"
        sp.add_argument("--preset", help=help)
        sp.set_defaults(preset_default=preset_default)
    else:
        sp.add_argument("--preset", default=preset_default, help=f"{presets} (default %(default)s)")
    sp.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help=f"override a config value, e.g. --set {example} (repeatable)",
    )
    add_device_flag(sp)
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_config(args: argparse.Namespace, build: Callable[..., Any], cls: type, saved: Path) -> Any:
    """The configuration of a resumable command (``model_args(..., resumable=True)``): with ``--resume`` and no
    ``--preset``, the run's saved configuration ``saved``, as ``diamond train --resume`` does, with ``--config``
    and ``--set`` on top; otherwise the preset's."""
    if args.resume and args.preset is None and saved.is_file():
        from diamond.configs.presets import saved_config, update_config

        return update_config(saved_config(cls, saved, "--resume"), args.config, args.set)
    return build(args.preset or args.preset_default, args.config, args.set)
