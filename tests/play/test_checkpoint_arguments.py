"""Every command that reads a checkpoint takes a file or a run folder, and a `diamond train` checkpoint gives its
world model to `imagine` and its three networks to `convert --to-reference`."""

import pytest
import torch

from diamond.checkpoints.convert import convert_checkpoint
from diamond.checkpoints.denoiser import load_denoiser
from diamond.checkpoints.files import CheckpointError


def test_a_run_folder_or_its_agent_checkpoint_gives_the_agents_denoiser(play_checkpoints):
    run = play_checkpoints["run"]
    saved = torch.load(run / "checkpoints" / "agent.pt", weights_only=True)["agent"]["denoiser"]
    for given in (run, run / "checkpoints" / "agent.pt"):
        denoiser, cfg = load_denoiser(given)
        state = denoiser.state_dict()
        assert state.keys() == saved.keys() and all(torch.equal(state[k], saved[k]) for k in saved)
        assert cfg.denoiser.net.action_space.size == 4


def test_an_agent_converts_to_the_reference_layout_with_its_three_networks(play_checkpoints, tmp_path):
    message = convert_checkpoint(play_checkpoints["run"], tmp_path / "ref.pt", to_reference=True)
    assert "in the reference layout" in message and "readers of this layout assume" not in message  # 64x64
    written = torch.load(tmp_path / "ref.pt", weights_only=True)
    expected = torch.load(play_checkpoints["reference"], weights_only=True)  # the same agent, joined directly
    assert written.keys() == expected.keys() and all(torch.equal(written[k], expected[k]) for k in expected)
    assert {k.split(".")[0] for k in written} == {"denoiser", "rew_end_model", "actor_critic"}


def test_a_folder_without_a_checkpoint_is_named_with_what_was_looked_for(tmp_path):
    with pytest.raises(CheckpointError) as err:
        load_denoiser(tmp_path)
    assert str(err.value).startswith(f"checkpoint {tmp_path} is a folder holding none of checkpoints/agent.pt, ")
    assert "checkpoints/world_model.pt" in str(err.value) and "checkpoints/engine.pt" in str(err.value)


def test_an_engine_reader_names_what_it_was_given_instead(play_checkpoints):
    from diamond.checkpoints.engine import load_engine

    for name, what in (("world_model", "a world model's"), ("run", "an agent's")):
        with pytest.raises(CheckpointError, match=f"is a project checkpoint but not an engine's: {what}$"):
            load_engine(play_checkpoints[name])


def test_a_file_already_in_the_reference_layout_is_not_converted_to_it(play_checkpoints, tmp_path):
    from diamond.errors import InvalidValue

    with pytest.raises(InvalidValue, match="already in the reference layout; nothing to convert"):
        convert_checkpoint(play_checkpoints["reference"], tmp_path / "again.pt", to_reference=True)
    assert not (tmp_path / "again.pt").exists()  # it would have kept the denoiser alone
