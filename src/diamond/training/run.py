"""``diamond train``: Algorithm 1 end to end (spec §1), checkpointed at the end of every epoch.

Each epoch: collect real steps (the first epoch does the initial collection), train the denoiser, the
reward/termination model and the actor-critic (in imagination, or on real rollouts with
``model_free``), evaluate every ``eval_every`` epochs, then write the whole state atomically. A run
killed at any point resumes from its last completed epoch: episodes stored after that checkpoint are
rolled back (the resumed epoch collects them again), and the envs continue from their saved snapshots.

Under torchrun, rank 0 runs this loop and tells the other processes each epoch's plan; they make the
same updates on their shards of each batch (``_follow``) and hand their random state back for the
checkpoint.

Run folder (named in ``diamond.layout.AgentRun``)::

    config.json  protocol.json        resolved configuration; the environment protocol
    data/train/                       the replay data (episode store)
    checkpoints/agent.pt              the full state, rewritten atomically each epoch
    agents/epoch_NNNNN.pt             actor-critic snapshots at each evaluation
    metrics.jsonl  tensorboard/       one line per epoch; TensorBoard scalars
    results.json  learning_curve.png  final test returns (and a random policy's), returns over training
    videos/real_game.mp4  videos/imagination.mp4
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diamond.checkpoints.files import CheckpointError
from diamond.checkpoints.project import load_checkpoint, require_same_config, save_checkpoint
from diamond.checkpoints.trees import from_tensor_tree, to_tensor_tree
from diamond.configs.schema import ConfigError, TrainConfig, to_dict
from diamond.data.sampler import SegmentSampler
from diamond.envs.families import make_run_env as make_env
from diamond.fileio import dumps, write_json_atomically
from diamond.imaging import to_model_range
from diamond.layout import AgentRun
from diamond.rl.envs import RealTensorEnv
from diamond.rl.policy import RecurrentPolicy
from diamond.training import distributed
from diamond.training.agent import AgentTraining, fit_to_env
from diamond.training.collector import Collector, RandomPolicy
from diamond.training.schedule import (
    EpochPlan,
    initial_collection_done,
    plan_epoch,
    regular_epoch_seconds,
    run_finished,
)
from diamond.training.test_episodes import TestResult, mean_ci95, run_test_episodes

CHECKPOINT = AgentRun.CHECKPOINT
TEST_SEED_OFFSET = 10_000
MODEL_FREE_SEED_OFFSET = 20_000
PHASES = ("collect", "denoiser", "rew_end", "actor_critic", "evaluation")


@dataclass
class RunState:
    """Counters of the loop (the models' state is in AgentTraining)."""

    epoch: int = 0
    agent_steps: int = 0
    initial_steps: int = 0
    epochs_without_collection: int = 0
    training_done: bool = False
    test_history: list[dict[str, Any]] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)


def _check_writable(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write_probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"run folder {run_dir} cannot be written ({exc.strerror or exc}); choose another --out") from exc


def _load_state(ckpt: Path, config: dict[str, Any], allow_config_change: bool, device: torch.device,
                log: Callable[[str], None]) -> dict[str, Any]:
    payload = load_checkpoint(ckpt, map_location=device)
    for key in ("agent", "run", "collector", "policy", "num_episodes"):
        if key not in payload:
            raise CheckpointError(f"{ckpt} is not an agent checkpoint of `diamond train` (no {key!r} entry)")
    try:
        require_same_config(ckpt, payload["config"], config)
    except CheckpointError as exc:
        if not allow_config_change:
            raise CheckpointError(f"{exc}\npass --allow-config-change to resume with the new values anyway") from exc
        log(f"resuming with a changed configuration (--allow-config-change):\n{exc}")
    return payload


