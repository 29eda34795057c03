"""The models a player needs, from any checkpoint the project can read.

Three kinds of file play:

- a ``diamond train`` run (its folder, or ``checkpoints/agent.pt``): world model, reward/termination
  model and policy, with the run's own environment configuration;
- a ``diamond train-world-model`` checkpoint: the denoiser alone (imagined rewards are 0 and imagined
  episodes end only at the horizon; there is no policy to hand control to); ``--game`` names the game;
- a checkpoint in the reference layout (the authors' published Atari models, or ``diamond convert``
  output): the networks' configurations are recovered from the tensor shapes by the converter
  (``diamond.checkpoints.reference``); ``--game`` names the Atari game, played with the spec §2 protocol.

``download_from_hub`` fetches the authors' pretrained Atari model of a game with huggingface_hub.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from diamond.checkpoints.denoiser import denoiser_from_checkpoint
from diamond.checkpoints.files import CheckpointError, checkpoint_file, read_torch_file
from diamond.checkpoints.project import check_project_payload, is_project_checkpoint
from diamond.checkpoints.reference import (
    infer_actor_critic_config,
    infer_rew_end_config,
    is_reference_layout,
    split_reference,
)
from diamond.configs.schema import ConfigError, EnvConfig, TrainConfig, from_dict
from diamond.models.actor_critic import ActorCritic
from diamond.models.diffusion.formulations import NextFrameDenoiser, make_denoiser
from diamond.models.rew_end import RewEndModel
from diamond.spaces import ActionSpace

HUB_REPO = "eloialonso/diamond"  # the authors' pretrained models on the Hugging Face Hub
HUB_FILE = "atari_100k/models/{game}.pt"


@dataclass
class PlayModels:
    """What a player runs: the configuration (environment, sampler, networks) and the networks."""

    cfg: TrainConfig
    denoiser: NextFrameDenoiser
    rew_end: RewEndModel | None
    actor_critic: ActorCritic | None
    path: str
    kind: str  # "run", "world model" or "reference layout"
    precision: str = "float32"  # the world model's steps: float32, or autocast to bfloat16 / float16 (CUDA)

    @property
    def action_space(self) -> ActionSpace:
        return self.cfg.denoiser.net.action_space

    def with_precision(self, precision: str) -> PlayModels:
        from diamond.devices import check_precision

        device = next(self.denoiser.parameters()).device
        return replace(self, precision=check_precision(precision, device, "--precision"))

    def with_denoising_steps(self, steps: int | None) -> PlayModels:
        if steps is None:
            return self
        sampler = replace(self.cfg.sampler, num_steps_denoising=steps)
        sampler.validate("--denoising-steps")
        return replace(self, cfg=replace(self.cfg, sampler=sampler))


def _load(module: torch.nn.Module, state: dict[str, Any], path: Path, what: str) -> None:
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {path}: the {what} weights do not fit its configuration ({exc})") from exc
    module.eval()


def _env_for(game: str | None, env: str | None, where: str) -> EnvConfig:
    if game is None:
        raise ConfigError(f"{where} does not record its game; pass --game (e.g. --game Breakout)")
    from diamond.envs.families import get_family

    family = get_family(env or "atari")
    cfg = EnvConfig(family=family.name, game=game, size=64)
    cfg.validate("--game/--env")
    family.validate_game(game, "--game")
    return cfg


def load_play_models(
    path: str | Path, device: torch.device | str = "cpu", game: str | None = None, env: str | None = None
) -> PlayModels:
    """Read ``path`` (a file or a ``diamond train`` run folder) into models on ``device``."""
    path = checkpoint_file(path)
    raw = read_torch_file(path)  # on the CPU: the networks move to the device as they load
    reference = is_reference_layout(raw) and not is_project_checkpoint(raw)
    payload = raw if reference else check_project_payload(path, raw)
    if "agent" in payload:  # a `diamond train` checkpoint
        cfg = from_dict(TrainConfig, payload["config"], f"config stored in {path}")
        if game is not None and game != cfg.env.game:
            raise ConfigError(f"--game {game}: the checkpoint {path} was trained on {cfg.env.game}; leave --game out")
        states = payload["agent"]
        size = cfg.env.size
        models = (
            make_denoiser(cfg.denoiser),
            RewEndModel(cfg.rew_end, image_size=size),
            ActorCritic(cfg.actor_critic, image_size=size),
        )
        for module, name in zip(models, ("denoiser", "rew_end", "actor_critic")):
            _load(module.to(device), states[name], path, name)
        return PlayModels(cfg, *models, path=str(path), kind="run")  # type: ignore[arg-type]
    if not reference and "denoiser" not in payload:
        raise CheckpointError(f"checkpoint {path} holds neither an agent nor a denoiser")
    kind = "reference layout" if reference else "world model"
    env_cfg = _env_for(game, env, f"the {kind} checkpoint {path}")
    denoiser, wm = denoiser_from_checkpoint(raw, path, device)
    cfg = TrainConfig(env=env_cfg, denoiser=wm.denoiser, sampler=wm.sampler)
    if not reference:  # a `diamond train-world-model` checkpoint: the denoiser alone
        return PlayModels(cfg, denoiser, None, None, path=str(path), kind=kind)
    parts = split_reference(raw)  # the authors' layout: the other two networks too, configured from their shapes
    rew_end = actor_critic = None
    if "rew_end_model" in parts:
        cfg = replace(cfg, rew_end=infer_rew_end_config(parts["rew_end_model"]))
        rew_end = RewEndModel(cfg.rew_end, image_size=cfg.env.size).to(device)
        _load(rew_end, parts["rew_end_model"], path, "reward/termination")
    if "actor_critic" in parts:
        cfg = replace(cfg, actor_critic=infer_actor_critic_config(parts["actor_critic"]))
        actor_critic = ActorCritic(cfg.actor_critic, image_size=cfg.env.size).to(device)
        _load(actor_critic, parts["actor_critic"], path, "actor-critic")
    return PlayModels(cfg, denoiser, rew_end, actor_critic, path=str(path), kind=kind)


def download_from_hub(game: str) -> Path:
    """The authors' pretrained model of an Atari 100k game, fetched (or found in the cache) with huggingface_hub.

    huggingface_hub's own settings apply: ``HF_HUB_CACHE`` for the cache, ``HF_HUB_OFFLINE=1`` to use the
    cache only, ``HF_TOKEN``.
    """
    from diamond.envs.games import validate_atari_game

    validate_atari_game(game, where="--from-hub")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise ConfigError("--from-hub needs huggingface_hub; install it with: pip install 'diamond-wm[play]'") from exc
    filename = HUB_FILE.format(game=game)
    try:
        return Path(hf_hub_download(repo_id=HUB_REPO, filename=filename))
    except Exception as exc:  # offline with an empty cache, no network, file missing on the Hub...
        raise CheckpointError(
            f"--from-hub {game}: could not get {filename} from {HUB_REPO} "
            f"({type(exc).__name__}: {exc}); download it yourself and pass --checkpoint PATH"
        ) from exc
