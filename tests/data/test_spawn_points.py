"""Spawn points of the engine (spec §10): the authors' four numpy files per folder become EngineState-ready
tensors; files of the wrong shape, values or kind are refused with the file and the expected shape named."""

import numpy as np
import pytest
import torch

from diamond.data.spawn import load_spawn_point, spawn_folders
from diamond.errors import InvalidValue


def write_spawn(folder, frames=4, low=None, full=None, act=None, next_act=None):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "low_res": rng.integers(0, 256, (frames, 3, 30, 56), dtype=np.uint8) if low is None else low,
        "full_res": rng.integers(0, 256, (frames, 3, 150, 280), dtype=np.uint8) if full is None else full,
        "act": rng.integers(0, 2, (frames, 51)) if act is None else act,
        "next_act": rng.integers(0, 2, (7, 51)) if next_act is None else next_act,
    }
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
    return arrays


def test_a_spawn_point_becomes_batch_of_one_tensors(tmp_path):
    arrays = write_spawn(tmp_path / "0", frames=6)
    sp = load_spawn_point(tmp_path / "0")
    assert sp.low_res.shape == (1, 4, 3, 30, 56) and sp.full_res.shape == (1, 1, 3, 150, 280)
    assert sp.act.shape == (1, 4, 51) and sp.next_act.shape == (7, 51)
    assert sp.low_res.dtype == sp.act.dtype == torch.float32
    expected = torch.from_numpy(arrays["low_res"][-4:]).float() / 255 * 2 - 1  # the last 4 frames, in [-1, 1]
    assert torch.allclose(sp.low_res[0], expected) and sp.low_res.min() >= -1 and sp.low_res.max() <= 1
    assert torch.equal(sp.act[0], torch.from_numpy(arrays["act"][-4:]).float())
    assert torch.equal(sp.full_res[0, 0], torch.from_numpy(arrays["full_res"][-1]).float() / 255 * 2 - 1)
    write_spawn(tmp_path / "1", low=np.full((4, 3, 30, 56), 255.0), next_act=np.zeros(51, dtype=bool))
    sp = load_spawn_point(tmp_path / "1")
    assert sp.next_act.shape == (1, 51) and torch.all(sp.low_res == 1)
    assert spawn_folders(tmp_path) == [tmp_path / "0", tmp_path / "1"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"low": np.zeros((4, 30, 56, 3), np.uint8)}, "low_res.npy has shape (4, 30, 56, 3); expected (T, 3, 30, 56)"),
        ({"low": np.zeros((3, 3, 30, 56), np.uint8)}, "at least 4 along the first axis"),
        ({"full": np.zeros((1, 3, 30, 56), np.uint8)}, "full_res.npy has shape (1, 3, 30, 56); expected (T', 3, 150"),
        ({"act": np.zeros((5, 51))}, "act.npy has shape (5, 51); expected (4, 51)"),
        ({"act": np.full((4, 51), 2)}, "act.npy: values [2]"),
        ({"next_act": np.zeros((3, 4))}, "next_act.npy has shape (3, 4); expected (N, 51)"),
        ({"low": np.full((4, 3, 30, 56), 300.0)}, "expected pixels in 0..255"),
        ({"low": np.full((4, 3, 30, 56), "a")}, "holds <U1 values; expected numbers"),
    ],
)
def test_bad_spawn_files_are_refused_with_the_file_named(tmp_path, kwargs, message):
    write_spawn(tmp_path / "0", **kwargs)
    with pytest.raises(InvalidValue) as info:
        load_spawn_point(tmp_path / "0")
    assert message in str(info.value)


def test_missing_files_and_empty_folders(tmp_path):
    write_spawn(tmp_path / "0")
    (tmp_path / "0" / "next_act.npy").unlink()
    with pytest.raises(InvalidValue, match="has no next_act.npy"):
        load_spawn_point(tmp_path / "0")
    with pytest.raises(InvalidValue, match="holds no spawn points"):
        spawn_folders(tmp_path / "nothing")
