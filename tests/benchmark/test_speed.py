"""The benchmark runs end to end on a tiny network; its figures are well formed (no timing thresholds)."""

from __future__ import annotations

import json

import pytest
import torch

from diamond.benchmark.flops import count_flops
from diamond.benchmark.limits import cpu_description, fma_peak, measure
from diamond.benchmark.speed import own_yardsticks, run_benchmark, yardstick_precisions
from diamond.benchmark.speed_report import LIMIT_LABELS, REPORT_ROWS, format_report
from diamond.configs.schema import DenoiserConfig, DenoiserNetConfig
from diamond.devices import cpp_compiler

TINY = DenoiserConfig(
    net=DenoiserNetConfig(cond_channels=16, channels=(8, 8), depths=(1, 1), attn_depths=(False, False))
)
PHASES = ("train", "imagine", "latency")
# Figures that explain the timings rather than being measurements of the model: footnotes, not table rows.
CONTEXT_FIGURES = ("rss_at_start_mb", "other_cpu_share", "system_time_share", "page_faults_per_iter")


@pytest.fixture(scope="module")
def result() -> dict:
    messages: list[str] = []
    # One thread: on a shared 2-core machine, two OpenMP threads can wait a time slice at every barrier.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = run_benchmark(
            device="cpu",
            repeats=2,
            warmup=0,
            denoiser_cfg=TINY,
            train_batch=2,
            imagine_batch=4,
            num_steps_denoising=3,
            progress=messages.append,
            image_size=32,
            matmul_size=128,
            layouts=["contiguous", "channels_last"],
            precisions=["float32", "bfloat16"],
        )
    finally:
        torch.set_num_threads(threads)
    out["_messages"] = messages
    return out


def test_structure_and_positivity(result: dict) -> None:
    assert result["device"] == "cpu"
    assert result["threads"] == 1 and isinstance(result["torch"], str)
    limits = result["limits"]
    assert limits["matmul_float32"]["n"] == limits["matmul_bfloat16"]["n"] == 128
    for name in ("matmul_float32", "matmul_bfloat16", "conv_float32", "conv_bfloat16"):
        assert limits[name]["gflops"] > 0 and len(limits[name]["times_s"]) == 2, name
    assert limits["conv_float32"]["shape"] == [4, 64, 64, 64]  # at the imagination batch
    assert result["config"]["denoiser"]["net"]["channels"] == [8, 8]
    assert result["config"]["train_batch"] == 2 and result["config"]["imagine_batch"] == 4
    assert "reference" not in json.dumps(result)  # no figure from elsewhere
    assert result["train"]["batch"] == 2 and result["imagine"]["batch"] == 4 and result["latency"]["batch"] == 1
    for phase in PHASES:
        p = result[phase]
        assert len(p["times_s"]) == 2 and all(t > 0 for t in p["times_s"])
        for key in ("median_s", "gflop_per_iter", "gflops", "fraction_of_matmul", "fraction_of_conv", "peak_mem_mb"):
            assert p[key] > 0, (phase, key)
        assert p["gflops"] == pytest.approx(p["gflop_per_iter"] / p["median_s"])
        assert p["fraction_of_matmul"] == pytest.approx(p["gflops"] / limits["matmul_float32"]["gflops"])
        assert p["fraction_of_conv"] == pytest.approx(p["gflops"] / limits["conv_float32"]["gflops"])
        if "fma_peak_float32" in limits:
            assert p["fraction_of_fma_peak"] == pytest.approx(p["gflops"] / limits["fma_peak_float32"]["gflops"])
        assert isinstance(p["peak_mem_kind"], str) and p["peak_mem_kind"]
        assert p["other_cpu_share"] is None or 0 <= p["other_cpu_share"] <= 1
        assert 0 <= p["system_time_share"] <= 1 and p["page_faults_per_iter"] >= 0
    assert result["train"]["samples_per_s"] == pytest.approx(2 / result["train"]["median_s"])
    assert result["imagine"]["frames_per_s"] == pytest.approx(4 / result["imagine"]["median_s"])
    assert result["latency"]["ms"] == pytest.approx(1e3 * result["latency"]["median_s"])
    assert any(m.startswith("[float32 contiguous] train") for m in result["_messages"])


