"""The jobs behind the command line, as functions: collect episodes, imagine, the world-model demo.

The CLI parses arguments and calls these; tests and notebooks can call them directly. ``diamond train``'s
job is ``diamond.training.command.train_agent`` (the sweeps run it too).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from diamond.data.datasets import open_dataset, stored_steps
from diamond.data.store import action_space_of
from diamond.errors import InvalidValue
from diamond.layout import AgentRun, ImaginationOutput, WorldModelDemo, WorldModelRun


def collect(
    env_family: str,
    game: str,
    kind: str,
    steps: int,
    out: Path,
    num_envs: int,
    seed: int,
    backend: str,
    policy: str = "random",
    epsilon: float = 0.0,
    log=print,
) -> dict[str, Any]:
    from diamond.training.collection import collect_into_store

    result = collect_into_store(env_family, game, kind, steps, out, num_envs, seed, backend, policy, epsilon)
    returns = result["completed_returns"]
    mean = sum(returns) / len(returns) if returns else None
    log(
        f"collected {result['steps_taken']} {kind} steps ({result['episodes_added']} episodes, "
        f"{policy} policy{'' if mean is None else f', mean return {mean:.1f}'}) into {out} "
        f"in {result['seconds']:.0f}s; store now holds {result['total_episodes']} episodes, {result['total_steps']} steps"
    )
    return result


def imagine(
    checkpoint: str | Path,
    data: str | Path,
    out: Path,
    horizon: int,
    rollouts: int,
    seed: int,
    denoising_steps: int | None,
    device: str,
    fps: int = 15,
    log=print,
) -> dict[str, Any]:
    from dataclasses import replace

    from diamond.checkpoints.denoiser import load_denoiser
    from diamond.devices import resolve_device
    from diamond.evaluation.imagination import plot_psnr, rollouts_from_store, side_by_side_frames, write_video
    from diamond.fileio import write_json_atomically

    if horizon < 1 or rollouts < 1:
        raise InvalidValue(f"--horizon {horizon} and --rollouts {rollouts} must both be >= 1")
    dev = resolve_device(device)
    denoiser, cfg = load_denoiser(checkpoint, dev)
    store = open_dataset(data, "--data")
    meta = store.metadata
    net = cfg.denoiser.net
    space = action_space_of(meta, f"--data {data}")
    if not net.action_space.accepts_same_actions(space) or meta.get("obs_shape", [None])[0] != net.img_channels:
        raise InvalidValue(
            f"--data {data} has obs_shape={meta.get('obs_shape')} and a {space}, but the checkpoint "
            f"{checkpoint} was trained for {net.img_channels} channels and a {net.action_space}"
        )
    sampler = cfg.sampler if denoising_steps is None else replace(cfg.sampler, num_steps_denoising=denoising_steps)
    sampler.validate("--denoising-steps")
    t0 = time.monotonic()
    rolls = rollouts_from_store(denoiser, sampler, store, rollouts, horizon, seed)
    seconds = time.monotonic() - t0
    video = write_video(side_by_side_frames(rolls, space=space), out / ImaginationOutput.VIDEO, fps=fps)
    plot = plot_psnr(rolls, out / ImaginationOutput.PSNR_PLOT)
    per_step = rolls.psnr_per_step()
    result = {
        "video": str(video),
        "psnr_plot": str(plot),
        "rollouts": rollouts,
        "horizon": horizon,
        "denoising_steps": sampler.num_steps_denoising,
        "imagined_frames_per_s": rollouts * horizon / seconds,
        "psnr_first_step": float(per_step[0]),
        "psnr_last_step": float(per_step[-1]),
        "psnr_copy_context_last_step": float(rolls.psnr_copy_context_per_step()[-1]),
        "psnr_per_step": [float(x) for x in per_step],
    }
    write_json_atomically(out / ImaginationOutput.RESULTS, result)
    log(f"wrote {video} and {plot}")
    return result


def run_demo(
    out: Path,
    env: str,
    game: str,
    num_envs: int,
    train_steps: int,
    test_steps: int,
    preset: str,
    overrides: list[str],
    minutes: float | None,
    device: str,
    horizon: int,
    rollouts: int,
    seed: int,
    progress: bool = True,
    log=print,
) -> dict[str, Any]:
    """`diamond world-model-demo`: real game data → a diffusion world model → imagination. Re-running resumes."""
    from diamond.configs.presets import world_model_config
    from diamond.devices import resolve_device
    from diamond.fileio import write_json_atomically
    from diamond.training.world_model import fit_to_data, train_world_model

    t0 = time.monotonic()
    from diamond.envs.families import FAMILIES

    FAMILIES[env].validate_game(game, "--game")  # before the folder is written
    from diamond.fileio import same_flags

    same_flags(
        out / WorldModelDemo.DATA_ARGUMENTS,
        {"env": env, "game": game, "seed": seed},
        f"--out {out} holds a demo of other data",
    )
    train_dir, test_dir = out / WorldModelDemo.TRAIN_DATA, out / WorldModelDemo.TEST_DATA
    for kind, path, steps, kind_seed in (
        ("train", train_dir, train_steps, seed),
        ("test", test_dir, test_steps, seed + 10_000),
    ):
        have = stored_steps(path)
        if have >= steps:
            log(f"{path} already holds {have} {kind} steps; skipping collection")
            continue
        collect(env, game, kind, steps - have, path, num_envs, kind_seed, "sync", log=log)
    train, test = open_dataset(train_dir, "--data"), open_dataset(test_dir, "--test-data")
    cfg = fit_to_data(world_model_config(preset, None, overrides), train.metadata, str(train_dir))
    run = out / WorldModelDemo.WORLD_MODEL
    results = train_world_model(
        cfg,
        train,
        test,
        run,
        resolve_device(device),
        resume=(run / WorldModelRun.CHECKPOINT).exists(),
        max_minutes=minutes,
        progress=progress,
        log=log,
    )
    imag = imagine(
        run / WorldModelRun.CHECKPOINT,
        test_dir,
        out / WorldModelDemo.IMAGINATION,
        horizon,
        rollouts,
        seed,
        None,
        device,
        log=log,
    )
    first, final = results["history"][0], results["final"]
    summary = {
        "game": game,
        "train_steps_stored": train.num_steps,
        "test_steps_stored": test.num_steps,
        "denoiser_updates": results["steps"],
        "wall_minutes": (time.monotonic() - t0) / 60,
        "one_step_psnr_db": {
            "start": first["psnr_model"],
            "end": final["psnr_model"],
            "copy_last_frame": final["psnr_copy_last"],
        },
        "one_step_psnr_on_changed_pixels_db": {
            "start": first["psnr_model_changed"],
            "end": final["psnr_model_changed"],
            "copy_last_frame": final["psnr_copy_last_changed"],
        },
        "imagination": {
            k: imag[k]
            for k in (
                "video",
                "psnr_plot",
                "horizon",
                "psnr_first_step",
                "psnr_last_step",
                "psnr_copy_context_last_step",
            )
        },
    }
    write_json_atomically(out / WorldModelDemo.SUMMARY, summary)
    return summary


def locate_store(path: str | Path) -> tuple[Path, Path | None]:
    """(episode store, run folder or None) for DIR of `diamond store`: a store, or a `diamond train` run
    folder (its replay store is RUN/data/train). A store at RUN/data/train belongs to RUN too."""
    from diamond.data import StoreError

    path = Path(path)
    if (path / "metadata.json").is_file():
        run = path.parent.parent if path.name == "train" and path.parent.name == "data" else None
        return path, run if run is not None and (run / AgentRun.CONFIG).is_file() else None
    if (path / AgentRun.TRAIN_DATA / "metadata.json").is_file():
        return path / AgentRun.TRAIN_DATA, path
    what = "does not exist" if not path.exists() else "holds neither metadata.json nor data/train/metadata.json"
    raise StoreError(f"{path} {what}: expected an episode store or a `diamond train` run folder")


class CheckpointEpisodeCount:
    """The number of stored episodes that a `diamond train` checkpoint rolls the store back to on resume."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)

    def read(self) -> int:
        from diamond.checkpoints.project import load_checkpoint

        return int(load_checkpoint(self.path)["num_episodes"])

    def write(self, num_episodes: int) -> None:
        from diamond.checkpoints.project import load_checkpoint, save_checkpoint

        payload = load_checkpoint(self.path)
        payload["num_episodes"] = num_episodes
        states = {k: v for k, v in payload.items() if k not in ("format", "version", "config")}
        save_checkpoint(self.path, payload["config"], **states)  # atomic: the old file or the new one


def check_episode_store(path: str | Path):
    """`diamond store check`: the store's CheckReport (see diamond.data.repair)."""
    from diamond.data.repair import check_store

    return check_store(locate_store(path)[0])


def repair_episode_store(path: str | Path):
    """`diamond store repair`: repair the store, and the episode count of the run's checkpoint with it."""
    from diamond.data.repair import repair_store

    store, run = locate_store(path)
    ckpt = None if run is None else run / AgentRun.CHECKPOINT
    count = CheckpointEpisodeCount(ckpt) if ckpt is not None and ckpt.is_file() else None
    return repair_store(store, count)
