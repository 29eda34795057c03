"""``diamond train``: Algorithm 1 end to end (spec §1), checkpointed at the end of every epoch.

Each epoch: collect real steps (the first epoch does the initial collection), train the denoiser, the
reward/termination model and the actor-critic (in imagination, or on real rollouts with
``model_free``), evaluate every ``eval_every`` epochs, then write the whole state atomically. A run
killed at any point resumes from its last completed epoch: episodes stored after that checkpoint are
rolled back (the resumed epoch collects them again), and the envs continue from their saved snapshots.

Under torchrun, rank 0 runs this loop and tells the other processes each epoch's plan; they make the
same updates on their shards of each batch (``follower.follow``) and hand their random state back for
the checkpoint.

This module sets a run up and loops; ``run_state`` holds the folder, checkpoint and metrics file,
``epoch`` the epoch's steps, ``experience`` the model-based and model-free sources of experience, and
``report`` the final test and results.json.

Run folder::

    config.json  protocol.json        resolved configuration; the environment protocol
    data/train/                       the replay data (episode store)
    checkpoints/agent.pt              the full state, rewritten atomically each epoch
    agents/epoch_NNNNN.pt             actor-critic snapshots at each evaluation
    metrics.jsonl  tensorboard/       one line per epoch; TensorBoard scalars
    results.json  learning_curve.png  final test returns (and a random policy's), returns over training
    videos/real_game.mp4  videos/imagination.mp4
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import torch

from diamond.checkpoints.trees import from_tensor_tree
from diamond.configs.schema import ConfigError, TrainConfig, to_dict
from diamond.data.datasets import open_or_create_store, store_metadata
from diamond.devices import apply_compute
from diamond.envs.families import make_run_env as make_env
from diamond.fileio import write_json_atomically
from diamond.layout import AgentRun
from diamond.rl.envs import RealTensorEnv
from diamond.rl.policy import RecurrentPolicy
from diamond.training import distributed, follower
from diamond.training.agent import AgentTraining, fit_to_env
from diamond.training.collector import Collector
from diamond.training.epoch import run_epoch
from diamond.training.experience import RealRollouts, ReplayAndImagination
from diamond.training.report import final_report
from diamond.training.run_state import (
    CHECKPOINT,
    RESULTS,
    Run,
    RunState,
    check_run_folder,
    check_world_size,
    load_state,
    trim_metrics,
)

__all__ = ["CHECKPOINT", "make_env", "train"]
MODEL_FREE_SEED_OFFSET = 20_000


def train(
    cfg: TrainConfig,
    run_dir: str | Path,
    device: torch.device,
    resume: bool = False,
    allow_config_change: bool = False,
    log: Callable[[str], None] = print,
    stop_after_epochs: int | None = None,
) -> dict[str, Any]:
    """Run (or resume) DIAMOND training in ``run_dir``; returns the results (also in results.json)."""
    run_dir = Path(run_dir)
    apply_compute(cfg.compute)  # before the first CUDA operation
    info = distributed.env_info()
    if info.enabled:
        if cfg.model_free:
            raise ConfigError("model_free runs use one process; launch them without torchrun")
        if device.type == "cuda":
            device = torch.device("cuda", info.local_rank)
        distributed.init(info, device)
    if info.is_main:
        result = _train_main(cfg, run_dir, device, info, resume, allow_config_change, log, stop_after_epochs)
    else:
        result = follower.follow(cfg, run_dir, device, info, resume, make_env)
    # the run and its DDP wrappers are gone by now (they hold the process group); a follower waits here
    # for rank 0's final report
    distributed.finish(info)
    return result


def _train_main(
    cfg: TrainConfig,
    run_dir: Path,
    device: torch.device,
    info: distributed.DistInfo,
    resume: bool,
    allow_config_change: bool,
    log: Callable[[str], None],
    stop_after_epochs: int | None,
) -> dict[str, Any]:
    """The process that collects, evaluates and writes the run (the only one without torchrun)."""
    resume = check_run_folder(run_dir, resume, log)
    run = open_run(cfg, run_dir, device, info, resume, allow_config_change, log)
    try:
        return _run_epochs(run, info, stop_after_epochs)
    finally:
        run.close()


def _run_epochs(run: Run, info: distributed.DistInfo, stop_after_epochs: int | None) -> dict[str, Any]:
    """Epochs until the schedule is done (then the final report) or ``stop_after_epochs`` more have run."""
    start_epoch = run.state.epoch
    while not run.state.training_done:
        if stop_after_epochs is not None and run.state.epoch - start_epoch >= stop_after_epochs:
            follower.broadcast(info, {"stop": True})
            return {
                "stopped_after_epochs": stop_after_epochs,
                "epoch": run.state.epoch,
                "agent_steps": run.state.agent_steps,
            }
        run_epoch(run)
    follower.broadcast(info, {"stop": True})
    return final_report(run)


def open_run(
    cfg: TrainConfig,
    run_dir: Path,
    device: torch.device,
    info: distributed.DistInfo,
    resume: bool,
    allow_config_change: bool,
    log: Callable[[str], None],
) -> Run:
    """The run's envs, replay store, networks and state: new, or as its last checkpoint left them."""
    with ExitStack() as undo:  # on an error, close what is already open (a store keeps its writer lock)
        run = _open_run(cfg, run_dir, device, info, resume, allow_config_change, log, undo)
        undo.pop_all()  # the run holds them now
    _continue_under_new_schedule(run)
    return run


