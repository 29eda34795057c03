"""Choosing the torch device from a command-line string."""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Any

import torch

from diamond.errors import InvalidValue
from diamond.flags import DEVICE_VARIABLE

DEVICES = "'auto', 'cpu', 'cuda' or 'cuda:N'"


def resolve_device(device: str, where: str = "--device") -> torch.device:
    """'auto' → $DIAMOND_DEVICE when set, else CUDA when available, else CPU; anything else is checked against
    this machine."""
    if device == "auto":
        pinned = os.environ.get(DEVICE_VARIABLE, "")
        if pinned and pinned != "auto":
            return resolve_device(pinned, where=f"${DEVICE_VARIABLE} (what --device auto means)")
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = device_named(device, where)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidValue(
            f"{where} {device!r}: this torch build ({torch.__version__}) sees no CUDA device; use 'cpu' or 'auto'"
        )
    return dev


def device_named(device: str, where: str = "--device") -> torch.device:
    """The device ``device`` names ('cpu', 'cuda', 'cuda:N'), whether or not this machine has it (a SLURM job
    checks its own); any other name is refused."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidValue(f"{where} {device!r} is invalid; expected {DEVICES}") from None
    if dev.type not in ("cpu", "cuda"):
        raise InvalidValue(f"{where} {device!r} is not supported; expected {DEVICES}")
    return dev


def to_device(t: torch.Tensor, dev: torch.device | str) -> torch.Tensor:
    """``t`` on ``dev``; from the host to a GPU through pinned memory, without waiting for the copy (the
    device's stream orders it before the kernels that read it)."""
    dev = torch.device(dev)
    if dev.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(dev, non_blocking=True)
    return t.to(dev)


# How the weights of convolutions (and so their activations) are laid out in memory. Channels-last is the
# layout oneDNN's CPU convolutions and cuDNN's tensor-core kernels prefer; results differ from the default
# layout only by floating-point rounding (a different summation order).
LAYOUTS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
LAYOUT_CHOICES = ("auto", *LAYOUTS)  # a run's ``compute.layout``: 'auto' picks per device (resolve_layout)


def check_layout(layout: str, where: str = "--layout") -> str:
    if layout not in LAYOUTS:
        raise InvalidValue(f"{where} {layout!r} is unknown; expected one of {', '.join(LAYOUTS)}")
    return layout


def set_layout(module: torch.nn.Module, layout: str, where: str = "--layout") -> torch.nn.Module:
    """``module`` with its 4-d weights in ``layout`` (one of LAYOUTS), converted in place."""
    return module.to(memory_format=LAYOUTS[check_layout(layout, where)])


def resolve_layout(layout: str, dev: torch.device, compiled: bool = False) -> str:
    """'auto' → channels-last for an eager network on a CPU (oneDNN's convolutions are faster in it there),
    contiguous for a compiled one (inductor's CPU kernels are faster in it) and on CUDA (PyTorch's default;
    not measured there yet). Both measured on the ``cpu`` preset's denoiser (``diamond bench --preset cpu
    --layout contiguous --layout channels_last --compile``)."""
    if layout == "auto":
        return "channels_last" if dev.type == "cpu" and not compiled else "contiguous"
    return check_layout(layout, "compute.layout")


def place(module: torch.nn.Module, dev: torch.device, layout: str = "auto", compiled: bool = False) -> torch.nn.Module:
    """``module`` on ``dev`` with its weights in ``layout`` (a ``compute.layout`` value; ``compiled``: whether
    it will be compiled, which 'auto' heeds), before any optimiser or data-parallel wrapper holds its
    parameters."""
    return set_layout(module.to(dev), resolve_layout(layout, dev, compiled))


def cpp_compiler() -> str | None:
    """The C++ compiler torch.compile's CPU code generation would call ($CXX, else c++, g++ or clang++), or
    None when there is none."""
    names = [os.environ["CXX"]] if os.environ.get("CXX") else ["c++", "g++", "clang++"]
    return next((path for path in map(shutil.which, names) if path), None)


def compile_in_place(module: torch.nn.Module, dev: torch.device, where: str = "compute.compile") -> torch.nn.Module:
    """``module`` with its forward ``torch.compile``d in place (``nn.Module.compile``: the same parameters and
    state-dict keys). Static shapes: each input shape and mode it meets (training, sampling, evaluation)
    compiles one graph at its first call; later calls reuse it. On a CPU that needs a C++ compiler."""
    if dev.type == "cpu" and cpp_compiler() is None:
        cxx = os.environ.get("CXX")
        looked = f"$CXX={cxx!r} is not a program" if cxx else "$CXX unset; no c++, g++ or clang++ on PATH"
        raise InvalidValue(
            f"{where}: torch.compile on a CPU needs a C++ compiler and none was found ({looked}); "
            "install one (Debian: apt install g++) or turn it off"
        )
    module.compile(dynamic=False)
    return module


# The precision of the arithmetic: float32, or autocast to a 16-bit type around the forward passes (weights,
# optimiser states and gradients stay float32). float16 needs a loss scaler to train and is CUDA-only here.
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def check_precision(precision: str, dev: torch.device, where: str = "--precision") -> str:
    if precision not in PRECISIONS:
        raise InvalidValue(f"{where} {precision!r} is unknown; expected one of {', '.join(PRECISIONS)}")
    if precision == "float16" and dev.type != "cuda":
        raise InvalidValue(f"{where} 'float16' is for CUDA devices; on {dev.type} use 'bfloat16' or 'float32'")
    return precision


def autocast(dev: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context that computes in ``precision`` on ``dev`` (nothing for float32)."""
    if check_precision(precision, dev) == "float32":
        return contextlib.nullcontext()
    return torch.autocast(dev.type, dtype=PRECISIONS[precision])


CUBLAS_WORKSPACE = ":4096:8"  # the cuBLAS workspace setting that makes its matrix products deterministic


def apply_compute(compute: Any) -> dict[str, object]:
    """Set the process-wide compute settings of a run (a ``configs.ComputeConfig``: its ``deterministic``,
    ``tf32`` and ``cudnn_benchmark``); returns what was set. Its layout and precision are per network and
    per update (``place``, ``autocast``), not process-wide.

    Called before the run's first CUDA operation: cuBLAS reads its workspace setting when it starts.
    """
    deterministic, cudnn_benchmark = compute.deterministic, compute.cudnn_benchmark
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = cudnn_benchmark
    # off is PyTorch's default; cuDNN convolutions allow TF32 already
    torch.backends.cuda.matmul.allow_tf32 = compute.tf32
    return {
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
    }
