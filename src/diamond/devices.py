"""Choosing the torch device from a command-line string."""

from __future__ import annotations

import torch

from diamond.errors import InvalidValue

DEVICES = "'auto', 'cpu', 'cuda' or 'cuda:N'"


def resolve_device(device: str, where: str = "--device") -> torch.device:
    """'auto' → CUDA when available, else CPU; anything else is checked against this machine."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidValue(f"{where} {device!r} is invalid; expected {DEVICES}") from None
    if dev.type not in ("cpu", "cuda"):
        raise InvalidValue(f"{where} {device!r} is not supported; expected {DEVICES}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidValue(
            f"{where} {device!r}: this torch build ({torch.__version__}) sees no CUDA device; use 'cpu' or 'auto'"
        )
    return dev
