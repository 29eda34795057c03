"""Spawn points of the neural game engine (spec §10): real contexts from the dataset that play starts from.

The authors publish them on the Hub as ``csgo/spawn/<k>/`` folders of four numpy files (layout read from
their play code; the files themselves are not checked here):

- ``low_res.npy``: (T, 3, 30, 56) frames, RGB, channels first, values 0..255 (uint8, or a float or integer
  array holding such values), T ≥ the dynamics model's 4 context frames;
- ``full_res.npy``: (T', 3, 150, 280) frames in the same form, T' ≥ the upsampler's 1 context frame;
- ``act.npy``: (T, 51) multi-hot actions of the low-resolution frames, values 0 or 1; the last row is the
  action taken at the first step of play;
- ``next_act.npy``: (N, 51) the dataset's actions of the N steps that follow (a replay of the recorded play);
  a single (51,) row is read as N = 1.

``load_spawn_point`` turns a folder into batch-of-one tensors ready for ``EngineState``: frames in [-1, 1]
(x / 255 · 2 − 1, as the reference does), float 0/1 actions, the last frames of each context kept.
``make_spawn_points`` writes folders in this layout from windows of a static dataset's held-out episodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from diamond.data.hdf5_episodes import FULL_RES, LOW_RES
from diamond.errors import InvalidValue
from diamond.fps_actions import SIZE

SPAWN_FILES = ("low_res", "full_res", "act", "next_act")
NUM_ACTIONS = SIZE  # 51


@dataclass
class SpawnPoint:
    """(1, L, 3, h, w) low-resolution frames, their (1, L, A) actions, (1, Lu, 3, H, W) full-resolution frames,
    and the (N, A) recorded actions that follow."""

    low_res: Tensor
    act: Tensor
    full_res: Tensor
    next_act: Tensor
    folder: Path | None = None  # None: a context made in play (the real game's last frames)


def spawn_folders(spawn_dir: str | Path) -> list[Path]:
    """The spawn-point folders under ``spawn_dir``, in the order the reference cycles through them."""
    root = Path(spawn_dir)
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not folders:
        raise InvalidValue(f"spawn folder {root} holds no spawn points (sub-folders with {', '.join(SPAWN_FILES)})")
    return folders


def load_spawn_point(
    folder: str | Path,
    num_frames: int = 4,
    num_full_res_frames: int = 1,
    low_res_size: tuple[int, int] = LOW_RES,
    full_res_size: tuple[int, int] = FULL_RES,
    num_actions: int = NUM_ACTIONS,
) -> SpawnPoint:
    """One spawn point, checked against the engine's shapes; errors name the file, its shape and the expected one."""
    folder = Path(folder)
    arrays = {name: _read(folder / f"{name}.npy") for name in SPAWN_FILES}
    low, full, act, nxt = (arrays[name] for name in SPAWN_FILES)
    if nxt.ndim == 1:
        nxt = nxt[None]
    _shape(folder / "low_res.npy", low, ("T", 3, *low_res_size), num_frames)
    _shape(folder / "full_res.npy", full, ("T'", 3, *full_res_size), num_full_res_frames)
    _shape(folder / "act.npy", act, (low.shape[0], num_actions), num_frames)
    _shape(folder / "next_act.npy", nxt, ("N", num_actions), 1)
    for name, frames in (("low_res", low), ("full_res", full)):
        if frames.min() < 0 or frames.max() > 255:
            raise InvalidValue(
                f"{folder / name}.npy: values span [{frames.min()}, {frames.max()}]; expected pixels in 0..255"
            )
    for name, a in (("act", act), ("next_act", nxt)):
        if not np.isin(a, (0, 1)).all():
            raise InvalidValue(f"{folder / name}.npy: values {np.unique(a)[:5].tolist()}...; expected 0/1 multi-hot")
    return SpawnPoint(
        low_res=_frames(low[-num_frames:]),
        act=torch.from_numpy(act[-num_frames:].astype(np.float32))[None],
        full_res=_frames(full[-num_full_res_frames:]),
        next_act=torch.from_numpy(nxt.astype(np.float32)),
        folder=folder,
    )


def save_spawn_point(
    folder: str | Path, low_res: np.ndarray, full_res: np.ndarray, act: np.ndarray, next_act: np.ndarray
) -> Path:
    """Write one spawn point: uint8 frames (T, 3, h, w) and (T', 3, H, W), 0/1 actions (T, A) and (N, A) as
    float32. The folder is written whole under a temporary name and then renamed, so it is complete or absent."""
    folder = Path(folder)
    if folder.exists():
        raise InvalidValue(f"spawn point {folder} exists already; choose a new folder")
    tmp = folder.with_name(folder.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    arrays = {"low_res": low_res, "full_res": full_res, "act": act, "next_act": next_act}
    for name, array in arrays.items():
        dtype = np.uint8 if name.endswith("_res") else np.float32
        np.save(tmp / f"{name}.npy", np.ascontiguousarray(array, dtype=dtype))
    tmp.rename(folder)
    return folder


def make_spawn_points(
    dataset: str | Path,
    out: str | Path,
    count: int,
    seed: int = 0,
    split: str = "test",
    num_frames: int = 4,
    num_next: int = 100,
) -> list[Path]:
    """``count`` spawn points ``out/0``, ``out/1``, ... from windows drawn uniformly among the complete ones
    of ``num_frames`` + ``num_next`` frames of a static dataset's ``split`` (the held-out episodes by default,
    so play starts from moments the engine did not train on; the same seed draws the same windows)."""
    from diamond.data.engine_data import EngineSplit
    from diamond.data.sampler import uniform_complete_segments

    out = Path(out)
    if count < 1:
        raise InvalidValue(f"--count {count}: expected at least 1 spawn point")
    if out.exists() and any(out.iterdir()):
        raise InvalidValue(f"{out} is not empty; spawn points go into a new folder")
    data = EngineSplit(dataset, split)
    try:
        if len(data) == 0:
            raise InvalidValue(f"{dataset}: the {split} split holds no episodes to take spawn points from")
        length = num_frames + num_next
        segments = uniform_complete_segments(data.lengths, count, length, np.random.default_rng(seed))
        folders = []
        for k, (episode, start) in enumerate(segments):
            context = slice(start, start + num_frames)
            folders.append(
                save_spawn_point(
                    out / str(k),
                    data.low_res(episode, context.start, context.stop),
                    data.full_res(episode, context.start, context.stop),
                    data.actions(episode, context.start, context.stop),
                    data.actions(episode, context.stop, start + length),
                )
            )
        return folders
    finally:
        data.close()


def _read(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InvalidValue(f"spawn point {path.parent} has no {path.name} (a spawn point holds {SPAWN_FILES})")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InvalidValue(f"{path} could not be read as a numpy array ({exc})") from exc
    if array.dtype.kind not in "biuf":
        raise InvalidValue(f"{path} holds {array.dtype} values; expected numbers")
    return array


def _shape(path: Path, array: np.ndarray, expected: tuple, min_first: int) -> None:
    fits = array.ndim == len(expected) and all(
        isinstance(e, str) or a == e for a, e in zip(array.shape, expected)
    )  # the named (str) dimensions are free
    if not fits or array.shape[0] < min_first:
        shown = "(" + ", ".join(str(e) for e in expected) + ")"
        raise InvalidValue(
            f"{path} has shape {tuple(array.shape)}; expected {shown} with at least {min_first} along the first axis"
        )


def _frames(array: np.ndarray) -> Tensor:
    return torch.from_numpy(array.astype(np.float32)).div(255).mul(2).sub(1)[None]
