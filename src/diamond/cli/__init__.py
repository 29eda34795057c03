"""The ``diamond`` command: one subcommand per job, each defined beside its parser in the module for its
area. Heavy imports happen inside the subcommands, so that parsing a command imports no torch."""

from __future__ import annotations

import argparse
import sys

from diamond.cli import agent, data, play, speed, world_models
from diamond.studies.command import add_parser as study_parser

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="diamond", description="DIAMOND: diffusion world models and RL in imagination.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for area in (agent, data, world_models, play, speed):
        area.register(sub)
    study_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from diamond.errors import is_user_error
    from diamond.runtime import keep_freed_memory

    args = build_parser().parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines reach logs as they happen
    keep_freed_memory()
    try:
        return args.func(args)
    except Exception as exc:
        if not is_user_error(exc):
            raise  # a bug: the traceback is what its reader needs
        print(f"diamond {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"diamond {args.command}: interrupted; completed work is saved", file=sys.stderr)
        return 130
