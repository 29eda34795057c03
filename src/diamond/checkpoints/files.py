"""Reading torch checkpoint files with errors that name the file and say what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from diamond.errors import UserError
from diamond.layout import AgentRun, EngineRun, WorldModelRun


class CheckpointError(UserError, ValueError):
    """A checkpoint file is missing, unreadable, or does not fit the model it is loaded into."""


# the checkpoint of each kind of run folder, in the order a folder is searched
RUN_CHECKPOINTS = (AgentRun.CHECKPOINT, WorldModelRun.CHECKPOINT, EngineRun.CHECKPOINT)


def checkpoint_file(path: str | Path) -> Path:
    """``path`` itself, or the checkpoint of the run folder ``path`` (of `diamond train`, `train-world-model`
    or `train-engine`): every command that reads a checkpoint takes either."""
    path = Path(path)
    if not path.is_dir():
        return path
    found = [path / name for name in RUN_CHECKPOINTS if (path / name).is_file()]
    if not found:
        raise CheckpointError(
            f"checkpoint {path} is a folder holding none of {', '.join(RUN_CHECKPOINTS)}; give a checkpoint file "
            "or a run folder"
        )
    return found[0]


def read_torch_file(path: str | Path) -> Any:
    """The file's contents (``path``: a file or a run folder, ``checkpoint_file``), always on the CPU, whatever
    device wrote it or will use it: modules and optimisers copy their states to their own device as they load,
    and generator states must stay CPU tensors (``torch.Generator.set_state`` takes nothing else). A GPU-only
    machine's file loads on a CPU-only one."""
    path = checkpoint_file(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated or corrupt zip, unpickling errors...
        raise CheckpointError(
            f"checkpoint {path} could not be read ({type(exc).__name__}: {exc}); the file is truncated or corrupt"
        ) from exc
