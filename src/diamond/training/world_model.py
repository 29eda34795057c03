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

from diamond.checkpoints.project import save_checkpoint
from diamond.configs.schema import ConfigError, WorldModelRunConfig, to_dict
from diamond.data.sampler import SegmentSampler
from diamond.data.store import action_space_of
from diamond.devices import apply_compute
from diamond.evaluation.prediction import held_out_contexts, one_step_metrics
from diamond.fileio import dumps, write_json_atomically
from diamond.layout import WorldModelRun
from diamond.models.diffusion.formulations import NextFrameDenoiser
from diamond.progress import Progress
from diamond.training.components import component_stats
from diamond.training.distributed import DistInfo
from diamond.training.networks import denoiser_component
from diamond.training.resume import drop_lines_after, start_or_resume

CHECKPOINT = WorldModelRun.CHECKPOINT


def fit_to_data(cfg: WorldModelRunConfig, metadata: dict[str, Any], where: str) -> WorldModelRunConfig:
    """Set the action count and image channels from the dataset, refusing data the model cannot read."""
    shape = metadata.get("obs_shape")
    if not shape or len(shape) != 3:
        raise ConfigError(f"{where}: the dataset's obs_shape is {shape!r}; expected [channels, height, width]")
    space = action_space_of(metadata, where)
    if space is None:
        raise ConfigError(
            f"{where}: the dataset records no action space (no action_space or num_actions in its metadata)"
        )
    net = replace(cfg.denoiser.net, img_channels=int(shape[0]), action_space=space)
    return replace(cfg, denoiser=replace(cfg.denoiser, net=net))


def require_compatible(
    train_meta: dict[str, Any], test_meta: dict[str, Any], train_where: str, test_where: str
) -> None:
    train = {"obs_shape": train_meta.get("obs_shape"), "action space": action_space_of(train_meta, train_where)}
    test = {"obs_shape": test_meta.get("obs_shape"), "action space": action_space_of(test_meta, test_where)}
    for key in train:
        if train[key] != test[key]:
            raise ConfigError(
                f"held-out data {test_where} has {key} {test[key]} but the training data {train_where} has "
                f"{key} {train[key]}; they must come from the same environment"
            )


class WorldModelTraining:
    """The denoiser as a component (the same update as in ``diamond train``), its RNGs: what a checkpoint holds."""

    def __init__(self, cfg: WorldModelRunConfig, device: torch.device) -> None:
        self.cfg = cfg
        self.device = device
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.generator = torch.Generator(device=device).manual_seed(cfg.seed)
        # one "epoch" of num_updates updates: this run has no collection between them
        self.component = denoiser_component(
            cfg.denoiser,
            cfg.training,
            lambda epoch: cfg.num_updates,
            device,
            DistInfo(),
            self.generator,
            where="training",
            compute=cfg.compute,
        )

    @property
    def denoiser(self) -> NextFrameDenoiser:
        return self.component.module

    @property
    def step(self) -> int:
        return self.component.updates

    def state_dict(self) -> dict[str, Any]:  # the layout of world_model.pt files (load_denoiser reads "denoiser")
        return {
            "denoiser": self.denoiser.state_dict(),
            "optimizer": self.component.optimizer.state_dict(),
            "scheduler": self.component.scheduler.state_dict(),
            "step": self.step,
            "numpy_rng": json.dumps(self.rng.bit_generator.state),
            "torch_rng": self.generator.get_state(),
            "generator_device": self.device.type,
            **({"scaler": self.component.loss_scaler.state_dict()} if self.component.loss_scaler is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.denoiser.load_state_dict(state["denoiser"])
        self.component.optimizer.load_state_dict(state["optimizer"])
        self.component.scheduler.load_state_dict(state["scheduler"])
        if self.component.loss_scaler is not None:
            self.component.loss_scaler.load_state_dict(state["scaler"])
        self.component.updates = int(state["step"])
        self.rng.bit_generator.state = json.loads(state["numpy_rng"])
        self.generator.set_state(state["torch_rng"].cpu())  # generator states are CPU tensors


def _start_or_resume(
    training: WorldModelTraining, run_dir: Path, config: dict[str, Any], resume: bool, log: Callable[[str], None]
) -> None:
    """Load the checkpoint to resume (refusing another configuration), or refuse to overwrite one."""
    payload = start_or_resume(
        run_dir, CHECKPOINT, WorldModelRun.CONFIG, config, WorldModelRunConfig, resume, training.device, "a world-model"
    )
    if payload is not None:
        training.load_state_dict(payload)
        log(f"resumed from {run_dir / CHECKPOINT} at step {training.step}")
    drop_lines_after(run_dir / WorldModelRun.METRICS, "step", training.step)  # evaluations made after it


def _evaluate(
    training: WorldModelTraining, held_out, writer, metrics_path: Path, log: Callable[[str], None]
) -> dict[str, float]:
    """One-step prediction on the held-out contexts: TensorBoard, a metrics line and a line of output."""
    cfg = training.cfg
    training.denoiser.eval()
    m = one_step_metrics(training.denoiser, cfg.sampler, held_out, batch_size=cfg.training.batch_size, seed=cfg.seed)
    m["step"] = training.step
    for key, value in m.items():
        if key != "step" and math.isfinite(value):
            writer.add_scalar(f"eval/{key}", value, training.step)
    with open(metrics_path, "a") as f:
        f.write(dumps(m) + "\n")
    log(
        f"step {training.step}: one-step PSNR {m['psnr_model']:.2f} dB (copy last frame {m['psnr_copy_last']:.2f}); "
        f"on changed pixels {m['psnr_model_changed']:.2f} dB (copy {m['psnr_copy_last_changed']:.2f})"
    )
    return m


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

    Writes ``run_dir/config.json``, ``run_dir/checkpoints/world_model.pt`` (atomically, every
    ``checkpoint_every`` steps and at the end), ``run_dir/metrics.jsonl`` (one line per evaluation),
    TensorBoard scalars in ``run_dir/tensorboard`` and ``run_dir/world_model_results.json``.
    """
    run_dir = Path(run_dir)
    ckpt_path = run_dir / CHECKPOINT
    config = to_dict(cfg)
    apply_compute(cfg.compute)  # before the first CUDA operation
    training = WorldModelTraining(cfg, device)
    _start_or_resume(training, run_dir, config, resume, log)

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(
        str(run_dir / WorldModelRun.TENSORBOARD), purge_step=training.step if training.step else None
    )
    sampler = SegmentSampler(train_store, training.rng)
    held_out = held_out_contexts(test_store, cfg.eval_contexts, cfg.denoiser.net.num_steps_conditioning, seed=cfg.seed)
    metrics_path = run_dir / WorldModelRun.METRICS
    evaluate = lambda: _evaluate(training, held_out, writer, metrics_path, log)  # noqa: E731

    def checkpoint() -> None:
        save_checkpoint(ckpt_path, config, **training.state_dict())

    last_eval = evaluate() if training.step == 0 else None
    start = time.monotonic()
    bar = Progress(
        cfg.num_updates,
        training.step,
        unit="update",
        desc="denoiser",
        enabled=progress,
        log=log,
        time_budget_s=None if max_minutes is None else 60 * max_minutes,
    )
    losses: list[float] = []
    stopped_early = False
    while training.step < cfg.num_updates:
        stats = training.component.update(sampler)
        losses.append(float(stats["loss"]))  # this command logs every update
        logged = {**component_stats(training.component.name, [stats]), "train/denoiser_lr": training.component.lr}
        for key, value in logged.items():
            writer.add_scalar(key, value, training.step)
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
