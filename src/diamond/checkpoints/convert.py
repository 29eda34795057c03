"""Checkpoints between the project's files and the authors' (reference) layout: a world model's denoiser, a
`diamond train` agent's three networks, or an engine."""

from __future__ import annotations

from pathlib import Path

import torch

from diamond.checkpoints.denoiser import load_denoiser
from diamond.checkpoints.engine import convert_engine, holds_engine
from diamond.checkpoints.files import read_torch_file
from diamond.checkpoints.project import is_project_checkpoint, save_checkpoint
from diamond.checkpoints.reference import is_reference_layout, join_reference, load_reference_file, split_reference
from diamond.configs.schema import to_dict
from diamond.errors import InvalidValue
from diamond.fileio import write_atomically

REFERENCE_FRAME_SIZE = 64  # the authors' Atari frames (spec §2)


def convert_checkpoint(src: Path, dst: Path, to_reference: bool, force: bool = False, engine: bool = False) -> str:
    """A denoiser, a `diamond train` agent (its three networks; to the reference layout only) or an engine
    (``engine``, or found to be one): project checkpoint → reference layout, or reference layout → project
    checkpoint."""
    if dst.exists() and not force:
        raise InvalidValue(f"{dst} already exists; pass --force to overwrite it")
    raw = read_torch_file(src)
    if engine or holds_engine(raw):
        return convert_engine(raw, src, dst, to_reference)
    if to_reference and is_reference_layout(raw) and not is_project_checkpoint(raw):
        raise InvalidValue(f"--to-reference {src}: it is already in the reference layout; nothing to convert")
    agent = raw.get("agent") if is_project_checkpoint(raw) else None  # a `diamond train` checkpoint
    config = raw.get("config") if agent is not None else None
    del raw  # the denoiser's readers below take the path
    if to_reference:
        note = ""
        if agent is not None:  # its three networks, under the reference's names
            names = {"denoiser": "denoiser", "rew_end_model": "rew_end", "actor_critic": "actor_critic"}
            flat = join_reference({part: agent[ours] for part, ours in names.items()})
            size = config["env"]["size"]  # the reward and policy networks' widths follow from it
            if size != REFERENCE_FRAME_SIZE:
                note = f"; its frames are {size}x{size}: readers of this layout assume {REFERENCE_FRAME_SIZE}x{REFERENCE_FRAME_SIZE}"
        else:
            flat = join_reference({"denoiser": load_denoiser(src)[0].state_dict()})
        write_atomically(dst, lambda f: torch.save(flat, f))
        return f"wrote {dst}: {len(flat)} tensors in the reference layout{note}"
    others = sorted(k for k in split_reference(load_reference_file(src)) if k != "denoiser")
    denoiser, cfg = load_denoiser(src)
    save_checkpoint(
        dst, to_dict(cfg), denoiser=denoiser.state_dict(), step=0, converted_from=str(src), other_networks=others
    )
    return f"wrote {dst}: denoiser with inferred config {to_dict(cfg.denoiser.net)}"