def train(cfg: TrainConfig, run_dir: str | Path, device: torch.device, resume: bool = False,
          allow_config_change: bool = False, log: Callable[[str], None] = print,
          stop_after_epochs: int | None = None) -> dict[str, Any]:
    """Run (or resume) DIAMOND training in ``run_dir``; returns the results (also in results.json)."""
    run_dir = Path(run_dir)
    ckpt = run_dir / CHECKPOINT
    info = distributed.env_info()
    if info.enabled:
        if cfg.model_free:
            raise ConfigError("model_free runs use one process; launch them without torchrun")
        if device.type == "cuda":
            device = torch.device("cuda", info.local_rank)
        distributed.init(info, device)
        if not info.is_main:
            return _follow(cfg, run_dir, device, info, resume)
    if resume and not ckpt.exists():
        what = "does not exist" if not run_dir.exists() else f"holds no checkpoint {CHECKPOINT}"
        raise ConfigError(f"--resume {run_dir}: the run folder {what}; nothing to resume")
    if not resume and ckpt.exists():
        raise ConfigError(f"{run_dir} already holds a run ({CHECKPOINT}); pass --resume to continue it or choose "
                          "another --out (nothing was changed)")
    _check_writable(run_dir)
    sched = cfg.schedule

    train_env = make_env(cfg, "train", cfg.env.num_envs, cfg.seed)
    cfg = fit_to_env(cfg, train_env.num_actions, int(train_env.observation_shape[0]))
    cfg.validate("config")
    config = to_dict(cfg)
    payload = _load_state(ckpt, config, allow_config_change, device, log) if resume else None

    from diamond.data.datasets import open_or_create_store, store_metadata

    metadata = store_metadata(train_env.protocol())
    store = open_or_create_store(run_dir / AgentRun.TRAIN_DATA, metadata)
    agent = AgentTraining(cfg, device, info)
    policy = RecurrentPolicy(agent.actor_critic, train_env.num_envs, seed=cfg.seed + 3)
    collector = Collector(train_env, store, policy, epsilon=sched.epsilon, seed=cfg.seed + 4)
    state = RunState()
    if payload is not None:
        _check_world_size(ckpt, payload, info)
        agent.load_state_dict(payload["agent"])
        policy.load_state_dict(payload["policy"])
        collector.load_state_dict(from_tensor_tree(payload["collector"]))
        state = RunState(**payload["run"])
        dropped = store.roll_back(int(payload["num_episodes"]))
        log(f"resumed {run_dir} after epoch {state.epoch} ({state.agent_steps:,} agent steps); "
            f"{dropped} episode(s) stored after that checkpoint were rolled back and will be collected again")
    elif len(store) > 0:
        raise ConfigError(f"{store.root} already holds {len(store)} episodes but there is no checkpoint to resume; "
                          "choose another --out (nothing was changed)")
    write_json_atomically(run_dir / AgentRun.CONFIG, config)
    write_json_atomically(run_dir / AgentRun.PROTOCOL, metadata)

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir / AgentRun.TENSORBOARD), purge_step=state.epoch + 1 if state.epoch else None)
    sampler = SegmentSampler(store, agent.rng)
    model_free_env = None
    runner = None
    if cfg.model_free:
        im = cfg.actor_critic_training.imagination
        model_free_env = RealTensorEnv(make_env(cfg, "train", im.batch_size, cfg.seed + MODEL_FREE_SEED_OFFSET), device)
        runner = agent.rollout_runner(model_free_env)

    def checkpoint(follower_rngs: list[Any]) -> None:
        save_checkpoint(ckpt, config, agent=agent.state_dict(), run=asdict(state), policy=policy.state_dict(),
                        collector=to_tensor_tree(collector.state_dict()), num_episodes=len(store),
                        world_size=info.world_size, follower_rngs=follower_rngs)

    def test(num_episodes: int, seed: int) -> TestResult:
        env = make_env(cfg, "test", min(num_episodes, 16), seed)
        try:
            test_policy = RecurrentPolicy(agent.actor_critic, env.num_envs, seed=seed)
            return run_test_episodes(env, test_policy, num_episodes, seed=seed, max_steps=sched.test_env_max_steps)
        finally:
            env.close()

    def test_losses(result: TestResult) -> dict[str, float]:
        if cfg.model_free:
            return {}
        test_sampler = SegmentSampler(result.episodes, np.random.default_rng(cfg.seed))
        with torch.no_grad():
            agent.denoiser.eval()
            agent.rew_end.eval()
            k = cfg.denoiser.net.num_steps_conditioning + cfg.denoiser_training.num_targets
            b = test_sampler.sample(cfg.denoiser_training.batch_size, k, "end",
                                    final_obs=cfg.denoiser_training.final_obs_targets).to(device)

            den = agent.denoiser.loss(to_model_range(b.obs), b.act, b.mask_padding,
                                      generator=torch.Generator(device=device).manual_seed(cfg.seed))
            _, rew_end = agent.rew_end_loss(test_sampler)
        return {"test/denoiser_loss": float(den), **{f"test/rew_end_{k}": v for k, v in rew_end.items()}}

    remaining_epochs = lambda: (  # noqa: E731 - an estimate for the ETA
        math.ceil(max(0, sched.total_steps - max(state.agent_steps, sched.initial_steps)) / sched.steps_per_epoch)
        + max(0, sched.extra_epochs - state.epochs_without_collection))
    start_epoch = state.epoch
    while not state.training_done:
        if stop_after_epochs is not None and state.epoch - start_epoch >= stop_after_epochs:
            _broadcast(info, {"stop": True})
            writer.close()
            return {"stopped_after_epochs": stop_after_epochs, "epoch": state.epoch, "agent_steps": state.agent_steps}
        state.epoch += 1
        plan = plan_epoch(state.epoch, state.agent_steps, sched)
        times = dict.fromkeys(PHASES, 0.0)
        stats: dict[str, float] = {}
        t = time.monotonic()
        collected = 0
        if cfg.model_free:
            pass  # the actor-critic's own rollouts are the experience; counted below
        elif state.epoch == 1:
            collected += collector.collect(sched.initial_steps).steps
            while not initial_collection_done(collected, _all_rewards(store, collector), sched):
                collected += collector.collect(sched.initial_extension).steps
            state.initial_steps = collected
            if len(store) == 0:
                raise ConfigError(
                    f"no {cfg.env.game} episode ended within the initial collection of {collected} agent steps, so the "
                    "world model has nothing to learn from; raise schedule.initial_steps (and initial_steps_max)")
        elif plan.collect_steps > 0:
            collected += collector.collect(plan.collect_steps).steps
        state.agent_steps += collected
        times["collect"] = time.monotonic() - t
        _broadcast(info, {"stop": False, "plan": asdict(plan)})  # the other processes update with us

        if not cfg.model_free:
            t = time.monotonic()
            losses = [agent.train_denoiser(sampler)["loss"] for _ in range(plan.denoiser_updates)]
            times["denoiser"] = time.monotonic() - t
            t = time.monotonic()
            rew_end = [agent.train_rew_end(sampler) for _ in range(plan.rew_end_updates)]
            times["rew_end"] = time.monotonic() - t
            if losses:
                stats["train/denoiser_loss"] = float(np.mean(losses))
            if rew_end:
                stats.update({f"train/rew_end_{k}": float(np.mean([s[k] for s in rew_end])) for k in rew_end[0]})
            runner = agent.rollout_runner(agent.world_model_env(sampler))

        t = time.monotonic()
        ac_updates = plan.actor_critic_updates
        if cfg.model_free:
            im = cfg.actor_critic_training.imagination
            per_update = im.batch_size * im.horizon
            left = max(0, sched.total_steps - state.agent_steps)
            ac_updates = min(ac_updates, left // per_update)
            state.agent_steps += ac_updates * per_update
            collected = ac_updates * per_update
        assert runner is not None
        ac = [agent.train_actor_critic(runner) for _ in range(ac_updates)]
        times["actor_critic"] = time.monotonic() - t
        if ac:
            stats.update({f"train/actor_critic_{k}": float(np.mean([s[k] for s in ac])) for k in ac[0]})
            im = cfg.actor_critic_training.imagination
            stats["imagined_frames_per_s"] = ac_updates * im.batch_size * im.horizon / max(times["actor_critic"], 1e-9)
        follower_rngs = _gather(info, None)
        if collected == 0:
            state.epochs_without_collection += 1

        if plan.evaluate:
            t = time.monotonic()
            result = test(sched.eval_episodes, cfg.seed + TEST_SEED_OFFSET + state.epoch)
            stats.update(test_losses(result))
            stats["test/return"] = result.mean
            state.test_history.append({"epoch": state.epoch, "agent_steps": state.agent_steps, "returns": result.returns})
            save_checkpoint(run_dir / AgentRun.snapshot(state.epoch), config,
                            actor_critic=agent.actor_critic.state_dict(), epoch=state.epoch, agent_steps=state.agent_steps)
            times["evaluation"] = time.monotonic() - t

        total = sum(times.values())
        state.epoch_seconds.append(total)
        stats.update({f"time/{k}": v for k, v in times.items()})
        for key, value in stats.items():
            writer.add_scalar(key, value, state.agent_steps)
        with open(run_dir / AgentRun.METRICS, "a") as f:
            f.write(dumps({"epoch": state.epoch, "agent_steps": state.agent_steps, **stats}) + "\n")
        if cfg.model_free:
            state.training_done = state.agent_steps >= sched.total_steps or ac_updates == 0
        else:
            state.training_done = run_finished(state.epoch, state.agent_steps, state.epochs_without_collection, sched)
        if state.epoch == 1:  # the first epoch's update counts differ: scale its per-update times instead
            recent = [regular_epoch_seconds(times, plan, collected, sched)]
        else:
            recent = state.epoch_seconds[1:][-10:] or state.epoch_seconds[-1:]
        eta = np.mean(recent) * remaining_epochs() if not state.training_done else 0.0
        log(_epoch_line(state, sched.total_steps, times, stats, eta))
        checkpoint(follower_rngs)
    _broadcast(info, {"stop": True})
    writer.close()
    return finish(cfg, run_dir, agent, state, test, log, store)


# -- data-parallel runs (torchrun): rank 0 runs the loop above, the other processes follow it ------------


def _broadcast(info: distributed.DistInfo, message: dict[str, Any] | None) -> dict[str, Any]:
    """Rank 0's message to every process (a no-op with one process)."""
    if not info.enabled:
        return message or {}
    box = [message]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def _gather(info: distributed.DistInfo, item: Any) -> list[Any]:
    """Every process's item, at rank 0 (rank 0's own is dropped): the followers' RNG states."""
    if not info.enabled:
        return []
    out = [None] * info.world_size if info.is_main else None
    torch.distributed.gather_object(item, out, dst=0)
    return list(out[1:]) if out is not None else []


def _check_world_size(ckpt: Path, payload: dict[str, Any], info: distributed.DistInfo) -> None:
    saved = int(payload.get("world_size", 1))
    if saved != info.world_size:
        raise CheckpointError(f"{ckpt} was written by a run of {saved} process(es); resume it with the same number "
                              f"(torchrun --nproc-per-node {saved}), not {info.world_size}")


def _follow(cfg: TrainConfig, run_dir: Path, device: torch.device, info: distributed.DistInfo,
            resume: bool) -> dict[str, Any]:
    """A process of rank > 0: the same model updates as rank 0 on its own shard of every batch, sampled
    from a read-only view of the replay data that rank 0 collects; no collection, evaluation or output."""
    env = make_env(cfg, "train", 1, cfg.seed)
    cfg = fit_to_env(cfg, env.num_actions, int(env.observation_shape[0]))
    env.close()
    agent = AgentTraining(cfg, device, info)
    if resume:
        payload = load_checkpoint(run_dir / CHECKPOINT, map_location=device)
        _check_world_size(run_dir / CHECKPOINT, payload, info)
        agent.load_state_dict(payload["agent"])
        agent.load_rng_state(payload["follower_rngs"][info.rank - 1])
    from diamond.data import EpisodeStore

    store = sampler = None
    while not (message := _broadcast(info, None))["stop"]:
        plan = EpochPlan(**message["plan"])
        if store is None:
            store = EpisodeStore.open(run_dir / AgentRun.TRAIN_DATA, read_only=True)
            sampler = SegmentSampler(store, agent.rng, static=False)
        store.refresh()
        for _ in range(plan.denoiser_updates):
            agent.train_denoiser(sampler)
        for _ in range(plan.rew_end_updates):
            agent.train_rew_end(sampler)
        runner = agent.rollout_runner(agent.world_model_env(sampler))
        for _ in range(plan.actor_critic_updates):
            agent.train_actor_critic(runner)
        _gather(info, agent.rng_state())
    return {"rank": info.rank}


def _all_rewards(store, collector: Collector) -> np.ndarray:
    stored = [store.get(i).rew for i in range(len(store))]
    return np.concatenate([*stored, collector.running_rewards()]) if stored else collector.running_rewards()


def _fmt_time(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"


def _epoch_line(state: RunState, total_steps: int, times: dict[str, float], stats: dict[str, float], eta: float) -> str:
    split = " ".join(f"{k} {v:.1f}s" for k, v in times.items() if v > 0)
    parts = [f"epoch {state.epoch}", f"agent steps {state.agent_steps:,}/{total_steps:,}", f"{sum(times.values()):.1f}s ({split})"]
    if "imagined_frames_per_s" in stats:
        parts.append(f"{stats['imagined_frames_per_s']:.0f} imagined frames/s")
    if "test/return" in stats:
        parts.append(f"test return {stats['test/return']:.2f}")
    parts.append(f"ETA {_fmt_time(eta)}")
    return " | ".join(parts)


def finish(cfg: TrainConfig, run_dir: Path, agent: AgentTraining, state: RunState, test, log, store) -> dict[str, Any]:
    """The final test episodes (and a random policy's, if asked), plots, videos and results.json."""
    from diamond.evaluation.agent_report import imagination_video, plot_learning_curve, real_game_video

    sched = cfg.schedule
    t = time.monotonic()
    final = test(sched.final_episodes, cfg.seed + TEST_SEED_OFFSET)
    mean, low, high = mean_ci95(final.returns)
    log(f"final: mean return {mean:.2f} (95% CI {low:.2f} to {high:.2f}) over {len(final.returns)} test episodes")
    results: dict[str, Any] = {
        "game": cfg.env.game, "env": cfg.env.family, "model_free": cfg.model_free, "seed": cfg.seed,
        "agent_steps": state.agent_steps, "epochs": state.epoch, "initial_steps": state.initial_steps,
        "final": {"mean_return": mean, "ci95": [low, high], "episodes": len(final.returns), "returns": final.returns,
                  "lengths": final.lengths},
        "test_history": [{"epoch": h["epoch"], "agent_steps": h["agent_steps"], "mean_return": float(np.mean(h["returns"])),
                          "returns": h["returns"]} for h in state.test_history],
        "train_seconds": float(sum(state.epoch_seconds)),
    }
    if sched.random_episodes:
        env = make_env(cfg, "test", min(sched.random_episodes, 16), cfg.seed + TEST_SEED_OFFSET)
        try:
            rnd = run_test_episodes(env, RandomPolicy(env.num_actions, seed=cfg.seed), sched.random_episodes,
                                    seed=cfg.seed, keep_episodes=False, max_steps=sched.test_env_max_steps)
        finally:
            env.close()
        r_mean, r_low, r_high = mean_ci95(rnd.returns)
        results["random"] = {"mean_return": r_mean, "ci95": [r_low, r_high], "episodes": len(rnd.returns),
                             "returns": rnd.returns}
        results["beats_random"] = bool(low > r_high)
        log(f"uniformly random policy: mean return {r_mean:.2f} (95% CI {r_low:.2f} to {r_high:.2f}); "
            f"the agent {'beats' if low > r_high else 'does not beat'} it with non-overlapping intervals")
    results["learning_curve"] = str(plot_learning_curve(results, run_dir / AgentRun.LEARNING_CURVE))
    results["videos"] = {"real_game": str(real_game_video(final.episodes, run_dir / AgentRun.REAL_GAME_VIDEO))}
    if not cfg.model_free:
        sampler = SegmentSampler(store, np.random.default_rng(cfg.seed))
        results["videos"]["imagination"] = str(imagination_video(agent, sampler, run_dir / AgentRun.IMAGINATION_VIDEO))
    results["final_seconds"] = time.monotonic() - t
    write_json_atomically(run_dir / AgentRun.RESULTS, results)
    log(f"wrote {run_dir / AgentRun.RESULTS}, {results['learning_curve']} and {', '.join(results['videos'].values())}")
    return results

