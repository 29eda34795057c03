"""Command-line flags that several subcommands share, each defined once. Importing this module imports no
torch, so that parsing a command stays fast."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEVICE_VARIABLE = "DIAMOND_DEVICE"  # what --device auto means when set: pins every command to one device
# ``devices.PRECISIONS`` and ``devices.LAYOUTS`` by name, without torch (tests/cli/test_errors.py checks that
# they agree)
PRECISION_NAMES = ("float32", "bfloat16", "float16")
LAYOUT_NAMES = ("contiguous", "channels_last")


def add_device_flag(parser: argparse.ArgumentParser) -> None:
    """``--device``: read by ``devices.resolve_device``."""
    parser.add_argument(
        "--device",
        default="auto",
        help=f"auto | cpu | cuda | cuda:N (default auto: ${DEVICE_VARIABLE} when set, else CUDA when available, "
        "else the CPU)",
    )


def add_precision_flag(parser: argparse.ArgumentParser, what: str, repeatable: bool = False, note: str = "") -> None:
    """``--precision``, read by ``devices.check_precision``: the arithmetic of ``what``, one value (default
    float32), or, ``repeatable``, the variants a benchmark compares (default: those the device computes in)."""
    choices = "float32 or autocast to bfloat16 / float16 (CUDA)"
    if repeatable:
        default = (
            "repeatable; default float32, and bfloat16 where the device computes in it: CUDA, or a CPU with "
            "AVX-512 BF16 or AMX"
        )
        parser.add_argument(
            "--precision", action="append", choices=PRECISION_NAMES, help=f"{what}: {choices} ({default}){note}"
        )
    else:
        parser.add_argument(
            "--precision", default="float32", choices=PRECISION_NAMES, help=f"{what}: {choices} (default float32){note}"
        )


def add_layout_flag(parser: argparse.ArgumentParser, what: str, default: str | None = None, note: str = "") -> None:
    """``--layout``, read by ``devices.check_layout``: the memory layout of ``what``; without ``default``,
    repeatable (the variants a benchmark compares, by default both)."""
    if default is None:
        parser.add_argument(
            "--layout", action="append", choices=LAYOUT_NAMES, help=f"{what} (repeatable; default: both){note}"
        )
    else:
        parser.add_argument("--layout", default=default, choices=LAYOUT_NAMES, help=f"{what} (default {default}){note}")


def integer(low: int, high: int | None = None):
    """An argparse ``type``: an integer from ``low`` (to ``high``); anything else is refused by argparse with
    the flag, the value and what was expected, before the command starts."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            expected = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
            raise argparse.ArgumentTypeError(f"{text} is invalid; expected {expected}")
        return value

    return parse


def positive_number(text: str) -> float:
    """An argparse ``type``: a number > 0 (minutes, seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:  # NaN too
        raise argparse.ArgumentTypeError(f"{text} is invalid; expected a number > 0")
    return value


def output_file(text: str) -> str:
    """An argparse ``type``: a file a command writes when it ends (``--json``), checked when the command
    starts, so that a long measurement is not lost to a path that cannot be written."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; expected a file name")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: its folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"{text} cannot be written (permission denied)")
    return text
