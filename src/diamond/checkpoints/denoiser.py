"""Reading a trained denoiser from any checkpoint the project knows: a ``train-world-model`` checkpoint or
one in the authors' (reference) layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from diamond.checkpoints.files import CheckpointError, read_torch_file
from diamond.checkpoints.project import check_project_payload, is_project_checkpoint
from diamond.checkpoints.reference import infer_denoiser_config, is_reference_layout, split_reference
from diamond.configs.schema import TrainConfig, WorldModelRunConfig, from_dict
from diamond.models.diffusion.formulations import NextFrameDenoiser, make_denoiser


def load_denoiser(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[NextFrameDenoiser, WorldModelRunConfig]:
    """A trained denoiser and its run config, from a project checkpoint or one in the reference layout."""
    return denoiser_from_checkpoint(read_torch_file(path), path, device)


def denoiser_from_checkpoint(
    raw: Any, path: str | Path, device: torch.device | str = "cpu"
) -> tuple[NextFrameDenoiser, WorldModelRunConfig]:
    """The denoiser of a checkpoint already read from ``path``: a project world-model checkpoint or the reference layout.

    A reference checkpoint carries no configuration: the network's is inferred from its tensor shapes and
    everything else (EDM constants, sampler) takes the spec's defaults.
    """
    if is_reference_layout(raw) and not is_project_checkpoint(raw):
        parts = split_reference(raw)
        if "denoiser" not in parts:
            raise CheckpointError(f"checkpoint {path} is in the reference layout but holds no denoiser.* tensors")
        cfg = WorldModelRunConfig(denoiser=infer_denoiser_config(parts["denoiser"]))
        state = parts["denoiser"]
    elif "agent" in (payload := check_project_payload(path, raw)):  # a `diamond train` checkpoint: its world model
        agent = from_dict(TrainConfig, payload["config"], f"config stored in {path}")
        cfg = WorldModelRunConfig(denoiser=agent.denoiser, sampler=agent.sampler)
        state = payload["agent"]["denoiser"]
    else:
        cfg = from_dict(WorldModelRunConfig, payload["config"], f"config stored in {path}")
        state = payload["denoiser"]
    denoiser = make_denoiser(cfg.denoiser).to(device)
    try:
        denoiser.load_state_dict(state)
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {path}: its weights do not fit its configuration ({exc})") from exc
    return denoiser.eval(), cfg
