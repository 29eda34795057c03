"""Speed of the diffusion world model (spec §4, §7): training samples/s, imagined frames/s, latency, FLOP/s.

Three phases (``phases``: training, imagination at batch 32, latency at batch 1) run on one device, each
timed as the median of ``repeats`` iterations after ``warmup``, for the float32 contiguous baseline and each
variant of layout and precision asked for, all in the same run from the same weights and inputs.

Each phase's FLOPs are counted once, outside the timed loop, with ``torch.utils.flop_counter``; they cover
matrix products, convolutions and attention only (normalisation and elementwise ops are not counted), so
"GFLOP/s" is the rate of that useful arithmetic. The yardsticks of ``limits`` (matmul and convolution rates
measured in the same run, and a CPU's computed FMA peak) give each phase's fraction of what the device can do.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from diamond.benchmark import limits, phases
from diamond.benchmark.speed_report import device_name
from diamond.configs.presets import train_config
from diamond.configs.schema import DenoiserConfig, DenoiserTrainingConfig, OptimizerConfig, SamplerConfig, to_dict
from diamond.devices import resolve_device
from diamond.errors import InvalidValue
from diamond.models.diffusion.formulations import make_denoiser


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
    layouts: Sequence[str] = ("contiguous",),
    precisions: Sequence[str] | None = None,
    compile_too: bool = False,
) -> dict[str, Any]:
    """Measure the three phases on ``device`` ("auto": cuda if available, else cpu); a JSON-serialisable dict.

    The top-level ``train``/``imagine``/``latency`` are the baseline's (float32, contiguous, eager); every
    (precision, layout) of ``precisions`` (None: ``limits.default_precisions``) × ``layouts`` is measured too,
    under ``variants``, with its speed relative to the baseline, its fractions of the yardsticks of its own
    precision (``own_yardsticks``) and its quality (``phases.quality``); with ``compile_too`` each of them
    compiled as well, with its compile time and break-even point against its eager twin. ``denoiser_cfg``
    defaults to the paper's network; pass a tiny one (and small batches) for tests. ``matmul_size`` defaults
    to 2048 on CPU and 8192 on CUDA.
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
    description = limits.cpu_description() if dev.type == "cpu" else None
    native_bf16 = limits.native_bfloat16(dev, description)
    if precisions is None:
        precisions = limits.default_precisions(dev, description)
    todo = phases.variants(list(layouts), list(precisions), dev, compile_too)
    say = progress or (lambda message: None)
    cfg = denoiser_cfg if denoiser_cfg is not None else DenoiserConfig()
    sampler = SamplerConfig(num_steps_denoising=num_steps_denoising)
    sampler.validate("run_benchmark sampler")
    n_mm = matmul_size if matmul_size is not None else (8192 if dev.type == "cuda" else 2048)
    if n_mm < 1:
        raise InvalidValue(f"run_benchmark: matmul_size={matmul_size!r} is invalid; expected an integer >= 1")
    work = _workload(cfg, dev, train_batch, imagine_batch, image_size, num_targets, sampler, seed)
    result = _header(dev, cfg, work, repeats, warmup, n_mm, image_size, num_targets)
    result["config"]["variants"] = [v.name for v in todo]

    # The yardsticks, measured (and on a CPU computed) in this run on this device.
    result["native_bfloat16"] = native_bf16
    measured = yardstick_precisions([v.precision for v in todo], native_bf16)
    say(f"yardsticks: matmul {n_mm}x{n_mm} and 3x3 conv, {' and '.join(measured)}, on {dev}")
    result["limits"] = limits.measure(dev, n_mm, imagine_batch, repeats, warmup, say, measured, description)
    if description is not None:
        result["cpu_bf16_instructions"] = description["bf16_instructions"]
    flops: dict[str, int] = {}
    result["variants"], reference = [], None
    for variant in todo:  # timed first: a compiled variant's first calls then compile with cold caches
        yardsticks = own_yardsticks(result["limits"], variant.precision)
        timed = phases.time_phases(work, variant, repeats, warmup, flops, yardsticks, _prefixed(say, variant))
        say(f"variant {variant.name}: quality against {phases.BASELINE.name} from the same noise")
        outputs, measured = phases.quality(work, variant, reference)
        reference = reference or outputs  # the baseline's, for the comparisons
        result["variants"].append({"name": variant.name, **asdict(variant), **timed, "quality": measured})
    result.update({phase: result["variants"][0][phase] for phase in phases.PHASES})
    _compare_with_baseline(result)
    return result


def yardstick_precisions(variant_precisions: list[str], native_bf16: bool) -> list[str]:
    """The precisions whose matmul and convolution rates a run measures: float32, each precision a variant
    computes in, and bfloat16 wherever the device computes in it natively (shown even when no variant uses it)."""
    wanted = {"float32", *variant_precisions, *(["bfloat16"] * native_bf16)}
    return [name for name in limits.DTYPES if name in wanted]


