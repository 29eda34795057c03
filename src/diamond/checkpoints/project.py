"""The project's own checkpoint files: one torch file holding the config, model and optimiser states.

Files are written atomically (temporary file, fsync, rename), so a crash never leaves a half-written
checkpoint under the final name and never destroys the previous one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from diamond.checkpoints.files import CheckpointError, read_torch_file
from diamond.configs.schema import from_dict, to_dict
from diamond.fileio import differences, write_atomically

FORMAT = "diamond-checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, config: dict[str, Any], **states: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, "config": config, **states}
    write_atomically(path, lambda f: torch.save(payload, f))
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The payload, on the CPU (``read_torch_file``)."""
    return check_project_payload(path, read_torch_file(path))


def is_project_checkpoint(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def check_project_payload(path: str | Path, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a project checkpoint (no '{FORMAT}' marker); "
            "for a checkpoint in the reference layout use `diamond convert` or --reference"
        )
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {payload.get('version')}; this version reads {VERSION}"
        )
    return payload


def require_generator_device(path: str | Path, payload: dict[str, Any], device: torch.device | str) -> None:
    """Refuse to resume on another device type than the one whose random generators the checkpoint holds.

    CPU and CUDA generators have different states, so the run could not continue as the uninterrupted one
    would; reseeding instead would silently make it another run. Checkpoints written before the device was
    recorded come from the CPU, the only device they could be resumed on.
    """
    saved, now = str(payload.get("generator_device", "cpu")), torch.device(device).type
    if saved != now:
        raise CheckpointError(
            f"checkpoint {path} holds the random-generator states of a {saved} run and this run is on {now}; "
            f"{saved} and {now} generators differ, so it could not continue exactly: resume it with --device {saved}, "
            "or start a new run"
        )


def require_same_config(
    path: str | Path, saved: dict[str, Any], current: dict[str, Any], cls: type | None = None
) -> None:
    """Refuse a checkpoint made with another configuration. With ``cls`` (the config's dataclass), the saved
    config is first read as that class, so that older spellings of the same values (``num_actions``) compare equal."""
    if cls is not None:
        saved = to_dict(from_dict(cls, saved, f"config stored in {path}"))
    diffs = differences(saved, current, ("checkpoint", "current"))
    if diffs:
        raise CheckpointError(f"checkpoint {path} was made with another configuration:\n  " + "\n  ".join(diffs))
