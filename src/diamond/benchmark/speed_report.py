"""The text report of ``diamond bench``: the yardsticks, the baseline's figures and each variant beside it."""

from __future__ import annotations

import math
import platform
from typing import Any

import torch

from diamond.benchmark.phases import PHASES

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


LIMIT_LABELS = {
    "matmul_float32": "matmul float32",
    "matmul_bfloat16": "matmul bfloat16",
    "conv_float32": "3x3 conv float32",
    "conv_bfloat16": "3x3 conv bfloat16",
    "matmul_float16": "matmul float16",
    "conv_float16": "3x3 conv float16",
    "fma_peak_float32": "FMA peak float32 (computed)",
}


def format_report(result: dict[str, Any]) -> str:
    """The yardsticks of this run, then each phase's figures and its fraction of each yardstick."""
    cfg = result["config"]
    on_cpu = result["device"].startswith("cpu")
    rows = [(f"{LIMIT_LABELS[name]} GFLOP/s", fmt(limit["gflops"])) for name, limit in result["limits"].items()]
    rows += [(label, fmt(result.get(section, {}).get(key))) for section, key, label in REPORT_ROWS]
    width = max(len(label) for label, _ in rows)
    out = [
        f"DIAMOND denoiser benchmark on {result['device']} ({result['device_name']}), torch {result['torch']}, "
        f"{result['threads']} threads; the {cfg.get('preset', 'given')} preset's denoiser, "
        f"{cfg['parameters'] / 1e6:.2f}M parameters",
        f"train: batch {cfg['train_batch']} x ({cfg['num_context_frames']} context + {cfg['num_targets']} targets), "
        f"forward + backward + AdamW; imagine: batch {cfg['imagine_batch']}; latency: batch 1; "
        f"{cfg['num_steps_denoising']} Euler steps; {cfg['image_size']}x{cfg['image_size']} frames; "
        f"median of {cfg['repeats']} after {cfg['warmup']} warm-up; matmul {cfg['matmul_size']}^2; "
        f"conv at batch {cfg['imagine_batch']}, 64 channels, 64x64",
        "",
        *(f"{label.ljust(width)}  {value.rjust(10)}" for label, value in rows),
        "",
        *_variant_lines(result),
        "Every yardstick was measured (or computed) in this run on this device; nothing is compared with figures "
        "from elsewhere.",
        "FLOPs count matmuls, convolutions and attention only (torch FlopCounterMode); ms: lower is better.",
    ]
    if "matmul_bfloat16" not in result["limits"]:
        out.append(
            "No bfloat16 yardsticks: this CPU has no bfloat16 instructions (avx512_bf16, amx_bf16), and no "
            "bfloat16 variant was asked for (--precision bfloat16)."
        )
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


def _variant_lines(result: dict[str, Any]) -> list[str]:
    """Each variant beside the baseline (the rows above): speed as a multiple of the baseline's, and what its
    imagined frames and training loss differ by, from the same noise and weights."""
    entries = result.get("variants", [])
    if len(entries) < 2:
        return []
    head = (
        "variant",
        "train samples/s",
        "imagine frames/s",
        "latency ms",
        "train, imagine: of conv",
        "changed pixels",
        "PSNR",
        "loss diff",
    )
    table = [head]
    for entry in entries:
        rel, q = entry["relative_to_baseline"], entry["quality"]
        psnr_db = q.get("psnr_db_vs_baseline")
        table.append(
            (
                entry["name"] + (" (baseline)" if entry is entries[0] else ""),
                f"{fmt(entry['train']['samples_per_s'])} ({rel['train_samples_per_s']:.2f}x)",
                f"{fmt(entry['imagine']['frames_per_s'])} ({rel['imagine_frames_per_s']:.2f}x)",
                f"{fmt(entry['latency']['ms'])} ({rel['latency_ms']:.2f}x)",
                _of_conv(entry),
                "-" if "changed_pixel_fraction" not in q else f"{q['changed_pixel_fraction']:.2%}",
                "-" if psnr_db is None else "identical" if math.isinf(psnr_db) else f"{psnr_db:.1f} dB",
                "-" if "train_loss_relative_difference" not in q else f"{q['train_loss_relative_difference']:.1e}",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in table
    ]
    notes = [
        "Variants (same run, same weights and inputs): speed as a multiple of the baseline's (latency: its ms, "
        "lower is better); changed pixels and PSNR compare the 8-bit frames imagined at the imagination batch "
        "with the baseline's from the same noise; loss diff is the relative difference of the training loss on "
        'the same batch. "of conv": the phase\'s GFLOP/s as a fraction of the 3x3 convolution rate measured above '
        "in the variant's own precision."
    ]
    if result.get("native_bfloat16") is False and any(e["precision"] == "bfloat16" for e in entries):
        notes.append(
            "This CPU has no bfloat16 instructions (avx512_bf16, amx_bf16): its bfloat16 arithmetic is converted "
            "to and from float32 in software, so bfloat16 is slower here than float32."
        )
    return [*lines, *notes, *_compile_lines(entries), ""]


def _of_conv(entry: dict[str, Any]) -> str:
    """Training's and imagination's fractions of the convolution yardstick of the variant's precision."""
    train, imagine = entry["train"], entry["imagine"]
    return f"{train['fraction_of_conv']:.2f}, {imagine['fraction_of_conv']:.2f} {imagine['yardstick_precision']}"


def _compile_lines(entries: list[dict[str, Any]]) -> list[str]:
    """Each compiled variant's first-call (compile) time and the calls after which it has paid for itself."""
    out = []
    for entry in (e for e in entries if e.get("compiled")):
        parts = []
        for phase in PHASES:
            figures = entry[phase]
            calls = figures["break_even_calls"]
            pays = "never pays (no faster)" if calls is None else f"pays after {math.ceil(calls):,} calls"
            parts.append(f"{phase} {figures['compile_s']:.1f} s, {pays}")
        out.append(f"{entry['name']}: first call (compiling) " + "; ".join(parts) + ".")
    if out:
        out.append(
            "A compiled variant's first call of each phase compiles it (torch.compile, static shapes); calls "
            "compare with the same variant run eagerly. Inductor's on-disk cache makes a second run's first "
            "calls shorter."
        )
    return out


# ---------------------------------------------------------------------------------------------------
# Helpers


def device_name(dev: torch.device) -> str:
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


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"
