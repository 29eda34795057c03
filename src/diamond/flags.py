"""Command-line flags that several subcommands share, each defined once. Importing this module imports no
torch, so that parsing a command stays fast."""

from __future__ import annotations

import argparse

DEVICE_VARIABLE = "DIAMOND_DEVICE"  # what --device auto means when set: pins every command to one device


def add_device_flag(parser: argparse.ArgumentParser) -> None:
    """``--device``: read by ``devices.resolve_device``."""
    parser.add_argument(
        "--device",
        default="auto",
        help=f"auto | cpu | cuda | cuda:N (default auto: ${DEVICE_VARIABLE} when set, else CUDA when available, "
        "else the CPU)",
    )
