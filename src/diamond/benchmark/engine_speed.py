"""Speed of the neural game engine (spec §10): frames per second of one ``Engine.step`` (the dynamics model's
next 30×56 frame, then the upsampler's 150×280 frame) at batch 1, in both sampling settings.

Each step is timed in its two parts, the same two calls as ``Engine.step``, and the state advances after
each step as in play. Figures are medians over ``steps`` timed steps after ``warmup`` steps; frames per
second is 1 / the median step time.

Each engine is timed in every memory layout × precision asked for (float32, or autocast to bfloat16 /
float16 with the float32 weights); every variant's first full-resolution frame of each setting, from the
same state and noise, is compared with the engine's first variant's (8-bit pixels that differ, PSNR).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diamond.benchmark.engine_speed_report import format_engine_speed
from diamond.benchmark.limits import default_precisions
from diamond.benchmark.speed import wake_zero_layers
from diamond.benchmark.speed_report import device_name
from diamond.benchmark.timing import CpuUsage, sync
from diamond.configs.engine import SAMPLING_SETTINGS, EngineConfig
from diamond.configs.presets import engine_config
from diamond.configs.schema import to_dict
from diamond.data.hdf5_episodes import FULL_RES, LOW_RES
from diamond.devices import autocast, check_layout, check_precision, resolve_device, set_layout
from diamond.errors import InvalidValue
from diamond.imaging import psnr, to_uint8
from diamond.models.engine import Engine, EngineState

# The engines of ``--preset``: the presets of ``diamond train-engine`` with random weights.
SIZES: dict[str, Callable[[], EngineConfig]] = {name: partial(engine_config, name) for name in ("csgo", "cpu")}


@dataclass
class TimedEngine:
    """An engine to time: its name in the report, where it came from, and an optional start state."""

    name: str
    engine: Engine
    source: str
    state: EngineState | None = None


def machine_info(dev: torch.device) -> dict[str, Any]:
    return {
        "device": str(dev),
        "device_name": device_name(dev),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }


def random_state(engine: Engine, seed: int = 0) -> EngineState:
    """Frames uniform in [-1, 1] at the spec's sizes (30×56, 150×280) and random actions, batch 1."""
    dyn, up = engine.cfg.dynamics.net, engine.cfg.upsampler.net
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(1, dyn.num_steps_conditioning, dyn.img_channels, *LOW_RES, generator=gen) * 2 - 1
    full = torch.rand(1, up.num_steps_conditioning, up.img_channels, *FULL_RES, generator=gen) * 2 - 1
    draws = dyn.action_space.sample(np.random.default_rng(seed), dyn.num_steps_conditioning)
    act = torch.from_numpy(draws.astype(np.float32)).reshape(1, dyn.num_steps_conditioning, *dyn.action_space.shape)
    return EngineState(low, act, full)


