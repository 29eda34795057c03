"""The three timed phases of the denoiser benchmark, for one variant of how the device computes.

A variant is a memory layout (``devices.LAYOUTS``), a precision (``devices.PRECISIONS``: float32, or
autocast to bfloat16 / float16 around the forward passes with float32 weights and optimiser states) and
whether the denoiser's network runs eagerly or ``torch.compile``d (its first call of each phase, which
compiles, is timed apart: ``compile_s``). Every variant starts from the same initial weights and times the
same inputs:

- ``train``: one denoiser training iteration on a batch of sequences of context frames + targets (the real
  autoregressive ``Denoiser.loss``), backward, gradient clipping and the AdamW step.
- ``imagine``: sampling the next frame of a batch with the sampler's Euler steps.
- ``latency``: the same at batch 1 (what an interactive player waits for).

Its quality is measured against the baseline variant (float32, contiguous) from the same noise: the share of
8-bit pixels of the imagined batch that differ and their PSNR, and the relative difference of the training
loss on the same batch.
"""

from __future__ import annotations

import copy
import resource
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from diamond.benchmark.flops import count_flops
from diamond.benchmark.timing import time_calls, time_once
from diamond.configs.schema import OptimizerConfig, SamplerConfig
from diamond.devices import autocast, check_layout, check_precision, compile_in_place, set_layout
from diamond.imaging import psnr, to_uint8
from diamond.models.diffusion.formulations import NextFrameDenoiser
from diamond.training.optim import make_optimizer, optimizer_step

PHASES = ("train", "imagine", "latency")


@dataclass(frozen=True)
class Variant:
    layout: str = "contiguous"
    precision: str = "float32"
    compiled: bool = False

    @property
    def name(self) -> str:
        return f"{self.precision} {self.layout}{' compiled' * self.compiled}"


BASELINE = Variant()


def variants(
    layouts: list[str], precisions: list[str], dev: torch.device, compile_too: bool = False, where: str = "bench"
) -> list[Variant]:
    """The baseline first, then every (precision, layout) pair asked for, each once; with ``compile_too``
    each of them compiled as well."""
    for layout in layouts:
        check_layout(layout, f"{where} --layout")
    for precision in precisions:
        check_precision(precision, dev, f"{where} --precision")
    out = [BASELINE]
    for compiled in (False, True) if compile_too else (False,):
        for precision in precisions:
            for layout in layouts:
                if Variant(layout, precision, compiled) not in out:
                    out.append(Variant(layout, precision, compiled))
    return out


@dataclass
class Workload:
    """What every variant runs: the network, its initial weights and the fixed inputs of each phase."""

    denoiser: NextFrameDenoiser
    initial_state: dict[str, torch.Tensor]
    train_inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    sample_inputs: dict[str, tuple[torch.Tensor, torch.Tensor]]  # "imagine" and "latency": (frames, actions)
    sampler: SamplerConfig
    optimizer: OptimizerConfig
    seed: int
    # a compiled variant's copy of the network, kept while that variant runs: its phases and its quality check
    # add graphs to the one compiled module instead of compiling a fresh copy each
    compiled: tuple[Variant, NextFrameDenoiser] | None = None

    @classmethod
    def of(cls, denoiser: NextFrameDenoiser, train_inputs, sample_inputs, sampler, optimizer, seed: int) -> Workload:
        state = copy.deepcopy(denoiser.state_dict())
        return cls(denoiser, state, train_inputs, sample_inputs, sampler, optimizer, seed)

    @property
    def device(self) -> torch.device:
        return self.train_inputs[0].device

    def prepare(self, variant: Variant) -> NextFrameDenoiser:
        """The network ``variant`` runs, holding the initial weights: the denoiser in its layout, or for a
        compiled variant a copy of it whose network is compiled (``devices.compile_in_place``), made at the
        variant's first call and reused after (the weights copied in again, in place)."""
        set_layout(self.denoiser, variant.layout)
        self.denoiser.load_state_dict(self.initial_state)
        if not variant.compiled:
            self.compiled = None
            return self.denoiser
        if self.compiled is None or self.compiled[0] != variant:
            self.compiled = None  # the previous copy's graphs go before the next one compiles
            network = copy.deepcopy(self.denoiser)
            compile_in_place(network.network, self.device, "bench --compile")
            self.compiled = (variant, network)
        self.compiled[1].load_state_dict(self.initial_state)
        return self.compiled[1]

    def generator(self) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(self.seed)

    def train_loss(self, network: NextFrameDenoiser, variant: Variant, generator: torch.Generator) -> torch.Tensor:
        with autocast(self.device, variant.precision):
            return network.loss(*self.train_inputs, generator=generator)

    def sample(
        self, network: NextFrameDenoiser, variant: Variant, key: str, generator: torch.Generator
    ) -> torch.Tensor:
        with torch.inference_mode(), autocast(self.device, variant.precision):
            frames, _ = network.sample_next_obs(*self.sample_inputs[key], self.sampler, generator=generator)
        return frames.float()


