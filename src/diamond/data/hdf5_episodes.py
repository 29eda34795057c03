"""The CS:GO source format (spec §10): one HDF5 file per episode, ``frame_{i}_x`` a (150, 280, 3) uint8 BGR
image and ``frame_{i}_y`` the 51-entry action vector of frame i; other keys are ignored.

Files are named ``<prefix><N>.hdf5`` (the authors': ``hdf5_dm_july2021_<N>.hdf5``) and ordered by N as a
number, not as a string. h5py is imported lazily: it is an optional extra (``diamond-wm[engine]``).
The paper's 500 held-out files are listed in ``csgo_test_split.txt`` beside this module.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

import numpy as np

from diamond.errors import InvalidValue, UserError
from diamond.fileio import TMP_PREFIX
from diamond.fps_actions import SIZE, csgo_action_space

FULL_RES = (150, 280)  # (H, W) of the source frames
LOW_RES = (30, 56)  # (H, W) of the dynamics model's frames, a bicubic ×1/5 of the source frames (spec §10)
FILE_PREFIX = "hdf5_dm_july2021_"
_NUMBER = re.compile(r"(\d+)\.hdf5$")
_FRAME_KEY = re.compile(r"^frame_(\d+)_(x|y)$")
TEST_SPLIT_FILE = "csgo_test_split.txt"


class MissingH5py(UserError, ImportError):
    """h5py, an optional extra, is not installed: a one-line error for the user, still an ImportError."""


class BadSourceFile(InvalidValue):
    """A source HDF5 episode that cannot be imported; the message names the file and the reason."""


def h5py_module():  # noqa: ANN201 - the optional module
    try:
        import h5py
    except ImportError as exc:
        raise MissingH5py(
            "reading and writing HDF5 episodes needs h5py; install it with: pip install 'diamond-wm[engine]'"
        ) from exc
    return h5py


def episode_file_name(number: int, prefix: str = FILE_PREFIX) -> str:
    return f"{prefix}{number}.hdf5"


def file_number(path: str | os.PathLike) -> int | None:
    """N in ``...<N>.hdf5``, or None for a name without one."""
    m = _NUMBER.search(Path(path).name)
    return int(m.group(1)) if m else None


def write_hdf5_episode(path: str | os.PathLike, frames_bgr: np.ndarray, actions: np.ndarray) -> None:
    """Write one episode in the source format, whole or not at all (a temporary file renamed into place).

    frames_bgr: (T, H, W, 3) uint8 BGR; actions: (T, A) 0/1 values (written as float64, as the source files).
    """
    frames_bgr, actions = np.asarray(frames_bgr), np.asarray(actions)
    if frames_bgr.ndim != 4 or frames_bgr.shape[-1] != 3 or frames_bgr.dtype != np.uint8:
        raise ValueError(
            f"write_hdf5_episode: frames must be (T, H, W, 3) uint8, got {frames_bgr.shape} {frames_bgr.dtype}"
        )
    if actions.ndim != 2 or len(actions) != len(frames_bgr):
        raise ValueError(f"write_hdf5_episode: actions must be (T, A) with T = {len(frames_bgr)}, got {actions.shape}")
    h5py = h5py_module()
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}")
    with h5py.File(tmp, "w") as f:
        for i, (x, y) in enumerate(zip(frames_bgr, actions)):
            f.create_dataset(f"frame_{i}_x", data=x)
            f.create_dataset(f"frame_{i}_y", data=y.astype(np.float64))
    os.replace(tmp, path)


def csgo_test_split() -> set[str]:
    """The file names of the paper's 500 held-out episodes (spec §10)."""
    text = resources.files("diamond.data").joinpath(TEST_SPLIT_FILE).read_text()
    return {line.strip() for line in text.splitlines() if line.strip()}


def sorted_by_number(paths: list[Path]) -> list[Path]:
    """Source files in the order of their N (``_10`` after ``_9``); names without one last, by name."""
    return sorted(paths, key=lambda p: (file_number(p) is None, file_number(p) or 0, p.name))


def _frame_indices(keys: list[str], path: Path) -> int:
    """The number of frames T, after checking that frame_i_x and frame_i_y exist for exactly i = 0..T-1."""
    found: dict[str, set[int]] = {"x": set(), "y": set()}
    for key in keys:
        m = _FRAME_KEY.match(key)
        if m:
            found[m.group(2)].add(int(m.group(1)))
    xs, ys = found["x"], found["y"]
    if not xs:
        raise BadSourceFile(f"source file {path}: holds no frames (no frame_<i>_x datasets; keys {sorted(keys)[:5]})")
    gaps = sorted(set(range(max(xs) + 1)) - xs)
    if gaps:
        raise BadSourceFile(
            f"source file {path}: frame {gaps[0]} is missing (no frame_{gaps[0]}_x, but frames up to {max(xs)} exist)"
        )
    for i in sorted(xs ^ ys):
        has, lacks = ("x", "y") if i in xs else ("y", "x")
        raise BadSourceFile(f"source file {path}: frame_{i}_{has} has no frame_{i}_{lacks}")
    if len(xs) < 2:
        raise BadSourceFile(f"source file {path}: holds 1 frame; an episode needs at least 2 (one transition)")
    return len(xs)


def read_hdf5_episode(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One source episode: frames as RGB (T, 3, 150, 280) uint8 and actions (T, 51) float32.

    Raises BadSourceFile naming the file and the reason: missing frames, a frame of the wrong shape or
    dtype, an action vector of the wrong length, a key entry other than 0/1, a mouse group not one-hot.
    """
    path = Path(path)
    h5py = h5py_module()
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise BadSourceFile(f"source file {path}: not a readable HDF5 file ({e})") from e
    with f:
        t = _frame_indices(list(f.keys()), path)
        frames = np.empty((t, 3, *FULL_RES), dtype=np.uint8)
        actions = np.empty((t, SIZE), dtype=np.float64)
        for i in range(t):
            try:
                x, y = np.asarray(f[f"frame_{i}_x"][()]), np.asarray(f[f"frame_{i}_y"][()])
            except (OSError, TypeError, AttributeError) as e:  # a damaged file, or a group where data should be
                raise BadSourceFile(f"source file {path}: cannot read frame {i} ({e})") from e
            if x.shape != (*FULL_RES, 3) or x.dtype != np.uint8:
                raise BadSourceFile(
                    f"source file {path}: frame_{i}_x is {x.dtype} of shape {x.shape}, expected uint8 of shape "
                    f"{(*FULL_RES, 3)} (BGR)"
                )
            if y.shape != (SIZE,) or y.dtype.kind not in "biuf":
                raise BadSourceFile(
                    f"source file {path}: frame_{i}_y is {y.dtype} of shape {y.shape}, expected {SIZE} numbers "
                    "(the CS:GO action vector)"
                )
            frames[i] = x[..., ::-1].transpose(2, 0, 1)  # BGR (H, W, C) -> RGB (C, H, W)
            actions[i] = y
    try:
        return frames, csgo_action_space().check(actions, f"source file {path}")
    except InvalidValue as e:
        raise BadSourceFile(str(e)) from None
