"""The run folder of ``diamond train`` and what it holds between epochs: the loop's counters, the
checkpoint (written atomically at the end of every epoch) and the metrics file.

A kill can fall between an epoch's metrics line and its checkpoint: on resume, the lines of epochs
after the checkpoint's are dropped before the loop starts (the resumed run writes them again), so the
file ends up with exactly one line per epoch whatever the moment of the kill.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from diamond.checkpoints.files import CheckpointError
from diamond.checkpoints.project import load_checkpoint, require_generator_device, require_same_config, save_checkpoint
from diamond.checkpoints.trees import to_tensor_tree
from diamond.configs.schema import ConfigError, TrainConfig
from diamond.fileio import dumps, set_aside, write_atomically
from diamond.layout import AgentRun
from diamond.training.agent import AgentTraining
from diamond.training.collector import Collector
from diamond.training.distributed import DistInfo

CHECKPOINT = AgentRun.CHECKPOINT
METRICS = AgentRun.METRICS
PROBE = ".write_probe"  # written and removed at once, to see that the folder can be written
RESULTS = AgentRun.RESULTS


@dataclass
class RunState:
    """Counters of the loop (the networks' state is in AgentTraining)."""

    epoch: int = 0
    agent_steps: int = 0
    initial_steps: int = 0
    epochs_without_collection: int = 0  # since the last epoch that collected (the extra epochs, spec §1)
    training_done: bool = False  # re-derived from the schedule on resume (a larger budget continues a finished run)
    test_history: list[dict[str, Any]] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)


@dataclass
class Run:
    """Everything the epoch's steps read or change (built by ``run.open_run``)."""

    cfg: TrainConfig
    run_dir: Path
    config: dict[str, Any]  # cfg as saved in config.json and in every checkpoint
    device: torch.device
    info: DistInfo
    agent: AgentTraining
    policy: Any  # the collection policy (RecurrentPolicy)
    collector: Collector
    store: Any  # the replay data (EpisodeStore)
    state: RunState
    experience: Any  # where the actor-critic's experience comes from (training.experience)
    writer: Any  # TensorBoard SummaryWriter
    make_env: Callable[..., Any]  # make_env(cfg, kind, num_envs, seed): a real vector env
    log: Callable[[str], None]

    def close(self) -> None:
        """Release what the run holds open: TensorBoard's file, the store's writer lock, the envs."""
        self.writer.close()
        self.experience.close()
        self.store.close()
        self.collector.env.close()


def check_run_folder(run_dir: Path, resume: bool, log: Callable[[str], None]) -> bool:
    """A new run needs a writable folder without a run in it; a resumed one needs its checkpoint. A folder that
    holds only a run's own files and no checkpoint was left by a run stopped before its first checkpoint
    (the end of epoch 1): nothing in it can be resumed, so it is set aside (renamed beside itself, kept) and
    the run starts afresh, new or resumed, as an uninterrupted run would have. Returns whether the run resumes."""
    ckpt = run_dir / CHECKPOINT
    entries = sorted(p.name for p in run_dir.iterdir()) if run_dir.is_dir() and not ckpt.exists() else []
    foreign = [name for name in entries if name not in AgentRun.top_level_names() | {PROBE}]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        flag = f"--resume {run_dir}" if resume else f"--out {run_dir}"
        raise ConfigError(
            f"{flag}: the folder holds files that are not a `diamond train` run's ({shown}) and no checkpoint "
            f"{CHECKPOINT}; choose a new or empty folder (nothing was changed)"
        )
    if entries:
        kept = set_aside(run_dir)
        log(
            f"{run_dir} was stopped before its first checkpoint: nothing in it to resume; kept as {kept}, starting afresh"
        )
        resume = False
    elif resume and not ckpt.exists():
        what = "does not exist" if not run_dir.exists() else f"holds no checkpoint {CHECKPOINT}"
        raise ConfigError(f"--resume {run_dir}: the run folder {what}; nothing to resume")
    if not resume and ckpt.exists():
        raise ConfigError(
            f"{run_dir} already holds a run ({CHECKPOINT}); pass --resume to continue it or choose "
            "another --out (nothing was changed)"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / PROBE
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"run folder {run_dir} cannot be written ({exc.strerror or exc}); choose another --out"
        ) from exc
    return resume


def load_state(
    ckpt: Path, config: dict[str, Any], allow_config_change: bool, device: torch.device, log: Callable[[str], None]
) -> dict[str, Any]:
    """The checkpoint's payload, refused if its configuration differs (unless ``allow_config_change``)."""
    payload = load_checkpoint(ckpt)  # on the CPU: the states move to their modules' device as they load
    for key in ("agent", "run", "collector", "policy", "num_episodes"):
        if key not in payload:
            raise CheckpointError(f"{ckpt} is not an agent checkpoint of `diamond train` (no {key!r} entry)")
    require_generator_device(ckpt, payload, device)
    try:
        require_same_config(ckpt, payload["config"], config, TrainConfig)
    except CheckpointError as exc:
        if not allow_config_change:
            raise CheckpointError(f"{exc}\npass --allow-config-change to resume with the new values anyway") from exc
        log(f"resuming with a changed configuration (--allow-config-change):\n{exc}")
    return payload


def check_world_size(ckpt: Path, payload: dict[str, Any], info: DistInfo) -> None:
    saved = int(payload.get("world_size", 1))
    if saved != info.world_size:
        raise CheckpointError(
            f"{ckpt} was written by a run of {saved} process(es); resume it with the same number "
            f"(torchrun --nproc-per-node {saved}), not {info.world_size}"
        )


def save_state(run: Run, follower_rngs: list[Any]) -> None:
    """The whole state after an epoch, atomically: a kill leaves this checkpoint or the previous one."""
    save_checkpoint(
        run.run_dir / CHECKPOINT,
        run.config,
        agent=run.agent.state_dict(),
        run=asdict(run.state),
        policy=run.policy.state_dict(),
        collector=to_tensor_tree(run.collector.state_dict()),
        num_episodes=len(run.store),
        world_size=run.info.world_size,
        generator_device=run.device.type,
        follower_rngs=follower_rngs,
    )


def append_metrics(run_dir: Path, line: dict[str, Any]) -> None:
    with open(run_dir / METRICS, "a") as f:
        f.write(dumps(line) + "\n")


def trim_metrics(run_dir: Path, last_epoch: int) -> int:
    """Drop the metrics lines of epochs after ``last_epoch`` (and a line cut short by a kill); returns how many."""
    path = run_dir / METRICS
    if not path.exists():
        return 0
    lines = path.read_text().splitlines()
    kept = []
    for number, line in enumerate(lines, 1):
        try:
            epoch = int(json.loads(line)["epoch"])
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):  # the last write, cut short by the kill
                continue
            raise ConfigError(f"{path}, line {number}: not a metrics line of `diamond train` ({exc})") from exc
        if epoch <= last_epoch:
            kept.append(line)
    if len(kept) < len(lines):
        data = "".join(line + "\n" for line in kept).encode()
        write_atomically(path, lambda f: f.write(data))
    return len(lines) - len(kept)