def time_engine(
    engine: Engine,
    state: EngineState | None = None,
    steps: int = 3,
    warmup: int = 1,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    name: str = "engine",
    precision: str = "float32",
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Seconds per ``Engine.step`` (and per part) in each sampling setting, computed in ``precision``
    (``devices.autocast``): a JSON-serialisable dict; and each setting's first full-resolution frame (8-bit)."""
    for flag, value, low in (("steps", steps, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidValue(f"--{flag} {value!r} is invalid; expected an integer >= {low}")
    say = progress or (lambda message: None)
    engine = engine.eval()
    dev = engine.device
    start = state if state is not None else random_state(engine, seed)
    start = EngineState(start.low_res.to(dev), start.act.to(dev), start.full_res.to(dev))
    out: dict[str, Any] = {
        "params": {"dynamics": _params(engine.dynamics), "upsampler": _params(engine.upsampler)},
        "config": {"dynamics": to_dict(engine.cfg.dynamics.net), "upsampler": to_dict(engine.cfg.upsampler.net)},
        "steps": steps,
        "warmup": warmup,
        "precision": precision,
        "settings": {},
    }
    first: dict[str, torch.Tensor] = {}
    for setting in SAMPLING_SETTINGS:
        sampling = engine.cfg.sampling(setting)
        gen = torch.Generator(device=dev).manual_seed(seed)
        s, parts = start, {"dynamics": [], "upsampler": []}
        usage = None
        with torch.inference_mode(), autocast(dev, precision):
            for i in range(warmup + steps):
                if i == warmup:
                    usage = CpuUsage(steps)
                sync(dev)
                t0 = time.perf_counter()
                low, _ = engine.dynamics.sample_next_obs(s.low_res, s.act, sampling.dynamics, generator=gen)
                sync(dev)
                t1 = time.perf_counter()
                full, _ = engine.upsampler.upsample(s.full_res, low, sampling.upsampler, generator=gen)
                sync(dev)
                t2 = time.perf_counter()
                if i == 0:
                    first[setting] = to_uint8(full.float()).cpu()
                s = Engine.advance(s, low.float(), full.float(), s.act[:, -1])
                if i >= warmup:
                    parts["dynamics"].append(t1 - t0)
                    parts["upsampler"].append(t2 - t1)
                kind = "warm-up" if i < warmup else "timed"
                say(f"{name} {setting}: {kind} step {i + 1}/{warmup + steps} {t2 - t0:.3f} s")
        out["settings"][setting] = _setting_figures(sampling, parts, usage.read() if usage else {})
    return out, first


def _setting_figures(sampling, parts: dict[str, list[float]], usage: dict[str, Any]) -> dict[str, Any]:
    totals = [d + u for d, u in zip(parts["dynamics"], parts["upsampler"])]
    median = statistics.median(totals)
    return {
        "fps": 1.0 / median,
        "median_step_s": median,
        "step_times_s": totals,
        "dynamics": {
            "denoising_steps": sampling.dynamics.num_steps_denoising,
            "median_s": statistics.median(parts["dynamics"]),
            "times_s": parts["dynamics"],
        },
        "upsampler": {
            "denoising_steps": sampling.upsampler.num_steps_denoising,
            "median_s": statistics.median(parts["upsampler"]),
            "times_s": parts["upsampler"],
        },
        **usage,
    }


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def engine_speed(
    engines: list[TimedEngine],
    steps: int = 3,
    warmup: int = 1,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    layouts: Sequence[str] = ("contiguous",),
    precisions: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The machine and the timings of each engine (all on one device) in each memory layout of its weights
    (``devices.LAYOUTS``) and each precision (None: ``limits.default_precisions``); entries are named
    ``<engine>``, then ``/<layout>`` unless it is the first layout and ``/<precision>`` unless float32. Each
    has its ``quality`` against the engine's first entry (from the same state and noise)."""
    dev = engines[0].engine.device
    precisions = default_precisions(dev) if precisions is None else list(precisions)
    for layout in layouts:  # all checked before the first (long) timing
        check_layout(layout)
    for precision in precisions:
        check_precision(precision, dev, "engine-fps --precision")
    result: dict[str, Any] = {"machine": machine_info(dev), "engines": {}}
    for item in engines:
        reference = None
        for precision in precisions:
            for i, layout in enumerate(layouts):
                name = item.name + f"/{layout}" * (i > 0) + f"/{precision}" * (precision != "float32")
                engine = set_layout(item.engine, layout)
                timed, first = time_engine(engine, item.state, steps, warmup, seed, progress, name, precision)
                reference = reference or first
                quality = {s: frame_difference(first[s], reference[s]) for s in first}
                result["engines"][name] = {"source": item.source, "layout": layout, **timed, "quality": quality}
    return result


def frame_difference(frame: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """The share of 8-bit values of ``frame`` that differ from ``reference``'s, the largest difference, PSNR."""
    diff = (frame.int() - reference.int()).abs()
    return {
        "changed_pixel_fraction": float((diff > 0).float().mean()),
        "max_pixel_difference": int(diff.max()),
        "psnr_db": psnr(frame, reference),
    }


def load_timed_engines(
    checkpoint: str | None, from_hub: str | None, sizes: list[str], device: torch.device, log: Callable[[str], None]
) -> list[TimedEngine]:
    """What `diamond engine-fps` times: a checkpoint, the authors' Hub engine (from its first spawn point), or
    random-weight engines of the named sizes."""
    from diamond.checkpoints.engine import load_engine

    if checkpoint is not None:
        return [TimedEngine(Path(checkpoint).stem, load_engine(checkpoint, device), str(checkpoint))]
    if from_hub is not None:
        from diamond.checkpoints.hub import download_engine
        from diamond.data.spawn import load_spawn_point, spawn_folders

        hub = download_engine(from_hub)
        log(f"pretrained {from_hub} engine: {hub.checkpoint}; spawn points: {hub.spawn_dir}")
        engine = load_engine(hub.checkpoint, device)
        dyn, up = engine.cfg.dynamics.net, engine.cfg.upsampler.net
        spawn = load_spawn_point(spawn_folders(hub.spawn_dir)[0], dyn.num_steps_conditioning, up.num_steps_conditioning)
        state = EngineState(spawn.low_res, spawn.act, spawn.full_res)
        return [TimedEngine(from_hub, engine, str(hub.checkpoint), state)]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        raise InvalidValue(f"--preset {unknown[0]} is unknown; choose from {sorted(SIZES)}")
    out = []
    for size in sizes:
        torch.manual_seed(0)
        engine = wake_zero_layers(Engine(SIZES[size]())).to(device)
        out.append(TimedEngine(size, engine, f"random weights, {size} networks"))
    return out


def engine_fps_command(
    checkpoint: str | None,
    from_hub: str | None,
    sizes: list[str] | None,
    device: str,
    steps: int,
    warmup: int,
    json_path: str | None,
    log: Callable[[str], None],
    layouts: Sequence[str] = ("contiguous",),
    precisions: Sequence[str] | None = None,
) -> dict[str, Any]:
    """`diamond engine-fps`: time, print the table, write the JSON."""
    from diamond.fileio import write_json_atomically

    if sum(x is not None and x != [] for x in (checkpoint, from_hub, sizes)) > 1:
        raise InvalidValue("pass one of --checkpoint, --from-hub and --preset")
    dev = resolve_device(device)
    engines = load_timed_engines(checkpoint, from_hub, sizes or list(SIZES), dev, log)
    result = engine_speed(engines, steps, warmup, progress=log, layouts=layouts, precisions=precisions)
    print(format_engine_speed(result))
    if json_path:
        write_json_atomically(json_path, result)
        print(f"wrote {json_path}")
    return result
