"""Training the diffusion world model on stored episodes: steps, evaluation, checkpoints, resume."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diamond.checkpoints.project import load_checkpoint, require_same_config, save_checkpoint
from diamond.configs.schema import ConfigError, WorldModelRunConfig, to_dict
from diamond.data.sampler import Batch, SegmentSampler
from diamond.evaluation.prediction import held_out_contexts, one_step_metrics
from diamond.fileio import dumps, write_json_atomically
from diamond.imaging import to_model_range
from diamond.layout import WorldModelRun
from diamond.models.diffusion.denoiser import Denoiser
from diamond.progress import Progress
from diamond.training.optim import make_optimizer, optimizer_step

CHECKPOINT = WorldModelRun.CHECKPOINT


def fit_to_data(cfg: WorldModelRunConfig, metadata: dict[str, Any], where: str) -> WorldModelRunConfig:
    """Set the action count and image channels from the dataset, refusing data the model cannot read."""
    shape = metadata.get("obs_shape")
    if not shape or len(shape) != 3:
        raise ConfigError(f"{where}: the dataset's obs_shape is {shape!r}; expected [channels, height, width]")
    num_actions = metadata.get("num_actions")
    if not isinstance(num_actions, int) or num_actions < 1:
        raise ConfigError(f"{where}: the dataset records num_actions={num_actions!r}; expected a positive integer")
    net = replace(cfg.denoiser.net, img_channels=int(shape[0]), num_actions=num_actions)
    return replace(cfg, denoiser=replace(cfg.denoiser, net=net))


def require_compatible(train_meta: dict[str, Any], test_meta: dict[str, Any], train_where: str, test_where: str) -> None:
    for key in ("obs_shape", "num_actions"):
        if train_meta.get(key) != test_meta.get(key):
            raise ConfigError(f"held-out data {test_where} has {key}={test_meta.get(key)!r} but the training data "
                              f"{train_where} has {key}={train_meta.get(key)!r}; they must come from the same environment")


def to_model_batch(batch: Batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    batch = batch.to(device, non_blocking=True)
    return to_model_range(batch.obs), batch.act, batch.mask_padding


class WorldModelTraining:
    """The denoiser, its optimiser and schedule, and the counters: everything a checkpoint holds."""

    def __init__(self, cfg: WorldModelRunConfig, device: torch.device) -> None:
        self.cfg = cfg
        self.device = device
        torch.manual_seed(cfg.seed)
        self.denoiser = Denoiser(cfg.denoiser).to(device)
        self.optimizer, self.scheduler = make_optimizer(self.denoiser, cfg.training.optimizer)
        self.step = 0
        self.rng = np.random.default_rng(cfg.seed)
        self.generator = torch.Generator(device=device).manual_seed(cfg.seed)

    def train_step(self, sampler: SegmentSampler) -> dict[str, float]:
        t = self.cfg.training
        seq_length = self.cfg.denoiser.net.num_steps_conditioning + t.num_targets
        obs, act, mask = to_model_batch(sampler.sample(t.batch_size, seq_length, "end", final_obs=t.final_obs_targets), self.device)
        self.denoiser.train()
        loss = self.denoiser.loss(obs, act, mask, generator=self.generator)
        grad_norm = optimizer_step(self.denoiser, self.optimizer, self.scheduler, loss, t.optimizer.max_grad_norm)
        self.step += 1
        return {"loss": float(loss.detach()), "grad_norm": grad_norm, "lr": self.scheduler.get_last_lr()[0]}

    def state_dict(self) -> dict[str, Any]:
        return {
            "denoiser": self.denoiser.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "numpy_rng": json.dumps(self.rng.bit_generator.state),
            "torch_rng": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.denoiser.load_state_dict(state["denoiser"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        self.rng.bit_generator.state = json.loads(state["numpy_rng"])
        self.generator.set_state(state["torch_rng"])


def train_world_model(
    cfg: WorldModelRunConfig,
    train_store,
    test_store,
    run_dir: str | Path,
    device: torch.device,
    resume: bool = False,
    max_minutes: float | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``cfg.num_updates`` denoiser steps on ``train_store``, evaluating on ``test_store``.

    Writes the folder of ``diamond.layout.WorldModelRun``: the configuration, the checkpoint (atomically,
    every ``checkpoint_every`` steps and at the end), one metrics line per evaluation, TensorBoard scalars
    and the results.
    """
    run_dir = Path(run_dir)
    ckpt_path = run_dir / CHECKPOINT
    config = to_dict(cfg)
    training = WorldModelTraining(cfg, device)
    if ckpt_path.exists():
        if not resume:
            raise ConfigError(f"{run_dir} already holds a world-model checkpoint; pass --resume to continue it, "
                              "or choose another --out (nothing was changed)")
        payload = load_checkpoint(ckpt_path, map_location=device)
        require_same_config(ckpt_path, payload["config"], config)
        training.load_state_dict(payload)
        log(f"resumed from {ckpt_path} at step {training.step}")
    elif resume:
        raise ConfigError(f"--resume: {ckpt_path} does not exist; nothing to resume")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomically(run_dir / WorldModelRun.CONFIG, config)

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir / WorldModelRun.TENSORBOARD), purge_step=training.step if training.step else None)
    sampler = SegmentSampler(train_store, training.rng)
    held_out = held_out_contexts(test_store, cfg.eval_contexts, cfg.denoiser.net.num_steps_conditioning, seed=cfg.seed)
    metrics_path = run_dir / WorldModelRun.METRICS
    if metrics_path.exists():  # evaluations made after the checkpoint we resume from are repeated: drop them
        kept = [line for line in metrics_path.read_text().splitlines() if json.loads(line)["step"] <= training.step]
        metrics_path.write_text("".join(line + "\n" for line in kept))

    def evaluate() -> dict[str, float]:
        training.denoiser.eval()
        m = one_step_metrics(training.denoiser, cfg.sampler, held_out, batch_size=cfg.training.batch_size, seed=cfg.seed)
        m["step"] = training.step
        for key, value in m.items():
            if key != "step" and math.isfinite(value):
                writer.add_scalar(f"eval/{key}", value, training.step)
        with open(metrics_path, "a") as f:
            f.write(dumps(m) + "\n")
        log(f"step {training.step}: one-step PSNR {m['psnr_model']:.2f} dB (copy last frame {m['psnr_copy_last']:.2f}); "
            f"on changed pixels {m['psnr_model_changed']:.2f} dB (copy {m['psnr_copy_last_changed']:.2f})")
        return m

    def checkpoint() -> None:
        save_checkpoint(ckpt_path, config, **training.state_dict())

    last_eval = evaluate() if training.step == 0 else None
    start = time.monotonic()
    bar = Progress(cfg.num_updates, training.step, unit="update", desc="denoiser", enabled=progress, log=log,
                   time_budget_s=None if max_minutes is None else 60 * max_minutes)
    losses: list[float] = []
    stopped_early = False
    while training.step < cfg.num_updates:
        stats = training.train_step(sampler)
        losses.append(stats["loss"])
        for key, value in stats.items():
            writer.add_scalar(f"train/{key}", value, training.step)
        bar.update(1, loss=f"{np.mean(losses[-50:]):.4f}")
        if training.step % cfg.eval_every == 0 or training.step == cfg.num_updates:
            last_eval = evaluate()
        if training.step % cfg.checkpoint_every == 0:
            checkpoint()
        if max_minutes is not None and time.monotonic() - start > 60 * max_minutes and training.step < cfg.num_updates:
            log(f"time budget of {max_minutes} min reached at step {training.step}/{cfg.num_updates}")
            stopped_early = True
            break
    bar.close()
    if last_eval is None or last_eval["step"] != training.step:
        last_eval = evaluate()
    checkpoint()
    writer.close()
    results = {
        "steps": training.step,
        "stopped_early": stopped_early,
        "train_seconds": time.monotonic() - start,
        "final": last_eval,
        "history": [json.loads(line) for line in metrics_path.read_text().splitlines()],
        "checkpoint": str(ckpt_path),
    }
    write_json_atomically(run_dir / WorldModelRun.RESULTS, results)
    return results
