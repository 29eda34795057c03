"""Training the neural game engine on a static dataset (spec §10): epochs of dynamics and upsampler
updates, held-out evaluation, a checkpoint every epoch, exact resume after a kill."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diamond.checkpoints.engine import KIND
from diamond.checkpoints.project import save_checkpoint
from diamond.configs.engine import EngineConfig
from diamond.configs.schema import ConfigError, to_dict
from diamond.data.engine_data import EngineSplit
from diamond.devices import apply_compute
from diamond.evaluation.engine_evaluation import check_split, evaluate_engine
from diamond.fileio import dumps, write_json_atomically
from diamond.layout import EngineRun
from diamond.models.engine import Engine
from diamond.progress import Progress
from diamond.training.components import update_components
from diamond.training.engine_components import TRAIN, engine_components
from diamond.training.networks import placed_denoiser
from diamond.training.resume import drop_lines_after, start_or_resume


def fit_to_data(cfg: EngineConfig, split: EngineSplit, where: str) -> EngineConfig:
    """Refuse a dataset whose actions or frame sizes the engine's configuration cannot read."""
    space = cfg.dynamics.net.action_space
    if not space.accepts_same_actions(split.action_space):
        raise ConfigError(f"{where}: the dataset's actions are a {split.action_space}; the engine reads a {space}")
    low, full = split.low.metadata["obs_shape"], split.full.metadata["obs_shape"]
    if low[1] * 2 > full[1] or full[1] % low[1] or full[2] % low[2] or full[1] // low[1] != full[2] // low[2]:
        raise ConfigError(
            f"{where}: full-resolution frames {full[1]}×{full[2]} are not one integer multiple (≥ 2) of the "
            f"low-resolution frames {low[1]}×{low[2]}"
        )
    return cfg


class EngineTraining:
    """The engine, its two components and every random state: what a checkpoint holds."""

    def __init__(self, cfg: EngineConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        torch.manual_seed(cfg.seed)
        self.engine = Engine(cfg)
        for part in (self.engine.dynamics, self.engine.upsampler):
            placed_denoiser(part, device, cfg.compute)
        self.rng = np.random.default_rng(cfg.seed)
        self.generators = {
            name: torch.Generator(device=device).manual_seed(cfg.seed + i)
            for i, name in enumerate(("dynamics", "upsampler"))
        }
        self.components = engine_components(
            self.engine,
            cfg.dynamics_training,
            cfg.upsampler_training,
            self.rng,
            self.generators,
            device,
            cfg.compute.precision,
        )
        self.epoch = 0

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"kind": KIND, "epoch": self.epoch, "generator_device": self.device.type}
        for c in self.components:
            state.update(c.state_dict())
            state[f"{c.name}_updates"] = c.updates
            state[f"gen_{c.name}"] = c.generator.get_state()
        state["numpy_rng"] = json.dumps(self.rng.bit_generator.state)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for c in self.components:
            c.load_state_dict(state)
            c.updates = int(state[f"{c.name}_updates"])
            c.generator.set_state(state[f"gen_{c.name}"].cpu())  # generator states are CPU tensors
        self.rng.bit_generator.state = json.loads(state["numpy_rng"])
        self.epoch = int(state["epoch"])


def train_engine(
    cfg: EngineConfig,
    dataset: str | Path,
    run_dir: str | Path,
    device: torch.device,
    resume: bool = False,
    max_minutes: float | None = None,
    setting: str = "higher_quality",
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``cfg.num_epochs`` epochs on ``dataset``'s train split; evaluate on its test split every
    ``cfg.eval_every`` epochs and at the end. ``max_minutes`` stops after the epoch that exceeds it
    (the checkpoint then resumes where it stopped). Writes the files of ``layout.EngineRun``."""
    run_dir = Path(run_dir)
    train, test = EngineSplit(dataset, "train"), EngineSplit(dataset, "test")
    cfg = fit_to_data(cfg, train, f"dataset {dataset}")
    config = to_dict(cfg)
    apply_compute(cfg.compute)  # before the first CUDA operation
    training = EngineTraining(cfg, device)
    check_split(test, training.engine, cfg)  # before an epoch of training, not after it
    payload = start_or_resume(
        run_dir, EngineRun.CHECKPOINT, EngineRun.CONFIG, config, EngineConfig, resume, device, "an engine"
    )
    if payload is not None:
        training.load_state_dict(payload)
        log(f"resumed from {run_dir / EngineRun.CHECKPOINT} at epoch {training.epoch}")
    drop_lines_after(run_dir / EngineRun.METRICS, "epoch", training.epoch)  # epochs after it are repeated
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir / EngineRun.TENSORBOARD), purge_step=training.epoch or None)
    metrics_path = run_dir / EngineRun.METRICS

    def evaluate() -> dict[str, Any]:
        out = run_dir / EngineRun.evaluation(training.epoch)
        training.engine.eval()
        result = evaluate_engine(training.engine, test, out, cfg, setting=setting, seed=cfg.seed)
        log(f"epoch {training.epoch}: {summary_line(result)}")
        return result

    start = time.monotonic()
    bar = Progress(cfg.num_epochs, training.epoch, unit="epoch", desc="engine", enabled=progress, log=log)
    stopped_early, last_eval = False, None
    while training.epoch < cfg.num_epochs:
        updates = {c.name: c.updates_in(training.epoch) for c in training.components}
        times, logged = update_components(training.components, updates, {TRAIN: lambda: train}, time.monotonic)
        training.epoch += 1
        line = {"epoch": training.epoch, **logged, **{f"time/{k}_s": v for k, v in times.items()}}
        for key, value in line.items():
            if key != "epoch":
                writer.add_scalar(key, value, training.epoch)
        if training.epoch % cfg.eval_every == 0 and training.epoch < cfg.num_epochs:
            last_eval = evaluate()
            line["eval"] = headline(last_eval)
        with open(metrics_path, "a") as f:
            f.write(dumps(line) + "\n")
        save_checkpoint(run_dir / EngineRun.CHECKPOINT, config, **training.state_dict())
        bar.update(
            1, **{c.name: f"{logged.get(f'train/{c.name}_loss', float('nan')):.4f}" for c in training.components}
        )
        if max_minutes is not None and time.monotonic() - start > 60 * max_minutes and training.epoch < cfg.num_epochs:
            log(f"time budget of {max_minutes} min reached after epoch {training.epoch}/{cfg.num_epochs}")
            stopped_early = True
            break
    bar.close()
    train_seconds = time.monotonic() - start
    last_eval = evaluate()
    writer.close()
    results = {
        "epochs": training.epoch,
        "updates": {c.name: c.updates for c in training.components},
        "stopped_early": stopped_early,
        "train_seconds_this_run": train_seconds,
        "evaluation": last_eval,
        "evaluation_dir": str(run_dir / EngineRun.evaluation(training.epoch)),
        "checkpoint": str(run_dir / EngineRun.CHECKPOINT),
    }
    write_json_atomically(run_dir / EngineRun.RESULTS, results)
    return results


def headline(result: dict[str, Any]) -> dict[str, float]:
    """The evaluation's key numbers, for the metrics line: PSNRs, mean shifts and the panning verdict."""

    def kept(name: str) -> bool:
        return (
            name.startswith(("psnr", "mean_psnr")) or name.endswith("_shift") or name == "pans_in_commanded_direction"
        )

    return {
        f"{part}/{name}": value
        for part in ("one_step", "upsampler", "rollouts", "action_sensitivity")
        for name, value in result.get(part, {}).items()
        if kept(name) and isinstance(value, int | float)
    }


def summary_line(result: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in headline(result).items())