def test_flop_counts_are_consistent(result: dict) -> None:
    train, imagine, latency = (result[p]["gflop_per_iter"] for p in PHASES)
    # Training runs two forward passes and their backward at batch 2; one sample at batch 1 runs three forwards.
    assert train > latency
    # Every counted operation is linear in the batch, so a batch of 4 costs 4 single frames.
    assert imagine == pytest.approx(4 * latency, rel=1e-3)


def test_cpu_attention_flops_are_counted() -> None:
    import torch.nn.functional as F

    q = torch.randn(2, 3, 16, 8, requires_grad=True)
    forward = 2 * (2 * 2 * 3 * 16 * 16 * 8)  # q·kᵀ and softmax·v
    assert count_flops(lambda: F.scaled_dot_product_attention(q, q, q)) == forward
    assert count_flops(lambda: F.scaled_dot_product_attention(q, q, q).sum().backward()) == 3 * forward


def test_json_round_trip(result: dict) -> None:
    assert json.loads(json.dumps(result)) == result


def test_report_mentions_every_metric(result: dict) -> None:
    report = format_report(result)
    for _, _, label in REPORT_ROWS:
        assert label in report
    for name in result["limits"]:
        assert f"{LIMIT_LABELS[name]} GFLOP/s" in report
    listed = {(section, key) for section, key, _ in REPORT_ROWS}
    not_printed = {("latency", "median_s")}  # printed as latency ms/frame
    for phase in PHASES:
        for key, value in result[phase].items():
            if isinstance(value, float) and key not in CONTEXT_FIGURES and (phase, key) not in not_printed:
                assert (phase, key) in listed, f"{phase}.{key} is not in the report"
    assert "reference" not in report and "measured (or computed) in this run" in report


def test_report_on_cuda_has_no_computed_peak(result: dict) -> None:
    limits = {k: v for k, v in result["limits"].items() if k != "fma_peak_float32"}
    fake = dict(result, device="cuda:0", device_name="some GPU", limits=limits)
    assert "No computed peak on cuda:0" in format_report(fake)


CPUINFO = "processor\t: 0\ncpu MHz\t\t: 2450.000\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\n"


def test_fma_peak_from_the_cpus_description() -> None:
    avx2 = cpu_description(CPUINFO, max_khz="")
    assert (avx2["float32_lanes"], avx2["ghz"]) == (8, 2.45) and "current clock" in avx2["clock_source"]
    assert fma_peak(2, avx2)["gflops"] == pytest.approx(2 * 2.45 * 8 * 2 * 2)
    avx512 = cpu_description(CPUINFO.replace("fma", "fma avx512f avx512_bf16"), max_khz="3500000\n")
    assert (avx512["float32_lanes"], avx512["ghz"], avx512["bf16_instructions"]) == (16, 3.5, ["avx512_bf16"])
    assert fma_peak(4, avx512)["gflops"] == pytest.approx(4 * 3.5 * 16 * 4)
    assert fma_peak(2, cpu_description("", max_khz="")) is None  # nothing readable: no made-up peak


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="repeats"):
        run_benchmark(device="cpu", repeats=0)
    with pytest.raises(ValueError, match="device"):
        run_benchmark(device="tpu")
    with pytest.raises(ValueError, match="--precision 'float16' is for CUDA devices; on cpu use 'bfloat16'"):
        run_benchmark(device="cpu", precisions=["float16"])
    with pytest.raises(ValueError, match="--layout 'nhwc' is unknown; expected one of channels_last, contiguous"):
        run_benchmark(device="cpu", layouts=["nhwc"])


