"""The GPU paths: a run stopped and resumed on CUDA (in float32 and in mixed precision), the bench, an epoch
timed (imagination and the engine player: in rl/, play/). Skipped without a CUDA device (CI has none);
`DIAMOND_DEVICE=cuda python -m pytest` runs the rest of the suite on a GPU too."""

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
CUDA = torch.device("cuda")


def test_a_run_stops_and_resumes_on_cuda_with_cpu_generator_states(tmp_path):
    pytest.importorskip("minatar")
    from diamond.checkpoints.project import load_checkpoint
    from diamond.configs.presets import train_config
    from diamond.training.run import train
    from diamond.training.run_state import CHECKPOINT

    cfg = train_config("tiny", None, ["compute.deterministic=true"])
    quiet = lambda m: None  # noqa: E731
    assert train(cfg, tmp_path / "run", CUDA, log=quiet, stop_after_epochs=1)["epoch"] == 1
    payload = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    assert payload["generator_device"] == "cuda"
    assert payload["agent"]["gen_imagine"].device.type == "cpu"
    assert train(cfg, tmp_path / "run", CUDA, resume=True, log=quiet, stop_after_epochs=1)["epoch"] == 2


def test_the_bench_runs_on_cuda_and_reports_the_allocator_peak(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "diamond.cli", "bench", "--device", "cuda", "--repeats", "1", "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    for phase in ("train", "imagine", "latency"):
        assert result[phase]["peak_mem_mb"] > 0 and "torch.cuda.max_memory_allocated" in result[phase]["peak_mem_kind"]


def test_time_epoch_times_an_epoch_on_cuda_with_batches_drawn_ahead(tmp_path):
    # on a GPU the updates' batches come from a thread, through pinned memory (training/batches_ahead.py)
    pytest.importorskip("minatar")
    import json

    from diamond.cli import main

    out = tmp_path / "epoch.json"
    assert main(["time-epoch", "--preset", "tiny", "--device", "cuda", "--updates", "2", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert all(s > 0 for s in result["seconds_per_update"].values()) and result["whole_run"]["seconds"] > 0


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_a_mixed_precision_run_trains_and_resumes_on_cuda(tmp_path, precision):
    pytest.importorskip("minatar")
    from diamond.checkpoints.project import load_checkpoint
    from diamond.configs.presets import train_config
    from diamond.training.run import train
    from diamond.training.run_state import CHECKPOINT

    cfg = train_config("tiny", None, [f"compute.precision={precision}"])
    quiet = lambda m: None  # noqa: E731
    assert train(cfg, tmp_path / "run", CUDA, log=quiet, stop_after_epochs=1)["epoch"] == 1
    agent = load_checkpoint(tmp_path / "run" / CHECKPOINT)["agent"]
    assert ("denoiser_scaler" in agent) == (precision == "float16")  # float16's loss scaler is checkpointed
    assert {t.dtype for t in agent["denoiser"].values() if t.is_floating_point()} == {torch.float32}
    assert train(cfg, tmp_path / "run", CUDA, resume=True, log=quiet, stop_after_epochs=1)["epoch"] == 2
