"""The jobs behind the command line, as functions: collect episodes, open datasets, imagine.

The CLI parses arguments and calls these; tests and notebooks can call them directly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def make_env(env: str, game: str, kind: str, num_envs: int, seed: int, backend: str):
    """A vector env from the command line's --env/--game (Atari 100k protocol by default, spec §2)."""
    if env == "atari":
        from diamond.envs import AtariConfig, make_atari_env

        return make_atari_env(AtariConfig(game=game), kind=kind, num_envs=num_envs, seed=seed, backend=backend)
    if env == "minatar":
        from diamond.envs import MinAtarConfig, make_minatar_env

        return make_minatar_env(MinAtarConfig(game=game), num_envs=num_envs, seed=seed, backend=backend)
    raise ValueError(f"--env {env!r} is unknown; choose 'atari' or 'minatar'")


def store_metadata(protocol: dict[str, Any]) -> dict[str, Any]:
    """What a store records about the data it holds: the env protocol minus what varies between runs."""
    per_run = {"num_envs", "env_seeds", "seed"}
    return {
        "obs_shape": list(protocol["observation_shape"]),
        "num_actions": int(protocol["num_actions"]),  # kept beside action_space for readers of older stores
        "action_space": protocol["action_space"],
        "protocol": {k: v for k, v in protocol.items() if k not in per_run | {"action_space"}},
    }


def open_or_create_store(path: Path, metadata: dict[str, Any]):
    from diamond.data import EpisodeStore

    if (path / "metadata.json").exists():
        return EpisodeStore.open(path, expected_metadata=metadata)
    return EpisodeStore.create(path, metadata)


def open_dataset(path: str | Path, flag: str):
    from diamond.data import EpisodeStore

    path = Path(path)
    if not (path / "metadata.json").exists():
        raise ValueError(f"{flag} {path}: not an episode store (no metadata.json); create one with `diamond collect`")
    store = EpisodeStore.open(path, read_only=True)
    if len(store) == 0:
        raise ValueError(f"{flag} {path}: the store holds no episodes")
    return store


def collect(env_family: str, game: str, kind: str, steps: int, out: Path, num_envs: int, seed: int, backend: str,
            log=print) -> dict[str, Any]:
    from diamond.training.collector import Collector, RandomPolicy

    env = make_env(env_family, game, kind, num_envs, seed, backend)
    try:
        store = open_or_create_store(out, store_metadata(env.protocol()))
        with store:
            before = store.num_steps
            collector = Collector(env, store, RandomPolicy(env.action_space, seed=seed), epsilon=0.0, seed=seed)
            t0 = time.monotonic()
            stats = collector.collect(steps)
            # Unfinished episodes are stored too, marked truncated on their last step: no step is lost.
            truncated = collector.end_partial_episodes()
            result = {
                "store": str(out), "kind": kind, "steps_taken": stats.steps, "episodes_added": stats.episodes + truncated,
                "steps_stored": store.num_steps - before, "truncated_episodes": truncated,
                "total_episodes": len(store), "total_steps": store.num_steps,
                "mean_return": float(sum(stats.returns) / len(stats.returns)) if stats.returns else None,
                "seconds": time.monotonic() - t0,
            }
    finally:
        env.close()
    log(f"collected {result['steps_taken']} {kind} steps ({result['episodes_added']} episodes) into {out} "
        f"in {result['seconds']:.0f}s; store now holds {result['total_episodes']} episodes, {result['total_steps']} steps")
    return result


def stored_steps(path: Path) -> int:
    if not (path / "metadata.json").exists():
        return 0
    from diamond.data import EpisodeStore

    with EpisodeStore.open(path, read_only=True) as store:
        return store.num_steps


