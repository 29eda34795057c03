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


# How the weights of convolutions (and so their activations) are laid out in memory. Channels-last is the
# layout oneDNN's CPU convolutions and cuDNN's tensor-core kernels prefer; results differ from the default
# layout only by floating-point rounding (a different summation order).
LAYOUTS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}


def set_layout(module: torch.nn.Module, layout: str, where: str = "--layout") -> torch.nn.Module:
    """``module`` with its 4-d weights in ``layout`` (one of LAYOUTS), converted in place."""
    if layout not in LAYOUTS:
        raise InvalidValue(f"{where} {layout!r} is unknown; expected one of {', '.join(LAYOUTS)}")
    return module.to(memory_format=LAYOUTS[layout])