def test_every_variant_is_measured_beside_the_baseline(result: dict) -> None:
    names = [v["name"] for v in result["variants"]]
    assert names == ["float32 contiguous", "float32 channels_last", "bfloat16 contiguous", "bfloat16 channels_last"]
    assert result["config"]["variants"] == names
    baseline = result["variants"][0]
    for phase in PHASES:
        assert result[phase] == baseline[phase]  # the top-level figures are the baseline's
    assert baseline["relative_to_baseline"] == {
        "train_samples_per_s": 1.0,
        "imagine_frames_per_s": 1.0,
        "latency_ms": 1.0,
    }
    for v in result["variants"][1:]:
        assert v["imagine"]["gflop_per_iter"] == baseline["imagine"]["gflop_per_iter"]  # the same arithmetic
        assert v["relative_to_baseline"]["imagine_frames_per_s"] == pytest.approx(
            v["imagine"]["frames_per_s"] / baseline["imagine"]["frames_per_s"]
        )
        assert v["relative_to_baseline"]["latency_ms"] == pytest.approx(v["latency"]["ms"] / baseline["latency"]["ms"])


def test_quality_compares_the_same_noise_and_weights(result: dict) -> None:
    quality = {v["name"]: v["quality"] for v in result["variants"]}
    assert "changed_pixel_fraction" not in quality["float32 contiguous"]
    # float32 in another summation order: (nearly) the same 8-bit frames and loss
    same = quality["float32 channels_last"]
    assert same["changed_pixel_fraction"] < 0.01 and same["max_pixel_difference"] <= 1
    assert same["train_loss_relative_difference"] < 1e-5
    # bfloat16 autocast: 8 bits of mantissa change some pixels, not the picture (other noise would: ~10 dB)
    for name in ("bfloat16 contiguous", "bfloat16 channels_last"):
        q = quality[name]
        assert 0 < q["changed_pixel_fraction"] < 0.5 and q["psnr_db_vs_baseline"] > 35, name
        assert 0 < q["train_loss_relative_difference"] < 0.05, name
    report = format_report(result)
    assert "bfloat16 channels_last" in report and "float32 contiguous (baseline)" in report
    assert ("no bfloat16 instructions" in report) == (not result["native_bfloat16"])
    assert result["native_bfloat16"] == bool(set(result["cpu_bf16_instructions"]) & {"avx512_bf16", "amx_bf16"})


def test_bfloat16_yardsticks_only_where_native_or_asked_for() -> None:
    messages: list[str] = []
    common = dict(device="cpu", repeats=1, warmup=0, denoiser_cfg=TINY, train_batch=1, imagine_batch=1)
    out = run_benchmark(**common, image_size=16, matmul_size=32, progress=messages.append)
    assert "matmul_float32" in out["limits"] and "conv_float32" in out["limits"]
    assert ("matmul_bfloat16" in out["limits"]) == out["native_bfloat16"]
    # without --precision: float32, and bfloat16 where the device computes in it
    native = ["bfloat16 contiguous"] if out["native_bfloat16"] else []
    assert [v["name"] for v in out["variants"]] == ["float32 contiguous", *native]
    if not out["native_bfloat16"]:
        assert "No bfloat16 yardsticks" in format_report(out)


def test_each_variant_is_a_fraction_of_the_yardsticks_of_its_own_precision(result: dict) -> None:
    limits = result["limits"]
    for v in result["variants"]:
        own = v["precision"]
        for phase in PHASES:
            figures = v[phase]
            assert figures["yardstick_precision"] == own, (v["name"], phase)
            for kind in ("matmul", "conv"):
                expected = figures["gflops"] / limits[f"{kind}_{own}"]["gflops"]
                assert figures[f"fraction_of_{kind}"] == pytest.approx(expected), (v["name"], phase, kind)
            # the FMA peak computed is float32's; bfloat16's dot-product instructions have another one
            assert (figures["fraction_of_fma_peak"] is None) == (own != "float32" or "fma_peak_float32" not in limits)
    row = next(line for line in format_report(result).splitlines() if line.startswith("bfloat16 channels_last"))
    bf16 = next(v for v in result["variants"] if v["name"] == "bfloat16 channels_last")
    assert f"{bf16['imagine']['fraction_of_conv']:.2f} bfloat16" in row