def imagine(checkpoint: str | Path, data: str | Path, out: Path, horizon: int, rollouts: int, seed: int,
            denoising_steps: int | None, device: str, fps: int = 15, log=print) -> dict[str, Any]:
    from dataclasses import replace

    from diamond.evaluation.imagination import plot_psnr, rollouts_from_store, side_by_side_frames, write_video
    from diamond.fileio import write_json_atomically
    from diamond.data.store import action_space_of
    from diamond.devices import resolve_device
    from diamond.training.world_model import load_denoiser

    if horizon < 1 or rollouts < 1:
        raise ValueError(f"--horizon {horizon} and --rollouts {rollouts} must both be >= 1")
    dev = resolve_device(device)
    denoiser, cfg = load_denoiser(checkpoint, dev)
    store = open_dataset(data, "--data")
    meta = store.metadata
    net = cfg.denoiser.net
    space = action_space_of(meta, f"--data {data}")
    if space != net.action_space or meta.get("obs_shape", [None])[0] != net.img_channels:
        raise ValueError(f"--data {data} has obs_shape={meta.get('obs_shape')} and a {space}, but the checkpoint "
                         f"{checkpoint} was trained for {net.img_channels} channels and a {net.action_space}")
    sampler = cfg.sampler if denoising_steps is None else replace(cfg.sampler, num_steps_denoising=denoising_steps)
    sampler.validate("--denoising-steps")
    t0 = time.monotonic()
    rolls = rollouts_from_store(denoiser, sampler, store, rollouts, horizon, seed)
    seconds = time.monotonic() - t0
    video = write_video(side_by_side_frames(rolls, space=space), out / "imagination.mp4", fps=fps)
    plot = plot_psnr(rolls, out / "imagination_psnr.png")
    per_step = rolls.psnr_per_step()
    result = {
        "video": str(video), "psnr_plot": str(plot), "rollouts": rollouts, "horizon": horizon,
        "denoising_steps": sampler.num_steps_denoising, "imagined_frames_per_s": rollouts * horizon / seconds,
        "psnr_first_step": float(per_step[0]), "psnr_last_step": float(per_step[-1]),
        "psnr_copy_context_last_step": float(rolls.psnr_copy_context_per_step()[-1]),
        "psnr_per_step": [float(x) for x in per_step],
    }
    write_json_atomically(out / "imagination.json", result)
    log(f"wrote {video} and {plot}")
    return result


def convert_checkpoint(src: Path, dst: Path, to_reference: bool, force: bool = False) -> str:
    """Denoiser: project checkpoint → reference layout, or reference layout → project checkpoint."""
    import torch

    from diamond.checkpoints.project import save_checkpoint
    from diamond.checkpoints.reference import join_reference, load_reference_file, split_reference
    from diamond.configs.schema import to_dict
    from diamond.fileio import write_atomically
    from diamond.training.world_model import load_denoiser

    if dst.exists() and not force:
        raise ValueError(f"{dst} already exists; pass --force to overwrite it")
    if to_reference:
        denoiser, _ = load_denoiser(src)
        flat = join_reference({"denoiser": denoiser.state_dict()})
        write_atomically(dst, lambda f: torch.save(flat, f))
        return f"wrote {dst}: {len(flat)} tensors in the reference layout"
    others = sorted(k for k in split_reference(load_reference_file(src)) if k != "denoiser")
    denoiser, cfg = load_denoiser(src)
    save_checkpoint(dst, to_dict(cfg), denoiser=denoiser.state_dict(), step=0, converted_from=str(src),
                    other_networks=others)
    return f"wrote {dst}: denoiser with inferred config {to_dict(cfg.denoiser.net)}"


def run_demo(out: Path, env: str, game: str, num_envs: int, train_steps: int, test_steps: int, preset: str,
             overrides: list[str], minutes: float | None, device: str, horizon: int, rollouts: int, seed: int,
             progress: bool = True, log=print) -> dict[str, Any]:
    """`diamond world-model-demo`: real game data → a diffusion world model → imagination. Re-running resumes."""
    from diamond.configs.presets import world_model_config
    from diamond.devices import resolve_device
    from diamond.fileio import write_json_atomically
    from diamond.training.world_model import CHECKPOINT, fit_to_data, train_world_model

    t0 = time.monotonic()
    train_dir, test_dir = out / "data" / "train", out / "data" / "test"
    for kind, path, steps, kind_seed in (("train", train_dir, train_steps, seed), ("test", test_dir, test_steps, seed + 10_000)):
        have = stored_steps(path)
        if have >= steps:
            log(f"{path} already holds {have} {kind} steps; skipping collection")
            continue
        collect(env, game, kind, steps - have, path, num_envs, kind_seed, "sync", log=log)
    train, test = open_dataset(train_dir, "--data"), open_dataset(test_dir, "--test-data")
    cfg = fit_to_data(world_model_config(preset, None, overrides), train.metadata, str(train_dir))
    run = out / "world_model"
    results = train_world_model(cfg, train, test, run, resolve_device(device), resume=(run / CHECKPOINT).exists(),
                                max_minutes=minutes, progress=progress, log=log)
    imag = imagine(run / CHECKPOINT, test_dir, out / "imagination", horizon, rollouts, seed, None, device, log=log)
    first, final = results["history"][0], results["final"]
    summary = {
        "game": game, "train_steps_stored": train.num_steps, "test_steps_stored": test.num_steps,
        "denoiser_updates": results["steps"], "wall_minutes": (time.monotonic() - t0) / 60,
        "one_step_psnr_db": {"start": first["psnr_model"], "end": final["psnr_model"],
                             "copy_last_frame": final["psnr_copy_last"]},
        "one_step_psnr_on_changed_pixels_db": {"start": first["psnr_model_changed"], "end": final["psnr_model_changed"],
                                               "copy_last_frame": final["psnr_copy_last_changed"]},
        "imagination": {k: imag[k] for k in ("video", "psnr_plot", "horizon", "psnr_first_step", "psnr_last_step",
                                             "psnr_copy_context_last_step")},
    }
    write_json_atomically(out / "summary.json", summary)
    return summary


