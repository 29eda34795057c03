"""The ``diamond`` command: one subcommand per job. Heavy imports happen inside the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

DEMO_DEFAULTS = {"game": "Breakout", "train_steps": 20_000, "test_steps": 3_000, "minutes": 20.0}


# ---------------------------------------------------------------------------------------------------
# Shared pieces


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
        "num_actions": int(protocol["num_actions"]),
        "protocol": {k: v for k, v in protocol.items() if k not in per_run},
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


def collect(args_env: str, game: str, kind: str, steps: int, out: Path, num_envs: int, seed: int, backend: str,
            log=print) -> dict[str, Any]:
    from diamond.training.collector import Collector, RandomPolicy

    env = make_env(args_env, game, kind, num_envs, seed, backend)
    try:
        store = open_or_create_store(out, store_metadata(env.protocol()))
        with store:
            before = store.num_steps
            collector = Collector(env, store, RandomPolicy(env.num_actions, seed=seed), epsilon=0.0, seed=seed)
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


# ---------------------------------------------------------------------------------------------------
# Subcommands


def cmd_games(args: argparse.Namespace) -> int:
    from diamond.envs import ATARI_100K_GAMES, MINATAR_GAMES

    print("Atari 100k (spec §2):", ", ".join(ATARI_100K_GAMES))
    print("MinAtar (optional extra):", ", ".join(MINATAR_GAMES))
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    collect(args.env, args.game, args.kind, args.steps, Path(args.out), args.num_envs, args.seed, args.backend)
    return 0


def cmd_train_world_model(args: argparse.Namespace) -> int:
    from diamond.configs.presets import world_model_config
    from diamond.devices import resolve_device
    from diamond.training.world_model import fit_to_data, require_compatible, train_world_model

    cfg = world_model_config(args.preset, args.config, args.set)
    train, test = open_dataset(args.data, "--data"), open_dataset(args.test_data, "--test-data")
    require_compatible(train.metadata, test.metadata, args.data, args.test_data)
    cfg = fit_to_data(cfg, train.metadata, f"--data {args.data}")
    results = train_world_model(cfg, train, test, args.out, resolve_device(args.device), resume=args.resume,
                                max_minutes=args.max_minutes, progress=not args.no_progress)
    print(json.dumps(results["final"], indent=1))
    return 0


def cmd_imagine(args: argparse.Namespace) -> int:
    result = imagine(args.checkpoint, args.data, Path(args.out), args.horizon, args.rollouts, args.seed,
                     args.denoising_steps, args.device, args.fps)
    print(json.dumps({k: v for k, v in result.items() if k != "psnr_per_step"}, indent=1))
    return 0


def imagine(checkpoint: str | Path, data: str | Path, out: Path, horizon: int, rollouts: int, seed: int,
            denoising_steps: int | None, device: str, fps: int = 15, log=print) -> dict[str, Any]:
    from dataclasses import replace

    from diamond.evaluation.imagination import plot_psnr, rollouts_from_store, side_by_side_frames, write_video
    from diamond.fileio import write_json_atomically
    from diamond.devices import resolve_device
    from diamond.training.world_model import load_denoiser

    if horizon < 1 or rollouts < 1:
        raise ValueError(f"--horizon {horizon} and --rollouts {rollouts} must both be >= 1")
    dev = resolve_device(device)
    denoiser, cfg = load_denoiser(checkpoint, dev)
    store = open_dataset(data, "--data")
    meta = store.metadata
    net = cfg.denoiser.net
    if meta.get("num_actions") != net.num_actions or meta.get("obs_shape", [None])[0] != net.img_channels:
        raise ValueError(f"--data {data} has obs_shape={meta.get('obs_shape')} and num_actions={meta.get('num_actions')}, "
                         f"but the checkpoint {checkpoint} was trained for {net.img_channels} channels and "
                         f"{net.num_actions} actions")
    sampler = cfg.sampler if denoising_steps is None else replace(cfg.sampler, num_steps_denoising=denoising_steps)
    sampler.validate("--denoising-steps")
    t0 = time.monotonic()
    rolls = rollouts_from_store(denoiser, sampler, store, rollouts, horizon, seed)
    seconds = time.monotonic() - t0
    names = meta.get("protocol", {}).get("action_meanings")
    video = write_video(side_by_side_frames(rolls, action_names=names), out / "imagination.mp4", fps=fps)
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


def cmd_bench(args: argparse.Namespace) -> int:
    from diamond.evaluation.bench import format_report, run_benchmark
    from diamond.fileio import write_json_atomically

    result = run_benchmark(device=args.device, repeats=args.repeats, progress=lambda m: print(m, file=sys.stderr))
    print(format_report(result))
    if args.json:
        write_json_atomically(args.json, result)
        print(f"wrote {args.json}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    import torch

    from diamond.checkpoints.project import save_checkpoint
    from diamond.checkpoints.reference import infer_denoiser_config, join_reference, load_reference_file, split_reference
    from diamond.configs.schema import WorldModelRunConfig, to_dict
    from diamond.fileio import write_atomically
    from diamond.training.world_model import load_denoiser

    src, dst = Path(args.input), Path(args.output)
    if dst.exists() and not args.force:
        raise ValueError(f"{dst} already exists; pass --force to overwrite it")
    if args.to_reference:
        denoiser, _ = load_denoiser(src)
        flat = join_reference({"denoiser": denoiser.state_dict()})
        write_atomically(dst, lambda f: torch.save(flat, f))
        print(f"wrote {dst}: {len(flat)} tensors in the reference layout")
    else:
        parts = split_reference(load_reference_file(src))
        if "denoiser" not in parts:
            raise ValueError(f"{src} holds no denoiser.* tensors; nothing to convert")
        cfg = WorldModelRunConfig(denoiser=infer_denoiser_config(parts["denoiser"]))
        from diamond.models.diffusion.denoiser import Denoiser

        model = Denoiser(cfg.denoiser)
        model.load_state_dict(parts["denoiser"])
        save_checkpoint(dst, to_dict(cfg), denoiser=model.state_dict(), step=0, converted_from=str(src),
                        other_networks=sorted(k for k in parts if k != "denoiser"))
        print(f"wrote {dst}: denoiser with inferred config {to_dict(cfg.denoiser.net)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The README's main job: real Breakout data → a CPU-sized diffusion world model → imagination."""
    from diamond.configs.presets import world_model_config
    from diamond.devices import resolve_device
    from diamond.training.world_model import CHECKPOINT, fit_to_data, train_world_model

    out = Path(args.out)
    t0 = time.monotonic()
    train_dir, test_dir = out / "data" / "train", out / "data" / "test"
    for kind, path, steps, seed in (("train", train_dir, args.train_steps, args.seed),
                                    ("test", test_dir, args.test_steps, args.seed + 10_000)):
        have = _stored_steps(path)
        if have >= steps:
            print(f"{path} already holds {have} {kind} steps; skipping collection")
            continue
        collect(args.env, args.game, kind, steps - have, path, args.num_envs, seed, "sync")
    train, test = open_dataset(train_dir, "--data"), open_dataset(test_dir, "--test-data")
    overrides = list(args.set or [])
    cfg = fit_to_data(world_model_config(args.preset, None, overrides), train.metadata, str(train_dir))
    run = out / "world_model"
    results = train_world_model(cfg, train, test, run, resolve_device(args.device), resume=(run / CHECKPOINT).exists(),
                                max_minutes=args.minutes, progress=not args.no_progress)
    imag = imagine(run / CHECKPOINT, test_dir, out / "imagination", args.horizon, args.rollouts, args.seed, None,
                   args.device)
    first, final = results["history"][0], results["final"]
    summary = {
        "game": args.game, "train_steps_stored": train.num_steps, "test_steps_stored": test.num_steps,
        "denoiser_updates": results["steps"], "wall_minutes": (time.monotonic() - t0) / 60,
        "one_step_psnr_db": {"start": first["psnr_model"], "end": final["psnr_model"],
                             "copy_last_frame": final["psnr_copy_last"]},
        "one_step_psnr_on_changed_pixels_db": {"start": first["psnr_model_changed"], "end": final["psnr_model_changed"],
                                               "copy_last_frame": final["psnr_copy_last_changed"]},
        "imagination": {k: imag[k] for k in ("video", "psnr_plot", "horizon", "psnr_first_step", "psnr_last_step",
                                             "psnr_copy_context_last_step")},
    }
    from diamond.fileio import write_json_atomically

    write_json_atomically(out / "summary.json", summary)
    print(json.dumps(summary, indent=1))
    return 0


