"""Speed of the diffusion world model (spec §4, §7): training samples/s, imagined frames/s, latency, FLOP/s.

Three phases run on one device, each timed as the median of ``repeats`` iterations after ``warmup``:

- ``train``: one denoiser training iteration on a batch of sequences of 4 context frames + 2 targets
  (the real autoregressive ``Denoiser.loss``), backward, gradient clipping and the AdamW step.
- ``imagine``: sampling the next frame of a batch (default 32) with the paper's 3 Euler steps.
- ``latency``: the same at batch 1 (what an interactive player waits for).

Each phase's FLOPs are counted once, outside the timed loop, with ``torch.utils.flop_counter``; they cover
matrix products, convolutions and attention only (normalisation and elementwise ops are not counted), so
"GFLOP/s" is the rate of that useful arithmetic. The yardsticks of ``limits`` (matmul and convolution rates
measured in the same run, and a CPU's computed FMA peak) give each phase's fraction of what the device can do.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import statistics
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from diamond.benchmark import limits
from diamond.benchmark.timing import time_calls
from diamond.configs.schema import DenoiserConfig, DenoiserTrainingConfig, OptimizerConfig, SamplerConfig, to_dict
from diamond.devices import resolve_device
from diamond.errors import InvalidValue
from diamond.models.diffusion.formulations import make_denoiser
from diamond.training.optim import make_optimizer, optimizer_step

# (section, key, label) of every figure format_report prints, in order.
REPORT_ROWS: tuple[tuple[str, str, str], ...] = (
    ("train", "samples_per_s", "train samples/s"),
    ("train", "median_s", "train s/iteration"),
    ("train", "gflop_per_iter", "train GFLOP/iteration"),
    ("train", "gflops", "train GFLOP/s"),
    ("train", "fraction_of_matmul", "train fraction of float32 matmul"),
    ("train", "fraction_of_conv", "train fraction of float32 conv"),
    ("train", "fraction_of_fma_peak", "train fraction of float32 FMA peak"),
    ("train", "peak_mem_mb", "train peak memory MB"),
    ("imagine", "frames_per_s", "imagine frames/s"),
    ("imagine", "median_s", "imagine s/batch"),
    ("imagine", "gflop_per_iter", "imagine GFLOP/batch"),
    ("imagine", "gflops", "imagine GFLOP/s"),
    ("imagine", "fraction_of_matmul", "imagine fraction of float32 matmul"),
    ("imagine", "fraction_of_conv", "imagine fraction of float32 conv"),
    ("imagine", "fraction_of_fma_peak", "imagine fraction of float32 FMA peak"),
    ("imagine", "peak_mem_mb", "imagine peak memory MB"),
    ("latency", "ms", "latency ms/frame"),
    ("latency", "gflop_per_iter", "latency GFLOP/frame"),
    ("latency", "gflops", "latency GFLOP/s"),
    ("latency", "fraction_of_matmul", "latency fraction of float32 matmul"),
    ("latency", "fraction_of_conv", "latency fraction of float32 conv"),
    ("latency", "fraction_of_fma_peak", "latency fraction of float32 FMA peak"),
    ("latency", "peak_mem_mb", "latency peak memory MB"),
)


def run_benchmark(
    device: str = "auto",
    repeats: int = 5,
    warmup: int = 1,
    denoiser_cfg: DenoiserConfig | None = None,
    train_batch: int = 32,
    imagine_batch: int = 32,
    num_steps_denoising: int = 3,
    progress: Callable[[str], None] | None = None,
    *,
    image_size: int = 64,
    num_targets: int = DenoiserTrainingConfig().num_targets,
    matmul_size: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure the three phases on ``device`` ("auto": cuda if available, else cpu); a JSON-serialisable dict.

    ``denoiser_cfg`` defaults to the paper's network; pass a tiny one (and small batches) for tests.
    ``matmul_size`` defaults to 2048 on CPU and 8192 on CUDA.
    """
    for name, value, low in (
        ("repeats", repeats, 1),
        ("warmup", warmup, 0),
        ("train_batch", train_batch, 1),
        ("imagine_batch", imagine_batch, 1),
        ("num_steps_denoising", num_steps_denoising, 1),
        ("image_size", image_size, 1),
        ("num_targets", num_targets, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidValue(f"run_benchmark: {name}={value!r} is invalid; expected an integer >= {low}")
    dev = resolve_device(device, where="run_benchmark: device")
    say = progress or (lambda message: None)
    cfg = denoiser_cfg if denoiser_cfg is not None else DenoiserConfig()
    sampler = SamplerConfig(num_steps_denoising=num_steps_denoising)
    sampler.validate("run_benchmark sampler")
    opt_cfg = OptimizerConfig()
    n_mm = matmul_size if matmul_size is not None else (8192 if dev.type == "cuda" else 2048)
    if n_mm < 1:
        raise InvalidValue(f"run_benchmark: matmul_size={matmul_size!r} is invalid; expected an integer >= 1")

    result: dict[str, Any] = {
        "device": str(dev),
        "device_name": _device_name(dev),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "config": {
            "denoiser": to_dict(cfg),
            "sampler": to_dict(sampler),
            "optimizer": to_dict(opt_cfg),
            "train_batch": train_batch,
            "imagine_batch": imagine_batch,
            "num_steps_denoising": num_steps_denoising,
            "num_context_frames": cfg.net.num_steps_conditioning,
            "num_targets": num_targets,
            "image_size": image_size,
            "repeats": repeats,
            "warmup": warmup,
            "matmul_size": n_mm,
            "seed": seed,
        },
    }
    if dev.type == "cuda":
        result["cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
        result["cuda_matmul_allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)

    # 0. The yardsticks, measured (and on a CPU computed) in this run on this device.
    say(f"yardsticks: matmul {n_mm}x{n_mm} and 3x3 conv, float32 and bfloat16, on {dev}")
    result["limits"] = limits.measure(dev, n_mm, imagine_batch, repeats, warmup, say)
    yardsticks = {
        "matmul": result["limits"]["matmul_float32"]["gflops"],
        "conv": result["limits"]["conv_float32"]["gflops"],
        "fma_peak": result["limits"].get("fma_peak_float32", {}).get("gflops"),
    }

    generator = torch.Generator(device=dev).manual_seed(seed)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        denoiser = make_denoiser(cfg).to(dev)
    net = cfg.net
    c, h = net.img_channels, image_size

    def frames(batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        obs = torch.rand(batch, length, c, h, h, device=dev, generator=generator) * 2 - 1
        draws = net.action_space.sample(np.random.default_rng(seed), batch * length)
        act = torch.from_numpy(draws).reshape(batch, length, *net.action_space.shape).to(dev)
        return obs, act

    # 1. Training: the autoregressive loss, backward, clipping and AdamW (spec §4, §6).
    memory = _PeakMemory(dev)
    memory.start()
    denoiser.train()
    optimizer, scheduler = make_optimizer(denoiser, opt_cfg)
    train_obs, train_act = frames(train_batch, net.num_steps_conditioning + num_targets)
    train_mask = torch.ones(train_obs.shape[:2], dtype=torch.bool, device=dev)

    def train_iteration() -> None:
        loss = denoiser.loss(train_obs, train_act, train_mask, generator=generator)
        optimizer_step(denoiser, optimizer, scheduler, loss, opt_cfg.max_grad_norm)

    say(f"train: counting FLOPs (batch {train_batch})")
    flops = count_flops(train_iteration)
    times, usage = time_calls(train_iteration, repeats, warmup, dev, say, "train")
    result["train"] = _phase(train_batch, times, usage, flops, yardsticks, memory)
    result["train"]["samples_per_s"] = train_batch / result["train"]["median_s"]
    denoiser.zero_grad(set_to_none=True)
    optimizer.state.clear()  # the sampling phases need no optimiser state in memory

    # 2. and 3. Sampling the next frame: a batch, then a single frame.
    denoiser.eval()
    for key, batch in (("imagine", imagine_batch), ("latency", 1)):
        memory = _PeakMemory(dev)
        memory.start()
        context, context_act = frames(batch, net.num_steps_conditioning)

        def sample_iteration(context=context, context_act=context_act) -> None:  # this iteration's batch
            with torch.inference_mode():
                denoiser.sample_next_obs(context, context_act, sampler, generator=generator)

        say(f"{key}: counting FLOPs (batch {batch}, {num_steps_denoising} steps)")
        flops = count_flops(sample_iteration)
        times, usage = time_calls(sample_iteration, repeats, warmup, dev, say, key)
        phase = _phase(batch, times, usage, flops, yardsticks, memory)
        phase["num_steps_denoising"] = num_steps_denoising
        if key == "imagine":
            phase["frames_per_s"] = batch / phase["median_s"]
        else:
            phase["ms"] = phase["median_s"] * 1e3
        result[key] = phase
    return result


LIMIT_LABELS = {
    "matmul_float32": "matmul float32",
    "matmul_bfloat16": "matmul bfloat16",
    "conv_float32": "3x3 conv float32",
    "conv_bfloat16": "3x3 conv bfloat16",
    "fma_peak_float32": "FMA peak float32 (computed)",
}


def format_report(result: dict[str, Any]) -> str:
    """The yardsticks of this run, then each phase's figures and its fraction of each yardstick."""
    cfg = result["config"]
    on_cpu = result["device"].startswith("cpu")
    rows = [(f"{LIMIT_LABELS[name]} GFLOP/s", _fmt(limit["gflops"])) for name, limit in result["limits"].items()]
    rows += [(label, _fmt(result.get(section, {}).get(key))) for section, key, label in REPORT_ROWS]
    width = max(len(label) for label, _ in rows)
    out = [
        f"DIAMOND denoiser benchmark on {result['device']} ({result['device_name']}), torch {result['torch']}, "
        f"{result['threads']} threads",
        f"train: batch {cfg['train_batch']} x ({cfg['num_context_frames']} context + {cfg['num_targets']} targets), "
        f"forward + backward + AdamW; imagine: batch {cfg['imagine_batch']}; latency: batch 1; "
        f"{cfg['num_steps_denoising']} Euler steps; {cfg['image_size']}x{cfg['image_size']} frames; "
        f"median of {cfg['repeats']} after {cfg['warmup']} warm-up; matmul {cfg['matmul_size']}^2; "
        f"conv at batch {cfg['imagine_batch']}, 64 channels, 64x64",
        "",
        *(f"{label.ljust(width)}  {value.rjust(10)}" for label, value in rows),
        "",
        "Every yardstick was measured (or computed) in this run on this device; nothing is compared with figures "
        "from elsewhere.",
        "FLOPs count matmuls, convolutions and attention only (torch FlopCounterMode); ms: lower is better.",
    ]
    peak = result["limits"].get("fma_peak_float32")
    if peak is not None:
        out.append(
            f"FMA peak = {peak['threads']} threads x {peak['ghz']:.2f} GHz ({peak['clock_source']}) x "
            f"{peak['float32_lanes']} float32 lanes x 2 FLOP x {peak['fma_units_assumed']} FMA units per core "
            "(assumed: it cannot be read); turbo clocks can exceed it."
        )
    elif on_cpu:
        out.append("The CPU's FMA peak could not be computed (no vector width or clock readable).")
    else:
        out.append(f"No computed peak on {result['device']}: its yardsticks are the measured matmul and conv.")
    if result.get("cudnn_allow_tf32"):
        out.append("cuDNN may use TF32 for convolutions while the matmul is full float32: fractions can exceed 1.")
    timed = [*result["limits"].values(), *(result[s] for s in ("train", "imagine", "latency") if s in result)]
    shares = [phase.get("other_cpu_share") for phase in timed]
    busiest = max((x for x in shares if x is not None), default=None)
    if busiest is not None and busiest >= 0.05:
        out.append(
            f"Other processes used up to {busiest:.0%} of the CPUs during the timed iterations: "
            "CPU timings are unreliable (threads wait for time slices at every parallel barrier)."
        )
    if on_cpu:
        for section in ("train", "imagine", "latency"):
            phase = result.get(section, {})
            if phase.get("system_time_share", 0.0) >= 0.1:
                out.append(
                    f"{section}: {phase['system_time_share']:.0%} of our CPU time was in the kernel "
                    f"({phase['page_faults_per_iter']:,.0f} page faults per iteration): large freed tensors "
                    "go back to the OS and are faulted in again (glibc malloc; see MALLOC_MMAP_THRESHOLD_)."
                )
    kind = result.get("train", {}).get("peak_mem_kind")
    if kind:
        out.append(f"peak memory: {kind}.")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------
# Helpers


def _sdpa_shapes_flops(query_shape, key_shape, value_shape) -> int:
    """2 FLOPs per multiply-add of q·kᵀ and of softmax(·)·v over (batch, heads, tokens, head dim) tensors."""
    b, heads, s_q, d = query_shape
    s_k, d_v = key_shape[-2], value_shape[-1]
    return 2 * b * heads * s_q * s_k * d + 2 * b * heads * s_q * s_k * d_v


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return _sdpa_shapes_flops(query_shape, key_shape, value_shape)


def _cpu_sdpa_backward_flops(
    grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs
) -> int:
    return 2 * _sdpa_shapes_flops(query_shape, key_shape, value_shape)  # four products instead of two


def _custom_flop_mapping() -> dict[Any, Any]:
    # torch's counter knows the CUDA attention kernels but not the CPU flash kernel that SDPA picks on CPU.
    aten = torch.ops.aten
    mapping = {}
    for name, fn in (
        ("_scaled_dot_product_flash_attention_for_cpu", _cpu_sdpa_flops),
        ("_scaled_dot_product_flash_attention_for_cpu_backward", _cpu_sdpa_backward_flops),
    ):
        if hasattr(aten, name):
            mapping[getattr(aten, name)] = fn  # the counter looks up overload packets
    return mapping


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs (matmuls, convolutions, attention) of one call of ``fn``."""
    with FlopCounterMode(display=False, custom_mapping=_custom_flop_mapping()) as counter:
        fn()
    return int(counter.get_total_flops())


def _phase(
    batch: int,
    times: list[float],
    usage: dict[str, Any],
    flops: int,
    yardsticks: dict[str, float | None],
    memory: _PeakMemory,
) -> dict[str, Any]:
    median = statistics.median(times)
    gflops = flops / median / 1e9
    return {
        "batch": batch,
        "median_s": median,
        "times_s": times,
        **usage,
        "gflop_per_iter": flops / 1e9,
        "gflops": gflops,
        **{f"fraction_of_{name}": None if limit is None else gflops / limit for name, limit in yardsticks.items()},
        **memory.read(),
    }


class _PeakMemory:
    """Peak memory of one phase: CUDA allocator peak, or the process's peak resident set size on CPU.

    On Linux the kernel's peak-RSS counter is reset at the start of the phase (``/proc/self/clear_refs``),
    so the figure is the highest RSS of the whole process during the phase (interpreter, libraries and
    everything alive included). Where that is impossible it is ``ru_maxrss``, the high-water mark since
    the process started.
    """

    def __init__(self, dev: torch.device) -> None:
        self.dev = dev
        self.kind = ""
        self.rss_at_start_mb: float | None = None

    def start(self) -> None:
        if self.dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.dev)
            self.kind = "torch.cuda.max_memory_allocated during the phase (tensors only, not the CUDA context)"
            return
        self.rss_at_start_mb = _proc_status_mb("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets the peak RSS (VmHWM / ru_maxrss) of this process
            self.kind = (
                "peak RSS of the whole process during the phase (VmHWM reset at phase start; memory that "
                "malloc keeps from earlier phases counts)"
            )
        except OSError:
            self.kind = "peak RSS of the whole process since it started (ru_maxrss high-water mark)"

    def read(self) -> dict[str, Any]:
        if self.dev.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.dev) / 2**20
            return {"peak_mem_mb": peak, "peak_mem_kind": self.kind}
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = maxrss / 2**20 if sys.platform == "darwin" else maxrss / 2**10  # bytes on macOS, KiB on Linux
        out = {"peak_mem_mb": peak, "peak_mem_kind": self.kind}
        if self.rss_at_start_mb is not None:
            out["rss_at_start_mb"] = self.rss_at_start_mb
        return out


def _proc_status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    return None


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"
