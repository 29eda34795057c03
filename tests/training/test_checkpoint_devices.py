"""Checkpoints are read on the CPU whatever the run's device, and record the device type of their random
generators: resuming on another device type is refused with a message that says what to do."""

import pytest
import torch

from diamond.checkpoints.files import CheckpointError
from diamond.checkpoints.project import load_checkpoint, save_checkpoint
from diamond.configs.presets import train_config
from diamond.training.run import train
from diamond.training.run_state import CHECKPOINT, load_state

pytest.importorskip("minatar")


def quiet(message):
    pass


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    run = tmp_path_factory.mktemp("devices") / "run"
    train(train_config("tiny", None, []), run, torch.device("cpu"), log=quiet, stop_after_epochs=1)
    return run


def test_a_checkpoint_records_its_generator_device_and_loads_on_the_cpu(one_epoch):
    payload = load_checkpoint(one_epoch / CHECKPOINT)
    assert payload["generator_device"] == "cpu"
    generators = [payload["agent"]["gen_imagine"], payload["agent"]["gen_denoiser"], payload["policy"]["generator"]]
    assert all(g.device.type == "cpu" and g.dtype == torch.uint8 for g in generators)


def test_resuming_on_another_device_type_is_refused_before_anything_loads(one_epoch):
    # A run on a GPU reads the file on the CPU (map_location=cuda would put its generator states on the GPU, where
    # set_state rejects them) and then refuses: a CPU generator's state cannot continue as a CUDA one.
    config = load_checkpoint(one_epoch / CHECKPOINT)["config"]
    with pytest.raises(
        CheckpointError, match=r"random-generator states of a cpu run and this run is on cuda.*--device cpu"
    ):
        load_state(one_epoch / CHECKPOINT, config, False, torch.device("cuda"), quiet)


def test_a_checkpoint_from_a_gpu_run_is_refused_on_the_cpu(one_epoch, tmp_path):
    payload = load_checkpoint(one_epoch / CHECKPOINT)
    payload["generator_device"] = "cuda"
    states = {k: v for k, v in payload.items() if k not in ("format", "version", "config")}
    save_checkpoint(tmp_path / "agent.pt", payload["config"], **states)
    with pytest.raises(CheckpointError, match=r"states of a cuda run and this run is on cpu.*--device cuda"):
        load_state(tmp_path / "agent.pt", payload["config"], False, torch.device("cpu"), quiet)
    # A checkpoint written before the device was recorded comes from the CPU and resumes there.
    del states["generator_device"]
    save_checkpoint(tmp_path / "old.pt", payload["config"], **states)
    assert load_state(tmp_path / "old.pt", payload["config"], False, torch.device("cpu"), quiet)["run"]["epoch"] == 1


@pytest.mark.parametrize("checkpoint,what", [("world_model.pt", "a world-model"), ("engine.pt", "an engine")])
def test_world_model_and_engine_resumes_refuse_another_device_type_changing_nothing(tmp_path, checkpoint, what):
    from diamond.configs.schema import WorldModelRunConfig
    from diamond.training.resume import start_or_resume

    path = save_checkpoint(
        tmp_path / checkpoint, {"seed": 0}, generator_device="cpu", gen=torch.Generator().get_state()
    )
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"states of a cpu run and this run is on cuda.*--device cpu"):
        start_or_resume(
            tmp_path, checkpoint, "config.json", {"seed": 0}, WorldModelRunConfig, True, torch.device("cuda"), what
        )
    assert path.read_bytes() == before and not (tmp_path / "config.json").exists()
    assert load_checkpoint(path)["gen"].device.type == "cpu"