def test_report_warns_when_other_processes_were_busy(result: dict) -> None:
    fake = {**result, **{phase: dict(result[phase], other_cpu_share=0.0) for phase in ("imagine", "latency")}}
    fake["limits"] = {name: dict(limit, other_cpu_share=0.0) for name, limit in result["limits"].items()}
    fake["train"] = dict(result["train"], other_cpu_share=0.5)
    assert "Other processes used up to 50%" in format_report(fake)


def test_report_explains_kernel_time(result: dict) -> None:
    fake = dict(result, train=dict(result["train"], system_time_share=0.4, page_faults_per_iter=1e6))
    assert "40% of our CPU time was in the kernel" in format_report(fake)


@pytest.mark.skipif(cpp_compiler() is None, reason="torch.compile on a CPU needs a C++ compiler")
def test_a_compiled_variant_reports_its_compile_time_and_break_even() -> None:
    common = dict(device="cpu", repeats=1, warmup=0, denoiser_cfg=TINY, train_batch=1, imagine_batch=2)
    out = run_benchmark(
        **common, image_size=16, matmul_size=32, layouts=["contiguous"], precisions=["float32"], compile_too=True
    )
    eager, compiled = out["variants"]
    assert (eager["name"], compiled["name"]) == ("float32 contiguous", "float32 contiguous compiled")
    assert not eager["compiled"] and compiled["compiled"]
    for phase in PHASES:
        c, e = compiled[phase], eager[phase]
        assert "compile_s" not in e and c["compile_s"] > c["median_s"]  # the first call compiles
        saved = e["median_s"] - c["median_s"]
        expected = (c["compile_s"] - c["median_s"]) / saved if saved > 0 else None
        assert c["break_even_calls"] == (None if expected is None else pytest.approx(expected)), phase
    q = compiled["quality"]  # the same float32 arithmetic, fused: rounding differences at most
    assert q["max_pixel_difference"] <= 1 and q["train_loss_relative_difference"] < 1e-4
    assert "float32 contiguous compiled: first call (compiling) train" in format_report(out)


def test_a_train_presets_network_and_sizes_are_benchmarked() -> None:
    from diamond.benchmark.speed import preset_sizes
    from diamond.configs.presets import train_config
    from diamond.configs.schema import to_dict
    from diamond.models.diffusion.formulations import make_denoiser

    cfg = train_config("tiny")
    out = run_benchmark(device="cpu", repeats=1, warmup=0, matmul_size=32, **preset_sizes("tiny"))
    assert out["config"]["denoiser"] == to_dict(cfg.denoiser)
    assert out["config"]["parameters"] == sum(p.numel() for p in make_denoiser(cfg.denoiser).parameters())
    assert (out["config"]["image_size"], out["train"]["batch"], out["imagine"]["batch"]) == (
        cfg.env.size,
        cfg.denoiser_training.batch_size,
        cfg.actor_critic_training.imagination.batch_size,
    )
    assert out["config"]["num_steps_denoising"] == cfg.sampler.num_steps_denoising
    assert "the given preset's denoiser" in format_report(out)  # run_benchmark alone does not know the name


def test_a_float16_variant_gets_float16_yardsticks() -> None:
    # float16 variants run on CUDA only; the yardstick choice and measurement are the same code on the CPU
    assert yardstick_precisions(["float32", "float16"], native_bf16=False) == ["float32", "float16"]
    assert yardstick_precisions(["float16"], native_bf16=True) == ["float32", "bfloat16", "float16"]
    assert yardstick_precisions(["float32"], native_bf16=False) == ["float32"]
    measured = measure(torch.device("cpu"), 16, 1, 1, 0, lambda m: None, ["float32", "float16"])
    assert set(measured) - {"fma_peak_float32"} == {"matmul_float32", "conv_float32", "matmul_float16", "conv_float16"}
    own = own_yardsticks(measured, "float16")
    assert own["precision"] == "float16" and own["matmul"] == measured["matmul_float16"]["gflops"]
    assert own["fma_peak"] is None
    assert all(name in LIMIT_LABELS for name in measured)  # the report can print each
    with pytest.raises(ValueError, match="float8"):
        measure(torch.device("cpu"), 16, 1, 1, 0, lambda m: None, ["float8"])