def _stored_steps(path: Path) -> int:
    if not (path / "metadata.json").exists():
        return 0
    from diamond.data import EpisodeStore

    with EpisodeStore.open(path, read_only=True) as store:
        return store.num_steps


# ---------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="diamond", description="DIAMOND: diffusion world models and RL in imagination.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def env_args(sp: argparse.ArgumentParser, game_default: str = "Breakout") -> None:
        sp.add_argument("--env", choices=["atari", "minatar"], default="atari", help="environment family (default atari)")
        sp.add_argument("--game", default=game_default, help="Atari 100k game (see `diamond games`) or MinAtar game")
        sp.add_argument("--num-envs", type=int, default=1, help="environments stepped together (default 1)")

    def model_args(sp: argparse.ArgumentParser, preset_default: str) -> None:
        sp.add_argument("--preset", default=preset_default, help="paper | cpu | tiny (default %(default)s)")
        sp.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a config value, e.g. --set training.batch_size=16 (repeatable)")
        sp.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
        sp.add_argument("--no-progress", action="store_true", help="no progress bar")

    sp = sub.add_parser("games", help="list the supported games")
    sp.set_defaults(func=cmd_games)

    sp = sub.add_parser("collect", help="collect episodes with a uniformly random policy into an episode store")
    env_args(sp)
    sp.add_argument("--kind", choices=["train", "test"], default="train",
                    help="train: life loss ends an episode; test: lives ignored (spec §2)")
    sp.add_argument("--steps", type=int, required=True, help="agent steps to collect")
    sp.add_argument("--out", required=True, help="store directory (created, or appended to if it exists)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--backend", choices=["sync", "subproc"], default="sync", help="run envs in-process or in subprocesses")
    sp.set_defaults(func=cmd_collect)

    sp = sub.add_parser("train-world-model", help="train the diffusion world model on an episode store")
    sp.add_argument("--data", required=True, help="training episode store")
    sp.add_argument("--test-data", required=True, help="held-out episode store for evaluation")
    sp.add_argument("--out", required=True, help="run directory (checkpoints, TensorBoard, metrics)")
    model_args(sp, "paper")
    sp.add_argument("--config", help="JSON file of config values (applied after the preset)")
    sp.add_argument("--resume", action="store_true", help="continue the run in --out")
    sp.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) after this much training time")
    sp.set_defaults(func=cmd_train_world_model)

    sp = sub.add_parser("imagine", help="open-loop imagination from held-out contexts: video + PSNR plot")
    sp.add_argument("--checkpoint", required=True, help="world-model checkpoint (run/checkpoints/world_model.pt)")
    sp.add_argument("--data", required=True, help="held-out episode store")
    sp.add_argument("--out", required=True, help="output directory")
    sp.add_argument("--horizon", type=int, default=50, help="imagined steps per rollout (default 50)")
    sp.add_argument("--rollouts", type=int, default=4, help="rollouts shown one above the other (default 4)")
    sp.add_argument("--denoising-steps", type=int, help="override the sampler's number of denoising steps")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--fps", type=int, default=15)
    sp.add_argument("--device", default="auto")
    sp.set_defaults(func=cmd_imagine)

    sp = sub.add_parser("bench", help="speed of the paper-size denoiser: training, imagination, latency, FLOP/s")
    sp.add_argument("--device", default="auto")
    sp.add_argument("--repeats", type=int, default=5)
    sp.add_argument("--json", help="also write the figures to this JSON file")
    sp.set_defaults(func=cmd_bench)

    sp = sub.add_parser("convert", help="convert a denoiser between the project's checkpoints and the reference layout")
    direction = sp.add_mutually_exclusive_group(required=True)
    direction.add_argument("--to-reference", action="store_true", help="project checkpoint → reference layout")
    direction.add_argument("--from-reference", action="store_true", help="reference layout → project checkpoint")
    sp.add_argument("input")
    sp.add_argument("output")
    sp.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    sp.set_defaults(func=cmd_convert)

    sp = sub.add_parser("demo", help="the main job on a CPU: collect Breakout, train a world model, imagine")
    env_args(sp, DEMO_DEFAULTS["game"])
    sp.add_argument("--out", default="runs/demo", help="output directory (default runs/demo); re-running resumes")
    sp.add_argument("--train-steps", type=int, default=DEMO_DEFAULTS["train_steps"])
    sp.add_argument("--test-steps", type=int, default=DEMO_DEFAULTS["test_steps"])
    sp.add_argument("--minutes", type=float, default=DEMO_DEFAULTS["minutes"], help="world-model training time budget")
    sp.add_argument("--horizon", type=int, default=50)
    sp.add_argument("--rollouts", type=int, default=4)
    sp.add_argument("--seed", type=int, default=0)
    model_args(sp, "cpu")
    sp.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    from diamond.errors import USER_ERRORS
    from diamond.runtime import keep_freed_memory

    args = build_parser().parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines reach logs as they happen
    keep_freed_memory()
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        print(f"diamond {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"diamond {args.command}: interrupted; completed work is saved", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