def train_flags(env: str | None, game: str | None, seed: int | None, model_free: bool, overrides: list[str]) -> list[str]:
    """`diamond train`'s flags as configuration overrides (applied before the user's ``--set`` items)."""
    flags = [f"{k}={v}" for k, v in (("env.family", env), ("env.game", game), ("seed", seed)) if v is not None]
    flags += ["model_free=true"] if model_free else []
    if env == "atari" and not any(o.strip().startswith("env.size=") for o in overrides):
        flags.append("env.size=64")  # the Atari 100k protocol has one frame size (spec §2)
    return flags


def train_agent(out: str | None, resume: str | None, preset: str | None, config_file: str | None, overrides: list[str],
                env: str | None, game: str | None, model_free: bool, seed: int | None, device: str,
                allow_config_change: bool = False, log=print) -> dict[str, Any]:
    """``diamond train``: resolve the configuration, then run or resume (see ``diamond.training.run``).

    A resumed run starts from its saved config.json; ``--config``, the flags and ``--set`` apply on top of it.
    """
    from diamond.configs.presets import train_config
    from diamond.devices import resolve_device
    from diamond.training.run import train

    changes = [*train_flags(env, game, seed, model_free, overrides), *overrides]
    if resume is not None:
        run_dir = Path(resume)
        cfg = resumed_config(run_dir, out, preset, config_file, changes)
    else:
        cfg = train_config(preset or "paper", config_file, changes)
        run_dir = Path(out) if out else Path("runs") / f"{cfg.env.game}-{preset or 'paper'}-seed{cfg.seed}"
    return train(cfg, run_dir, resolve_device(device), resume=resume is not None,
                 allow_config_change=allow_config_change, log=log)


def locate_store(path: str | Path) -> tuple[Path, Path | None]:
    """(episode store, run folder or None) for DIR of `diamond store`: a store, or a `diamond train` run
    folder (its replay store is RUN/data/train). A store at RUN/data/train belongs to RUN too."""
    from diamond.data import StoreError

    path = Path(path)
    if (path / "metadata.json").is_file():
        run = path.parent.parent if path.name == "train" and path.parent.name == "data" else None
        return path, run if run is not None and (run / "config.json").is_file() else None
    if (path / "data" / "train" / "metadata.json").is_file():
        return path / "data" / "train", path
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
    from diamond.training.run import CHECKPOINT

    store, run = locate_store(path)
    count = CheckpointEpisodeCount(run / CHECKPOINT) if run is not None and (run / CHECKPOINT).is_file() else None
    return repair_store(store, count)


def resumed_config(run_dir: Path, out: str | None, preset: str | None, config_file: str | None, changes: list[str]):
    """The run's saved configuration with ``--config`` and the flags / ``--set`` items applied on top.

    ``--preset`` is refused: the saved configuration already is a resolved preset, and a preset given
    again would set every one of its fields back, not just the ones the user means to change.
    """
    import json

    from diamond.configs.presets import update_config
    from diamond.configs.schema import ConfigError, TrainConfig, from_dict

    if out is not None and Path(out) != run_dir:
        raise ConfigError(f"--out {out} and --resume {run_dir} name different run folders; give only --resume")
    if preset is not None:
        raise ConfigError(f"--preset {preset} with --resume {run_dir}: a resumed run starts from its saved "
                          f"configuration ({run_dir / 'config.json'}); change values with --set KEY=VALUE or --config FILE")
    saved = run_dir / "config.json"
    if not run_dir.is_dir():
        raise ConfigError(f"--resume {run_dir}: the run folder does not exist; nothing to resume")
    if not saved.exists():
        raise ConfigError(f"--resume {run_dir}: no {saved.name} in it; is this a `diamond train` run folder?")
    try:
        cfg = from_dict(TrainConfig, json.loads(saved.read_text()), str(saved))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--resume {run_dir}: {saved} is not valid JSON ({exc})") from exc
    return update_config(cfg, config_file, changes)