def quality(
    work: Workload, variant: Variant, reference: tuple[torch.Tensor, float] | None
) -> tuple[tuple[torch.Tensor, float], dict[str, Any]]:
    """``variant``'s imagined batch (8-bit) and training loss from the same noise and weights, and its
    figures: compared with ``reference`` (the baseline's batch and loss) when given."""
    network = work.prepare(variant).eval()
    frames = to_uint8(work.sample(network, variant, "imagine", work.generator()))
    with torch.no_grad():
        loss = float(work.train_loss(network, variant, work.generator()))
    out: dict[str, Any] = {"train_loss": loss}
    if reference is not None:
        base, base_loss = reference
        out["changed_pixel_fraction"] = float((frames != base).float().mean())
        out["max_pixel_difference"] = int((frames.int() - base.int()).abs().max())
        out["psnr_db_vs_baseline"] = psnr(frames.cpu(), base.cpu())
        out["train_loss_relative_difference"] = abs(loss - base_loss) / abs(base_loss)
    return (frames, loss), out


def time_phases(
    work: Workload,
    variant: Variant,
    repeats: int,
    warmup: int,
    flops: dict[str, int],
    yardsticks: dict[str, Any],
    say: Callable[[str], None],
) -> dict[str, dict[str, Any]]:
    """Each phase's timings, FLOP rate, fractions of the yardsticks and peak memory for ``variant``.
    ``flops`` (per phase) is filled on the first call and reused: a variant does the same arithmetic."""
    dev, out = work.device, {}
    generator = work.generator()
    denoiser = work.prepare(variant).train()
    memory = PeakMemory(dev)
    memory.start()
    optimizer, scheduler = make_optimizer(denoiser, work.optimizer)

    def train_iteration() -> None:
        loss = work.train_loss(denoiser, variant, generator)
        optimizer_step(denoiser, optimizer, scheduler, loss, work.optimizer.max_grad_norm)

    batch = work.train_inputs[0].shape[0]
    out["train"] = _timed("train", train_iteration, batch, dev, repeats, warmup, flops, say, variant.compiled)
    out["train"] = _phase(out["train"], flops["train"], yardsticks, memory)
    out["train"]["samples_per_s"] = out["train"]["batch"] / out["train"]["median_s"]
    denoiser.zero_grad(set_to_none=True)
    optimizer.state.clear()  # the sampling phases need no optimiser state in memory

    network = work.prepare(variant).eval()  # the initial weights again: every variant samples with the same network
    for key in ("imagine", "latency"):
        memory = PeakMemory(dev)
        memory.start()
        batch = work.sample_inputs[key][0].shape[0]
        fn = lambda key=key: work.sample(network, variant, key, generator)  # noqa: E731
        timed = _timed(key, fn, batch, dev, repeats, warmup, flops, say, variant.compiled)
        phase = _phase(timed, flops[key], yardsticks, memory)
        phase["num_steps_denoising"] = work.sampler.num_steps_denoising
        if key == "imagine":
            phase["frames_per_s"] = batch / phase["median_s"]
        else:
            phase["ms"] = phase["median_s"] * 1e3
        out[key] = phase
    return out


def break_even_calls(compiled: dict[str, Any], eager: dict[str, Any]) -> float | None:
    """Calls of a phase after which compiling it has paid for itself: the first call's extra time over the
    time each later call saves against the eager network (None when a compiled call saves nothing)."""
    saved = eager["median_s"] - compiled["median_s"]
    return (compiled["compile_s"] - compiled["median_s"]) / saved if saved > 0 else None


def _timed(name, fn, batch: int, dev, repeats: int, warmup: int, flops, say, compiled: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"batch": batch}
    if compiled:  # before anything else calls it: this first call compiles the phase's graphs
        say(f"{name}: compiling (the first call)")
        out["compile_s"] = time_once(fn, dev)
    if name not in flops:
        say(f"{name}: counting FLOPs (batch {batch})")
        flops[name] = count_flops(fn)
    times, usage = time_calls(fn, repeats, warmup, dev, say, name)
    return {**out, "times_s": times, **usage}


def _phase(timed: dict[str, Any], flops: int, yardsticks: dict[str, Any], memory: PeakMemory) -> dict[str, Any]:
    """A phase's figures; ``yardsticks`` (``speed.own_yardsticks``): the rates its GFLOP/s is a fraction of,
    and the precision they were measured in."""
    median = statistics.median(timed["times_s"])
    gflops = flops / median / 1e9
    rates = {name: limit for name, limit in yardsticks.items() if name != "precision"}
    return {
        "median_s": median,
        **timed,
        "gflop_per_iter": flops / 1e9,
        "gflops": gflops,
        **{f"fraction_of_{name}": None if limit is None else gflops / limit for name, limit in rates.items()},
        "yardstick_precision": yardsticks["precision"],
        **memory.read(),
    }


# ---------------------------------------------------------------------------------------------------
# Memory


class PeakMemory:
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
