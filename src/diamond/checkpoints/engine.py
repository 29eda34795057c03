"""Engine checkpoints (spec §10): the project's ``engine.pt`` (config, both networks, training state) and
the authors' layout (one flat state dict, keys prefixed ``denoiser.`` and ``upsampler.``), both ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from diamond.checkpoints.files import CheckpointError, read_torch_file
from diamond.checkpoints.project import check_project_payload, is_project_checkpoint
from diamond.checkpoints.reference import infer_denoiser_config, is_reference_layout, split_reference
from diamond.configs.engine import ENGINE_OFFSET_NOISE, ENGINE_SIGMAS, EngineConfig
from diamond.configs.schema import from_dict
from diamond.fps_actions import csgo_action_space
from diamond.models.engine import Engine

KIND = "engine"  # the ``kind`` entry of a project engine checkpoint
REFERENCE_PARTS = ("denoiser", "upsampler")  # the reference names of the dynamics model and the upsampler


def engine_config_from_reference(sd: dict[str, Tensor], where: str) -> EngineConfig:
    """The configuration of an engine in the reference layout: networks from the tensor shapes, the EDM
    constants and samplers from spec §10 (the layout carries no configuration)."""
    parts = split_reference(sd)
    missing = [p for p in REFERENCE_PARTS if p not in parts]
    if missing:
        raise CheckpointError(
            f"{where}: an engine in the reference layout needs {REFERENCE_PARTS} tensors; no {missing}"
        )
    rows = parts["denoiser"].get("inner_model.act_emb.0.weight")
    space = csgo_action_space() if rows is not None and rows.shape[0] == csgo_action_space().size else None
    common = {"sigma_offset_noise": ENGINE_OFFSET_NOISE, "sigma_distribution": ENGINE_SIGMAS}
    dynamics = infer_denoiser_config(parts["denoiser"], space, context_noise=True, **common)
    upsampler = infer_denoiser_config(parts["upsampler"], **common)
    if not upsampler.net.low_res_conditioning:
        raise CheckpointError(f"{where}: its upsampler.* tensors hold an action embedding; not an upsampler")
    return EngineConfig(dynamics=dynamics, upsampler=upsampler)


def engine_to_reference(engine: Engine) -> dict[str, Tensor]:
    """The engine's weights in the reference layout."""
    return {
        **{f"denoiser.{k}": v for k, v in engine.dynamics.state_dict().items()},
        **{f"upsampler.{k}": v for k, v in engine.upsampler.state_dict().items()},
    }


def engine_from_reference(sd: dict[str, Tensor], where: str) -> Engine:
    engine = Engine(engine_config_from_reference(sd, where))
    parts = split_reference(sd)
    _load(engine, parts["denoiser"], parts["upsampler"], where)
    return engine


def _load(engine: Engine, dynamics: dict[str, Tensor], upsampler: dict[str, Tensor], where: str) -> None:
    try:
        engine.dynamics.load_state_dict(dynamics)
        engine.upsampler.load_state_dict(upsampler)
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{where}: its weights do not fit its configuration ({exc})") from exc


def engine_from_checkpoint(raw: Any, path: str | Path) -> Engine:
    """The engine of a checkpoint already read from ``path`` (project or reference layout), on the CPU."""
    if is_reference_layout(raw) and not is_project_checkpoint(raw):
        return engine_from_reference(raw, str(path)).eval()
    payload = check_project_payload(path, raw)
    if payload.get("kind") != KIND:
        what = (
            f"kind {payload['kind']!r}"
            if payload.get("kind")
            else "an agent's"
            if "agent" in payload
            else "a world model's"
        )
        raise CheckpointError(f"{path} is a project checkpoint but not an engine's: {what}")
    engine = Engine(from_dict(EngineConfig, payload["config"], f"config stored in {path}"))
    _load(engine, payload["dynamics"], payload["upsampler"], str(path))
    return engine.eval()


def load_engine(path: str | Path, device: torch.device | str = "cpu") -> Engine:
    """An engine from a ``train-engine`` checkpoint or a file in the authors' layout, on ``device``."""
    return engine_from_checkpoint(read_torch_file(path), path).to(device)


def holds_engine(raw: Any) -> bool:
    """Whether a checkpoint already read is an engine's: a project one of kind "engine", or a reference-layout
    one with ``upsampler.*`` tensors (the authors' Atari models hold none)."""
    if is_project_checkpoint(raw):
        return raw.get("kind") == KIND
    return is_reference_layout(raw) and any(isinstance(k, str) and k.startswith("upsampler.") for k in raw)


def convert_engine(raw: Any, src: str | Path, dst: str | Path, to_reference: bool) -> str:
    """An engine checkpoint already read from ``src``, written to ``dst`` in the other layout: the reference
    layout (one flat ``denoiser.*`` + ``upsampler.*`` state dict) or a project checkpoint (kind "engine", its
    configuration inferred from the tensor shapes and spec §10). The tensors are copied unchanged."""
    from diamond.checkpoints.project import save_checkpoint
    from diamond.configs.schema import to_dict
    from diamond.fileio import write_atomically

    if to_reference:
        flat = engine_to_reference(engine_from_checkpoint(raw, src))
        write_atomically(Path(dst), lambda f: torch.save(flat, f))
        return f"wrote {dst}: engine, {len(flat)} tensors in the reference layout (denoiser.*, upsampler.*)"
    if is_project_checkpoint(raw) or not is_reference_layout(raw):
        raise CheckpointError(
            f"{src} is not in the reference layout (keys prefixed denoiser. and upsampler.); "
            "to write a project engine checkpoint in the reference layout use --to-reference"
        )
    engine = engine_from_reference(raw, str(src))
    states = {"dynamics": engine.dynamics.state_dict(), "upsampler": engine.upsampler.state_dict()}
    save_checkpoint(dst, to_dict(engine.cfg), kind=KIND, **states, converted_from=str(src))
    net = engine.cfg.dynamics.net
    return (
        f"wrote {dst}: engine checkpoint, inferred dynamics channels {list(net.channels)} with "
        f"{net.action_space.size} actions, upsampler channels {list(engine.cfg.upsampler.net.channels)}"
    )
