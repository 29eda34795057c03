"""Conversion between the reference checkpoint layout and the project's models.

The reference layout is one flat state dict whose keys are prefixed ``denoiser.``, ``rew_end_model.``
and ``actor_critic.``. The project's networks use the same attribute names inside each network, so the
conversion is a matter of prefixes plus recovering the configuration from tensor shapes (a reference
checkpoint does not carry its configuration).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from torch import Tensor

from diamond.checkpoints.files import CheckpointError, read_torch_file
from diamond.configs.schema import ActorCriticConfig, DenoiserConfig, DenoiserNetConfig, RewEndConfig
from diamond.spaces import ActionSpace

PARTS = ("denoiser", "rew_end_model", "actor_critic", "upsampler")


def is_reference_layout(obj: Any) -> bool:
    return isinstance(obj, dict) and any(isinstance(k, str) and k.startswith(p + ".") for k in obj for p in PARTS)


def load_reference_file(path: str | Path) -> dict[str, Tensor]:
    sd = read_torch_file(path)
    if not is_reference_layout(sd):
        raise CheckpointError(
            f"checkpoint {path} is not in the reference layout: expected keys prefixed "
            f"{', '.join(p + '.' for p in PARTS)}"
        )
    return sd


def split_reference(sd: dict[str, Tensor]) -> dict[str, dict[str, Tensor]]:
    """Flat reference state dict → {part: state dict of that network}."""
    parts: dict[str, dict[str, Tensor]] = {}
    for key, value in sd.items():
        part, _, rest = key.partition(".")
        if part not in PARTS:
            raise CheckpointError(f"reference key {key!r} does not start with one of {PARTS}")
        parts.setdefault(part, {})[rest] = value
    return parts


def join_reference(parts: dict[str, dict[str, Tensor]]) -> dict[str, Tensor]:
    """{part: state dict} → flat reference state dict."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise CheckpointError(f"unknown network(s) {sorted(unknown)}; the reference layout holds {PARTS}")
    return {f"{part}.{k}": v for part, sd in parts.items() for k, v in sd.items()}


def _space(size: int, given: ActionSpace | None, where: str) -> ActionSpace:
    """Shapes tell the size of the action table, not its kind: discrete (Atari) unless the caller knows better."""
    if given is None:
        return ActionSpace.discrete(size)
    if given.size != size:
        raise CheckpointError(f"{where}: the checkpoint's action table has {size} rows, the {given} has {given.size}")
    return given


def infer_denoiser_config(
    sd: dict[str, Tensor], action_space: ActionSpace | None = None, **overrides: Any
) -> DenoiserConfig:
    """Recover a DenoiserConfig from the tensor shapes of a denoiser state dict (reference or project); the
    network's name tells the formulation (``inner_model``: EDM, ``noise_model``: DDPM)."""
    ddpm = any(k.startswith("noise_model.") for k in sd)
    if ddpm:
        overrides = {"formulation": "ddpm", **overrides}
    try:
        p = "noise_model." if ddpm else "inner_model."
        cond_channels = sd[p + "cond_proj.0.weight"].shape[0]
        img_channels = sd[p + "conv_out.weight"].shape[0]
        upsampler = p + "act_emb.0.weight" not in sd  # spec §10: the upsampler reads a low-res frame, no actions
        if upsampler:
            num_actions = None
            num_steps = sd[p + "conv_in.weight"].shape[1] // img_channels - 2
        else:
            num_actions, per_step = sd[p + "act_emb.0.weight"].shape
            num_steps = cond_channels // per_step
        levels = sorted({int(m.group(1)) for k in sd if (m := re.match(p + r"unet\.d_blocks\.(\d+)\.", k))})
        depths, channels, attn = [], [], []
        for i in levels:
            blocks = {
                int(m.group(1)) for k in sd if (m := re.match(p + rf"unet\.d_blocks\.{i}\.resblocks\.(\d+)\.", k))
            }
            depths.append(len(blocks))
            channels.append(sd[p + f"unet.d_blocks.{i}.resblocks.0.conv1.weight"].shape[0])
            attn.append(any(k.startswith(p + f"unet.d_blocks.{i}.resblocks.0.attn.") for k in sd))
    except KeyError as exc:
        raise CheckpointError(f"not a denoiser state dict: missing tensor {exc.args[0]!r}") from exc
    net = DenoiserNetConfig(
        img_channels=int(img_channels),
        num_steps_conditioning=int(num_steps),
        cond_channels=int(cond_channels),
        depths=tuple(depths),
        channels=tuple(int(c) for c in channels),
        attn_depths=tuple(attn),
        action_space=ActionSpace() if num_actions is None else _space(int(num_actions), action_space, "denoiser"),
        context_noise_embedding=p + "noise_cond_emb.weight" in sd,
        low_res_conditioning=upsampler,
    )
    cfg = DenoiserConfig(net=net, **overrides)
    cfg.validate("denoiser config inferred from checkpoint shapes")
    return cfg


