"""The CS:GO source format (spec §10): one HDF5 file per episode, ``frame_{i}_x`` a (150, 280, 3) uint8 BGR
image and ``frame_{i}_y`` the 51-entry action vector of frame i; other keys are ignored.

Files are named ``<prefix><N>.hdf5`` (the authors': ``hdf5_dm_july2021_<N>.hdf5``) and ordered by N as a
number, not as a string. h5py is imported lazily: it is an optional extra (``diamond[engine]``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from diamond.fileio import TMP_PREFIX

FULL_RES = (150, 280)  # (H, W) of the source frames
FILE_PREFIX = "hdf5_dm_july2021_"
_NUMBER = re.compile(r"(\d+)\.hdf5$")


def h5py_module():  # noqa: ANN201 - the optional module
    try:
        import h5py
    except ImportError as exc:
        raise ImportError("reading and writing HDF5 episodes needs h5py: pip install 'diamond[engine]'") from exc
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