def _open_run(
    cfg: TrainConfig,
    run_dir: Path,
    device: torch.device,
    info: distributed.DistInfo,
    resume: bool,
    allow_config_change: bool,
    log: Callable[[str], None],
    undo: ExitStack,
) -> Run:
    ckpt = run_dir / CHECKPOINT
    train_env = make_env(cfg, "train", cfg.env.num_envs, cfg.seed)
    undo.callback(train_env.close)
    cfg = fit_to_env(cfg, train_env.action_space, int(train_env.observation_shape[0]))
    cfg.validate("config")
    config = to_dict(cfg)
    payload = load_state(ckpt, config, allow_config_change, device, log) if resume else None

    metadata = store_metadata(train_env.protocol())
    store = open_or_create_store(run_dir / AgentRun.TRAIN_DATA, metadata)
    undo.callback(store.close)
    agent = AgentTraining(cfg, device, info)
    policy = RecurrentPolicy(agent.actor_critic, train_env.num_envs, seed=cfg.seed + 3)
    collector = Collector(train_env, store, policy, epsilon=cfg.schedule.epsilon, seed=cfg.seed + 4)
    state = RunState()
    if payload is not None:
        check_world_size(ckpt, payload, info)
        agent.load_state_dict(payload["agent"])
        policy.load_state_dict(payload["policy"])
        collector.load_state_dict(from_tensor_tree(payload["collector"]))
        state = RunState(**payload["run"])
        dropped = store.roll_back(int(payload["num_episodes"]))
        log(
            f"resumed {run_dir} after epoch {state.epoch} ({state.agent_steps:,} agent steps); "
            f"{dropped} episode(s) stored after that checkpoint were rolled back and will be collected again"
        )
    elif len(store) > 0:
        raise ConfigError(
            f"{store.root} already holds {len(store)} episodes but there is no checkpoint to resume; "
            "choose another --out (nothing was changed)"
        )
    trim_metrics(run_dir, state.epoch)  # lines written after the checkpoint: their epochs run again
    write_json_atomically(run_dir / AgentRun.CONFIG, config)
    write_json_atomically(run_dir / AgentRun.PROTOCOL, metadata)

    from torch.utils.tensorboard import SummaryWriter

    # scalars are logged against agent steps: drop those of the epochs after the checkpoint
    writer = SummaryWriter(
        str(run_dir / AgentRun.TENSORBOARD), purge_step=state.agent_steps + 1 if state.epoch else None
    )
    undo.callback(writer.close)
    if cfg.model_free:
        im = cfg.actor_critic_training.imagination
        env = RealTensorEnv(make_env(cfg, "train", im.batch_size, cfg.seed + MODEL_FREE_SEED_OFFSET), device)
        experience: Any = RealRollouts(cfg, agent, env)
    else:
        experience = ReplayAndImagination(cfg, agent, collector, store)
    return Run(
        cfg, run_dir, config, device, info, agent, policy, collector, store, state, experience, writer, make_env, log
    )


def _continue_under_new_schedule(run: Run) -> None:
    """Whether training is done follows from the (possibly changed) schedule: a finished run given a larger
    budget trains on, and its old results.json goes until the new one is written."""
    state = run.state
    was_done = state.training_done
    state.training_done = state.epoch > 0 and run.experience.finished(state)
    if was_done and not state.training_done:
        run.log(
            f"the run finished at {state.agent_steps:,} agent steps; it trains on to the schedule's "
            f"{run.cfg.schedule.total_steps:,}"
        )
    if not state.training_done and (run.run_dir / RESULTS).exists():
        (run.run_dir / RESULTS).unlink()