def _levels(sd: dict[str, Tensor], pattern: str) -> list[int]:
    return sorted({int(m.group(1)) for k in sd if (m := re.match(pattern, k))})


def infer_rew_end_config(sd: dict[str, Tensor], action_space: ActionSpace | None = None) -> RewEndConfig:
    """Recover a RewEndConfig from the tensor shapes of a reward/termination state dict."""
    try:
        num_actions, cond_channels = sd["act_emb.weight"].shape
        img_channels = sd["encoder.conv_in.weight"].shape[1] // 2
        levels = _levels(sd, r"encoder\.blocks\.(\d+)\.")[:-1]  # the last block is the attention middle
        depths, channels, attn = [], [], []
        for i in levels:
            depths.append(len(_levels(sd, rf"encoder\.blocks\.{i}\.resblocks\.(\d+)\.")))
            channels.append(int(sd[f"encoder.blocks.{i}.resblocks.0.conv1.weight"].shape[0]))
            attn.append(any(k.startswith(f"encoder.blocks.{i}.resblocks.0.attn.") for k in sd))
        lstm_dim = sd["lstm.weight_hh_l0"].shape[1]
    except KeyError as exc:
        raise CheckpointError(f"not a reward/termination state dict: missing tensor {exc.args[0]!r}") from exc
    cfg = RewEndConfig(
        img_channels=int(img_channels),
        cond_channels=int(cond_channels),
        depths=tuple(depths),
        channels=tuple(channels),
        attn_depths=tuple(attn),
        lstm_dim=int(lstm_dim),
        action_space=_space(int(num_actions), action_space, "reward/termination model"),
    )
    cfg.validate("reward/termination config inferred from checkpoint shapes")
    return cfg


def infer_actor_critic_config(sd: dict[str, Tensor], action_space: ActionSpace | None = None) -> ActorCriticConfig:
    """Recover an ActorCriticConfig from the tensor shapes of an actor-critic state dict."""
    try:
        img_channels = sd["encoder.encoder.0.weight"].shape[1]
        blocks = [i for i in _levels(sd, r"encoder\.encoder\.(\d+)\.f\.") if i % 2 == 1]
        channels = [int(sd[f"encoder.encoder.{i}.f.2.weight"].shape[0]) for i in blocks]
        num_actions, lstm_dim = sd["actor_linear.weight"].shape
        per_action = 2 if action_space is not None and action_space.kind == "continuous" else 1  # mean, log std
    except KeyError as exc:
        raise CheckpointError(f"not an actor-critic state dict: missing tensor {exc.args[0]!r}") from exc
    cfg = ActorCriticConfig(
        img_channels=int(img_channels),
        channels=tuple(channels),
        lstm_dim=int(lstm_dim),
        action_space=_space(int(num_actions) // per_action, action_space, "actor-critic"),
    )
    cfg.validate("actor-critic config inferred from checkpoint shapes")
    return cfg
