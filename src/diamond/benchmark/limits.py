"""The yardsticks a benchmark's phases are measured against, all from the same run on the same device.

- Measured: the rate of a large square matrix product and of a 3×3 convolution (the U-Net's main
  operation), in float32 and in each 16-bit precision a variant computes in. These are what the device's
  libraries reach on dense work. bfloat16 also wherever it is native (``native_bfloat16``); elsewhere,
  emulated in software, its yardsticks take minutes and bound nothing the float32 ones do not. float16
  (CUDA only here) only when a float16 variant is measured.
- Computed (CPUs only): the float32 fused-multiply-add peak, threads × clock × vector lanes × 2 FLOP ×
  FMA units, from what the kernel says about the CPU. The number of FMA units per core cannot be read;
  it is taken as 2 (x86 cores since Haswell and Zen 2), and stated beside the figure.

A phase's figure is then a fraction of each yardstick; never a ratio against a number from elsewhere.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from diamond.benchmark.timing import time_calls

FMA_UNITS_ASSUMED = 2
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def cpu_description(cpuinfo: str | None = None, max_khz: str | None = None) -> dict[str, Any]:
    """Vector width and clock of this CPU from ``/proc/cpuinfo`` and cpufreq (``None`` where unreadable)."""
    cpuinfo = _read("/proc/cpuinfo") if cpuinfo is None else cpuinfo
    max_khz = _read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") if max_khz is None else max_khz
    flags: set[str] = set()
    mhz = None
    for line in (cpuinfo or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags" and not flags:
            flags = set(value.split())
        elif key.strip() == "cpu MHz" and mhz is None:
            mhz = float(value)
    lanes = 16 if "avx512f" in flags else 8 if {"avx2", "fma"} <= flags else 4 if "sse2" in flags else None
    ghz, clock_source = None, None
    if max_khz and max_khz.strip().isdigit():
        ghz, clock_source = int(max_khz) / 1e6, "cpufreq cpuinfo_max_freq"
    elif mhz:
        ghz, clock_source = mhz / 1e3, "/proc/cpuinfo cpu MHz (the current clock)"
    return {
        "float32_lanes": lanes,
        "ghz": ghz,
        "clock_source": clock_source,
        "bf16_instructions": sorted(flags & {"avx512_bf16", "amx_bf16", "avx_vnni"}),
    }


def fma_peak(threads: int, description: dict[str, Any]) -> dict[str, Any] | None:
    """The float32 FMA peak of ``threads`` cores of the described CPU, or None if it cannot be computed."""
    lanes, ghz = description["float32_lanes"], description["ghz"]
    if lanes is None or ghz is None:
        return None
    return {
        "gflops": threads * ghz * lanes * 2 * FMA_UNITS_ASSUMED,
        "threads": threads,
        "fma_units_assumed": FMA_UNITS_ASSUMED,
        **description,
    }


def native_bfloat16(dev: torch.device, description: dict[str, Any] | None = None) -> bool:
    """Whether ``dev`` computes in bfloat16 in hardware: CUDA, or a CPU with AVX-512 BF16 or AMX. Elsewhere
    oneDNN converts to and from float32 in software (a 2048² bfloat16 matmul took a minute on an AVX2 CPU)."""
    if dev.type != "cpu":
        return True
    flags = (description or cpu_description())["bf16_instructions"]
    return bool(set(flags) & {"avx512_bf16", "amx_bf16"})


def default_precisions(dev: torch.device, description: dict[str, Any] | None = None) -> list[str]:
    """The precisions a speed command measures when none is asked for: float32, and bfloat16 where ``dev``
    computes in it (``native_bfloat16``; ``description``: the CPU's, when already read)."""
    return ["float32", "bfloat16"] if native_bfloat16(dev, description) else ["float32"]


def measure(
    dev: torch.device,
    matmul_size: int,
    conv_batch: int,
    repeats: int,
    warmup: int,
    say: Callable[[str], None],
    precisions: Sequence[str] = ("float32", "bfloat16"),
    description: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each measured yardstick ('matmul_float32', 'conv_bfloat16', ...) with its GFLOP/s, and on a CPU the
    computed 'fma_peak_float32'. The convolution runs at ``conv_batch`` (the imagination batch). Float32 and
    each other precision of ``precisions`` (names of ``DTYPES``) are measured, in ``DTYPES``' order.
    ``description``: the CPU's (``cpu_description``), when already read."""
    unknown = sorted(set(precisions) - set(DTYPES))
    if unknown:
        raise ValueError(f"limits.measure: precisions {unknown} are not among {list(DTYPES)}")
    limits: dict[str, dict[str, Any]] = {}
    for name, dtype in DTYPES.items():
        if name == "float32" or name in precisions:
            limits[f"matmul_{name}"] = _matmul(dev, matmul_size, dtype, repeats, warmup, say)
            limits[f"conv_{name}"] = _conv(dev, dtype, repeats, warmup, say, conv_batch)
    if dev.type == "cpu":
        peak = fma_peak(torch.get_num_threads(), description or cpu_description())
        if peak is not None:
            limits["fma_peak_float32"] = peak
    return limits


def _rate(flops: float, times: list[float], usage: dict[str, Any], **shape: Any) -> dict[str, Any]:
    median = statistics.median(times)
    return {**shape, "median_s": median, "times_s": times, "gflops": flops / median / 1e9, **usage}


def _matmul(dev, n: int, dtype, repeats: int, warmup: int, say) -> dict[str, Any]:
    """An n×n matrix product; its operands are freed on return (at n = 8192 they hold 512 MiB in float32,
    which would otherwise count in every later phase's peak memory)."""
    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)
    times, usage = time_calls(lambda: torch.mm(a, b), repeats, warmup, dev, say, f"matmul {dtype}")
    return _rate(2 * n**3, times, usage, n=n)


def _conv(dev, dtype, repeats: int, warmup: int, say, batch: int, channels: int = 64, size: int = 64):
    """A 3×3 convolution at the paper U-Net's first level (64 channels on 64×64 frames)."""
    x = torch.randn(batch, channels, size, size, device=dev, dtype=dtype)
    w = torch.randn(channels, channels, 3, 3, device=dev, dtype=dtype)
    with torch.inference_mode():
        times, usage = time_calls(lambda: F.conv2d(x, w, padding=1), repeats, warmup, dev, say, f"conv {dtype}")
    flops = 2 * batch * channels * channels * 9 * size * size
    return _rate(flops, times, usage, shape=[batch, channels, size, size])