def own_yardsticks(measured: dict[str, dict[str, Any]], precision: str) -> dict[str, Any]:
    """What a variant computing in ``precision`` is a fraction of: the matmul and convolution rates measured in
    that precision where they were (else the float32 ones; ``precision`` names which), and the float32 FMA
    peak for float32 only (bfloat16's dot-product instructions have another peak, not computed)."""
    own = precision if f"matmul_{precision}" in measured else "float32"
    return {
        "precision": own,
        "matmul": measured[f"matmul_{own}"]["gflops"],
        "conv": measured[f"conv_{own}"]["gflops"],
        "fma_peak": measured.get("fma_peak_float32", {}).get("gflops") if own == "float32" else None,
    }


def _compare_with_baseline(result: dict[str, Any]) -> None:
    """Each variant's speed as a multiple of the baseline's; a compiled one's break-even against its eager twin."""
    for entry in result["variants"]:
        entry["relative_to_baseline"] = {
            "train_samples_per_s": entry["train"]["samples_per_s"] / result["train"]["samples_per_s"],
            "imagine_frames_per_s": entry["imagine"]["frames_per_s"] / result["imagine"]["frames_per_s"],
            "latency_ms": entry["latency"]["ms"] / result["latency"]["ms"],
        }
        if entry["compiled"]:
            eager_name = phases.Variant(entry["layout"], entry["precision"]).name
            eager = next(e for e in result["variants"] if e["name"] == eager_name)
            for phase in phases.PHASES:
                entry[phase]["break_even_calls"] = phases.break_even_calls(entry[phase], eager[phase])


def preset_sizes(preset: str) -> dict[str, Any]:
    """``run_benchmark``'s network and sizes as the ``diamond train`` preset ``preset`` trains them: its
    denoiser, training and imagination batches, frame size, targets and denoising steps."""
    cfg = train_config(preset)
    return {
        "denoiser_cfg": cfg.denoiser,
        "train_batch": cfg.denoiser_training.batch_size,
        "imagine_batch": cfg.actor_critic_training.imagination.batch_size,
        "num_steps_denoising": cfg.sampler.num_steps_denoising,
        "image_size": cfg.env.size,
        "num_targets": cfg.denoiser_training.num_targets,
    }


def _prefixed(say: Callable[[str], None], variant: phases.Variant) -> Callable[[str], None]:
    return lambda message: say(f"[{variant.name}] {message}")


def _workload(cfg, dev, train_batch, imagine_batch, image_size, num_targets, sampler, seed) -> phases.Workload:
    """The paper's (or ``cfg``'s) denoiser with seeded weights and random frames and actions for each phase."""
    generator = torch.Generator(device=dev).manual_seed(seed)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        denoiser = wake_zero_layers(make_denoiser(cfg).to(dev))
    net = cfg.net

    def frames(batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        obs = torch.rand(batch, length, net.img_channels, image_size, image_size, device=dev, generator=generator)
        draws = net.action_space.sample(np.random.default_rng(seed), batch * length)
        act = torch.from_numpy(draws).reshape(batch, length, *net.action_space.shape).to(dev)
        return obs * 2 - 1, act

    train_obs, train_act = frames(train_batch, net.num_steps_conditioning + num_targets)
    train_mask = torch.ones(train_obs.shape[:2], dtype=torch.bool, device=dev)
    k = net.num_steps_conditioning
    samples = {"imagine": frames(imagine_batch, k), "latency": frames(1, k)}
    return phases.Workload.of(denoiser, (train_obs, train_act, train_mask), samples, sampler, OptimizerConfig(), seed)


def wake_zero_layers(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` with its zero-initialised weights (a denoiser's output layer, each block's last convolution)
    drawn like the others at a small scale: with random weights otherwise, the output would ignore most of the
    network, and every layout and precision would make the same frames. Uses the global RNG."""
    with torch.no_grad():
        for p in module.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(0, 0.02)
    return module


def _header(dev, cfg, work: phases.Workload, repeats, warmup, n_mm, image_size, num_targets) -> dict[str, Any]:
    result: dict[str, Any] = {
        "device": str(dev),
        "device_name": device_name(dev),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "config": {
            "denoiser": to_dict(cfg),
            "parameters": sum(p.numel() for p in work.denoiser.parameters()),
            "sampler": to_dict(work.sampler),
            "optimizer": to_dict(work.optimizer),
            "train_batch": work.train_inputs[0].shape[0],
            "imagine_batch": work.sample_inputs["imagine"][0].shape[0],
            "num_steps_denoising": work.sampler.num_steps_denoising,
            "num_context_frames": cfg.net.num_steps_conditioning,
            "num_targets": num_targets,
            "image_size": image_size,
            "repeats": repeats,
            "warmup": warmup,
            "matmul_size": n_mm,
            "seed": work.seed,
        },
    }
    if dev.type == "cuda":
        result["cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
        result["cuda_matmul_allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
    return result
