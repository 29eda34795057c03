"""The ``diamond`` command: one subcommand per job. Heavy imports happen inside the subcommands."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from diamond.configs.presets import TRAIN_PRESETS
from diamond.envs.families import FAMILY_NAMES
from diamond.fileio import dumps
from diamond.flags import add_device_flag
from diamond.studies.command import add_parser as study_parser

# ``devices.PRECISIONS`` and ``devices.LAYOUTS`` by name, so that parsing a command imports no torch
# (tests/cli/test_errors.py checks that they agree)
PRECISION_NAMES = ("float32", "bfloat16", "float16")
LAYOUT_NAMES = ("contiguous", "channels_last")
DEMO_DEFAULTS = {"game": "Breakout", "train_steps": 20_000, "test_steps": 3_000, "minutes": 28.0}


# ---------------------------------------------------------------------------------------------------
# Subcommands


def cmd_games(args: argparse.Namespace) -> int:
    from diamond.envs.families import FAMILIES

    for family in FAMILIES.values():
        print(f"{family.title}:", ", ".join(family.games()) or family.games_note)
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from diamond.jobs import collect

    collect(
        args.env,
        args.game,
        args.kind,
        args.steps,
        Path(args.out),
        args.num_envs,
        args.seed,
        args.backend,
        args.policy,
        args.epsilon,
    )
    return 0


def cmd_import_hdf5(args: argparse.Namespace) -> int:
    from diamond.data.static_import import held_out_split, import_hdf5_dataset

    summary = import_hdf5_dataset(
        args.source_dir, args.out, held_out_split(args.test_split), args.on_bad, progress=not args.no_progress
    )
    print(
        f"imported {summary['imported']} episodes ({summary['frames_imported']:,} frames) into {summary['out']}; "
        f"{summary['already_imported']} were already there, {len(summary['skipped'])} skipped; it now holds "
        + ", ".join(f"{s}: {n} episodes ({summary['frames'][s]:,} frames)" for s, n in summary["episodes"].items())
    )
    return 0


def cmd_train_world_model(args: argparse.Namespace) -> int:
    from diamond.configs.presets import world_model_config
    from diamond.data.datasets import open_dataset
    from diamond.devices import resolve_device
    from diamond.training.world_model import fit_to_data, require_compatible, train_world_model

    cfg = world_model_config(args.preset, args.config, args.set)
    train, test = open_dataset(args.data, "--data"), open_dataset(args.test_data, "--test-data")
    require_compatible(train.metadata, test.metadata, args.data, args.test_data)
    cfg = fit_to_data(cfg, train.metadata, f"--data {args.data}")
    results = train_world_model(
        cfg,
        train,
        test,
        args.out,
        resolve_device(args.device),
        resume=args.resume,
        max_minutes=args.max_minutes,
        progress=not args.no_progress,
    )
    print(dumps(results["final"], indent=1))
    return 0


def cmd_train_engine(args: argparse.Namespace) -> int:
    from diamond.configs.presets import engine_config
    from diamond.devices import resolve_device
    from diamond.training.engine import train_engine

    cfg = engine_config(args.preset, args.config, args.set)
    results = train_engine(
        cfg,
        args.dataset,
        args.out,
        resolve_device(args.device),
        resume=args.resume,
        max_minutes=args.max_minutes,
        setting=args.setting,
        progress=not args.no_progress,
    )
    print(dumps(results, indent=1))
    return 0


def cmd_evaluate_engine(args: argparse.Namespace) -> int:
    from diamond.checkpoints.engine import load_engine
    from diamond.data.engine_data import EngineSplit
    from diamond.devices import resolve_device
    from diamond.evaluation.engine_evaluation import evaluate_engine

    engine = load_engine(args.checkpoint, resolve_device(args.device))
    split = EngineSplit(args.dataset, args.split)
    cfg = dataclasses.replace(engine.cfg, eval_contexts=args.contexts, rollout_horizon=args.horizon)
    result = evaluate_engine(engine, split, args.out, cfg, setting=args.setting, seed=args.seed, progress=True)
    print(dumps({k: result[k] for k in ("one_step", "upsampler", "action_sensitivity") if k in result}, indent=1))
    return 0


def cmd_imagine(args: argparse.Namespace) -> int:
    from diamond.jobs import imagine

    result = imagine(
        args.checkpoint,
        args.data,
        Path(args.out),
        args.horizon,
        args.rollouts,
        args.seed,
        args.denoising_steps,
        args.device,
        args.fps,
    )
    print(dumps({k: v for k, v in result.items() if k != "psnr_per_step"}, indent=1))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from diamond.benchmark.speed import preset_sizes, run_benchmark
    from diamond.benchmark.speed_report import format_report
    from diamond.fileio import write_json_atomically

    result = run_benchmark(
        device=args.device,
        repeats=args.repeats,
        progress=lambda m: print(m, file=sys.stderr),
        layouts=args.layout or list(LAYOUT_NAMES),
        precisions=args.precision,  # None: float32, and bfloat16 where the device computes in it
        compile_too=args.compile,
        **preset_sizes(args.preset),
    )
    result["config"]["preset"] = args.preset
    print(format_report(result))
    if args.json:
        write_json_atomically(args.json, result)
        print(f"wrote {args.json}")
    return 0


def cmd_engine_fps(args: argparse.Namespace) -> int:
    from diamond.benchmark.engine_speed import engine_fps_command

    engine_fps_command(
        args.checkpoint,
        args.from_hub,
        args.preset,
        args.device,
        args.steps,
        args.warmup,
        args.json,
        log=lambda m: print(m, file=sys.stderr, flush=True),
        layouts=args.layout or list(LAYOUT_NAMES),
        precisions=args.precision,  # None: float32, and bfloat16 where the device computes in it
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from diamond.benchmark.report import build_report

    report = build_report(
        args.runs,
        args.out,
        allow_mixed_protocols=args.allow_mixed_protocols,
        reps=args.reps,
        profile_reps=args.profile_reps,
        seed=args.seed,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    for title, items in (
        ("missing", report.missing),
        ("games not run", report.games_not_run),
        ("left out", report.left_out),
    ):
        if items:
            print(f"{title}: " + "; ".join(items))
    for name, metrics in (report.aggregates or report.paper_aggregates).items():
        print(f"{name:>26}: " + "  ".join(f"{m} {v.point:.3f} [{v.low:.3f}, {v.high:.3f}]" for m, v in metrics.items()))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from diamond.sweeps.launch import launch_sweep

    slurm = (
        {
            "partition": args.partition,
            "timeout_min": args.timeout_min,
            "gpus_per_node": args.gpus_per_node,
            "cpus_per_task": args.cpus_per_task,
        }
        if args.launcher == "slurm"
        else {}
    )
    result = launch_sweep(
        args.games,
        args.seeds,
        args.preset,
        args.env,
        args.root,
        args.overrides,
        args.device,
        args.launcher,
        slurm,
        args.hydra,
        report=not args.no_report,
        report_reps=args.report_reps,
        dry_run=args.dry_run,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(dumps(result, indent=1))
    return 0 if args.dry_run or not result["not_finished"] else 1


def cmd_convert(args: argparse.Namespace) -> int:
    from diamond.jobs import convert_checkpoint

    print(
        convert_checkpoint(
            Path(args.input), Path(args.output), to_reference=args.to_reference, force=args.force, engine=args.engine
        )
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from diamond.training.command import train_agent

    results = train_agent(
        out=args.out,
        resume=args.resume,
        preset=args.preset,
        config_file=args.config,
        overrides=list(args.set or []),
        env=args.env,
        game=args.game,
        model_free=args.model_free,
        seed=args.seed,
        device=args.device,
        allow_config_change=args.allow_config_change,
    )
    if "final" not in results:  # a data-parallel process other than rank 0: rank 0 reports
        return 0
    summary = {
        k: results[k]
        for k in ("game", "agent_steps", "final", "random", "beats_random", "learning_curve", "videos")
        if k in results
    }
    summary["final"] = {k: v for k, v in summary["final"].items() if k in ("mean_return", "ci95", "episodes")}
    if "random" in summary:
        summary["random"] = {k: v for k, v in summary["random"].items() if k in ("mean_return", "ci95", "episodes")}
    print(dumps(summary, indent=1))
    return 0


def cmd_store_check(args: argparse.Namespace) -> int:
    from diamond.jobs import check_episode_store

    report = check_episode_store(args.dir)
    print(f"episode store {report.root}: {report.episodes} episodes, {report.steps:,} agent steps")
    for d in report.damaged:
        where = f"episode {d.id}" if d.id is not None else "unindexed episode"
        steps = f"{d.length:,} agent steps" if d.length is not None else "agent steps unknown"
        print(f"damaged: {where} ({d.file}, {steps}): {d.reason}")
    if report.unfinished_repair:
        print(f"an earlier repair was interrupted; finish it with `diamond store repair {args.dir}`")
    if report.damaged:
        print(
            f"{len(report.damaged)} damaged episode file(s) holding {report.steps_damaged:,} agent steps; "
            f"`diamond store repair {args.dir}` moves them aside and keeps the rest"
        )
    if report.clean:
        print("every episode file is whole")
    return 0 if report.clean else 1


def cmd_store_repair(args: argparse.Namespace) -> int:
    from diamond.jobs import repair_episode_store

    result = repair_episode_store(args.dir)
    if result.resumed:
        print(f"finished the interrupted repair of {result.root}")
    if not result.removed:
        print(f"episode store {result.root}: every episode file is whole; nothing to repair")
        return 0
    for x in result.removed:
        where = f"episode {x['id']}" if x["id"] is not None else "unindexed episode"
        steps = f"{x['length']:,} agent steps" if x["length"] is not None else "agent steps unknown"
        moved = f"moved to {result.root / x['moved_to']}" if x["moved_to"] else "its file was missing"
        print(f"{where} ({x['file']}, {steps}) {moved}: {x['reason']}")
    print(
        f"lost {len(result.removed)} episode(s) and {result.steps_lost:,} agent steps; the store now holds "
        f"{result.episodes_after} episodes (was {result.episodes_before}); recorded in {result.root / 'repairs.json'}"
    )
    if result.count_change is not None:
        where, before, after = result.count_change
        print(f"{where}: resumes from {after} stored episodes (was {before}); its agent-step counters are unchanged")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from diamond.layout import AgentRun

    out = Path(args.out)
    if (out / AgentRun.CHECKPOINT).exists():
        args = argparse.Namespace(
            out=None,
            resume=str(out),
            preset=None,
            config=None,
            set=None,
            env=None,
            game=None,
            model_free=False,
            seed=None,
            device=args.device,
            allow_config_change=False,
        )
    else:
        args = argparse.Namespace(
            out=str(out),
            resume=None,
            preset="cpu",
            config=None,
            set=None,
            env=None,
            game=None,
            model_free=False,
            seed=None,
            device=args.device,
            allow_config_change=False,
        )
    return cmd_train(args)


def _play_models(args: argparse.Namespace):
    from diamond.play.launch import open_models

    return open_models(
        args.checkpoint,
        args.from_hub,
        args.game,
        args.env,
        args.device,
        args.denoising_steps,
        log=lambda m: print(m, file=sys.stderr, flush=True),
        precision=args.precision,
    )


def _session_args(args: argparse.Namespace) -> dict:
    return {
        "seed": args.seed,
        "horizon": args.horizon,
        "source": args.source,
        "controller": args.controller,
        "record": args.record,
    }


def cmd_play(args: argparse.Namespace) -> int:
    from diamond.fileio import write_json_atomically
    from diamond.play.launch import play_desktop

    result = play_desktop(
        _play_models(args),
        _session_args(args),
        fps=args.fps,
        scale=args.scale,
        frames=args.frames,
        screenshot=args.screenshot,
        screenshot_dir=args.screenshot_dir,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    if args.json:
        write_json_atomically(args.json, result)
    print(dumps(result, indent=1))
    return 0


def cmd_play_web(args: argparse.Namespace) -> int:
    from diamond.play.launch import play_web

    play_web(
        _play_models(args),
        _session_args(args),
        host=args.host,
        port=args.port,
        fps=args.fps,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    return 0


def _engine_session_args(args: argparse.Namespace) -> dict:
    keys = ("setting", "horizon", "seed", "record", "sensitivity", "real_game")
    return {k: getattr(args, k) for k in keys}


def cmd_play_engine(args: argparse.Namespace) -> int:
    from diamond.fileio import write_json_atomically
    from diamond.play.engine_launch import open_engine, play_engine_desktop

    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    engine, spawns = open_engine(
        args.checkpoint, args.from_hub, args.spawn, args.device, log, layout=args.layout, precision=args.precision
    )
    result = play_engine_desktop(
        engine,
        spawns,
        _engine_session_args(args),
        args.fps,
        args.scale,
        args.frames,
        args.screenshot,
        args.screenshot_dir,
        log,
    )
    if args.json:
        write_json_atomically(args.json, result)
    print(dumps(result, indent=1))
    return 0


def cmd_play_engine_web(args: argparse.Namespace) -> int:
    from diamond.play.engine_launch import open_engine, play_engine_web

    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    engine, spawns = open_engine(
        args.checkpoint, args.from_hub, args.spawn, args.device, log, layout=args.layout, precision=args.precision
    )
    play_engine_web(engine, spawns, _engine_session_args(args), args.host, args.port, args.fps, log=log)
    return 0


def cmd_make_spawns(args: argparse.Namespace) -> int:
    from diamond.data.spawn import make_spawn_points

    folders = make_spawn_points(args.dataset, args.out, args.count, args.seed, args.split, num_next=args.next)
    print(f"wrote {len(folders)} spawn points to {args.out} (from the {args.split} split of {args.dataset})")
    return 0


def cmd_browse(args: argparse.Namespace) -> int:
    from diamond.play.launch import browse

    browse(
        args.datasets,
        scale=args.scale,
        frames=args.frames,
        screenshot=args.screenshot,
        screenshot_dir=args.screenshot_dir,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    return 0


def cmd_record_vizdoom(args: argparse.Namespace) -> int:
    from diamond.recording import record_vizdoom

    record_vizdoom(
        args.out,
        args.frames,
        args.episode_frames,
        args.scenario,
        args.seed,
        progress=not args.no_progress,
        log=lambda m: print(m, flush=True),
    )
    return 0


def cmd_world_model_demo(args: argparse.Namespace) -> int:
    from diamond.jobs import run_demo

    summary = run_demo(
        Path(args.out),
        env=args.env,
        game=args.game,
        num_envs=args.num_envs,
        train_steps=args.train_steps,
        test_steps=args.test_steps,
        preset=args.preset,
        overrides=list(args.set or []),
        minutes=args.minutes,
        device=args.device,
        horizon=args.horizon,
        rollouts=args.rollouts,
        seed=args.seed,
        progress=not args.no_progress,
    )
    print(dumps(summary, indent=1))
    return 0


# ---------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="diamond", description="DIAMOND: diffusion world models and RL in imagination.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def env_args(sp: argparse.ArgumentParser, game_default: str = "Breakout") -> None:
        sp.add_argument("--env", choices=FAMILY_NAMES, default="atari", help="environment family (default atari)")
        sp.add_argument(
            "--game", default=game_default, help="Atari 100k game, MinAtar game or Gymnasium id (see `diamond games`)"
        )
        sp.add_argument("--num-envs", type=int, default=1, help="environments stepped together (default 1)")

    def model_args(sp: argparse.ArgumentParser, preset_default: str, presets: str = "paper | cpu | tiny") -> None:
        sp.add_argument("--preset", default=preset_default, help=f"{presets} (default %(default)s)")
        sp.add_argument(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            help="override a config value, e.g. --set training.batch_size=16 (repeatable)",
        )
        add_device_flag(sp)
        sp.add_argument("--no-progress", action="store_true", help="no progress bar")

    sp = sub.add_parser("games", help="list the supported games")
    sp.set_defaults(func=cmd_games)

    sp = sub.add_parser("collect", help="collect episodes (random or scripted expert policy) into an episode store")
    env_args(sp)
    sp.add_argument(
        "--kind",
        choices=["train", "test"],
        default="train",
        help="train: life loss ends an episode; test: lives ignored (spec §2)",
    )
    sp.add_argument("--steps", type=int, required=True, help="agent steps to collect")
    sp.add_argument("--out", required=True, help="store directory (created, or appended to if it exists)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument(
        "--backend", choices=["sync", "subproc"], default="sync", help="run envs in-process or in subprocesses"
    )
    sp.add_argument(
        "--policy",
        default="random",
        help="random (default) or expert: the game's scripted player (Atari Breakout and Boxing; reads the RAM)",
    )
    sp.add_argument("--epsilon", type=float, default=0.0, help="probability of a uniform action instead (default 0)")
    sp.set_defaults(func=cmd_collect)

    sp = sub.add_parser(
        "import-hdf5", help="import the CS:GO HDF5 episodes into episode stores (train/test, low and full resolution)"
    )
    sp.add_argument("source_dir", metavar="SOURCE_DIR", help="folder of hdf5_dm_july2021_<N>.hdf5 files")
    sp.add_argument("out", metavar="OUT", help="dataset folder (created, or resumed if it is one)")
    sp.add_argument(
        "--test-split",
        metavar="FILE|none",
        help="held-out file names, one a line (default: the paper's 500); 'none' puts every file in train",
    )
    sp.add_argument(
        "--on-bad",
        choices=["skip", "refuse"],
        default="skip",
        help="a bad source file: skip it (listed in OUT/skipped.json) or stop the import (default skip)",
    )
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_import_hdf5)

    sp = sub.add_parser("train", help="train DIAMOND end to end: collect, world model, RL in imagination, evaluate")
    sp.add_argument("--preset", help="paper (Atari 100k, default) | cpu (MinAtar, two CPU cores) | tiny (tests)")
    sp.add_argument("--env", choices=FAMILY_NAMES, help="environment family (default: the preset's)")
    sp.add_argument("--game", help="game (default: the preset's; see `diamond games`)")
    sp.add_argument("--seed", type=int, help="run seed (default 0)")
    sp.add_argument(
        "--model-free",
        action="store_true",
        help="baseline: train the same actor-critic on real rollouts instead of imagination",
    )
    sp.add_argument("--config", help="JSON file of config values (applied after the preset)")
    sp.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set schedule.total_steps=20000 (repeatable)",
    )
    sp.add_argument("--out", help="new run folder (default runs/<game>-<preset>-seed<seed>)")
    sp.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR (with its saved configuration, "
        "unless configuration flags are given: then they must agree with it)",
    )
    sp.add_argument("--allow-config-change", action="store_true", help="with --resume: accept a changed configuration")
    add_device_flag(sp)
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("store", help="check an episode store for damaged files, or repair it")
    actions = sp.add_subparsers(dest="store_action", required=True, metavar="ACTION")
    dir_help = "an episode store, or a `diamond train` run folder (its store RUN/data/train)"
    check = actions.add_parser("check", help="read every episode file; list the damaged ones (exit status 1 if any)")
    check.add_argument("dir", metavar="DIR", help=dir_help)
    check.set_defaults(func=cmd_store_check)
    repair = actions.add_parser(
        "repair",
        help="move damaged episodes to DIR/damaged/, reindex the rest, record it "
        "in DIR/repairs.json (and fix the run checkpoint's episode count)",
    )
    repair.add_argument("dir", metavar="DIR", help=dir_help)
    repair.set_defaults(func=cmd_store_repair)

    sp = sub.add_parser("train-world-model", help="train the diffusion world model on an episode store")
    sp.add_argument("--data", required=True, help="training episode store")
    sp.add_argument("--test-data", required=True, help="held-out episode store for evaluation")
    sp.add_argument("--out", required=True, help="run directory (checkpoints, TensorBoard, metrics)")
    model_args(sp, "paper")
    sp.add_argument("--config", help="JSON file of config values (applied after the preset)")
    sp.add_argument("--resume", action="store_true", help="continue the run in --out")
    sp.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) after this much training time")
    sp.set_defaults(func=cmd_train_world_model)

    sp = sub.add_parser(
        "train-engine", help="train the neural game engine (dynamics + ×5 upsampler) on a static dataset"
    )
    sp.add_argument("dataset", metavar="DATASET", help="a static dataset folder (made by `diamond import-hdf5`)")
    sp.add_argument("--out", required=True, help="run directory (checkpoints, TensorBoard, metrics, evaluations)")
    model_args(sp, "cpu", "csgo | cpu | tiny")
    sp.add_argument("--config", help="JSON file of config values (applied after the preset)")
    sp.add_argument("--resume", action="store_true", help="continue the run in --out")
    sp.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) after the epoch that passes this")
    sp.add_argument(
        "--setting",
        choices=["fast", "higher_quality"],
        default="higher_quality",
        help="sampling setting of the held-out evaluations (default %(default)s)",
    )
    sp.set_defaults(func=cmd_train_engine)

    sp = sub.add_parser(
        "evaluate-engine", help="held-out evaluation of an engine: one-step, upsampler, rollouts, action sensitivity"
    )
    sp.add_argument(
        "checkpoint", metavar="CKPT", help="an engine checkpoint (RUN/checkpoints/engine.pt or the authors' layout)"
    )
    sp.add_argument("dataset", metavar="DATASET", help="a static dataset folder (made by `diamond import-hdf5`)")
    sp.add_argument("--out", required=True, help="folder for evaluation.json, the rollout video and the figures")
    sp.add_argument("--split", choices=["train", "test"], default="test", help="which split (default %(default)s)")
    sp.add_argument("--setting", choices=["fast", "higher_quality"], default="higher_quality")
    sp.add_argument("--contexts", type=int, default=32, help="held-out contexts of the one-step metrics")
    sp.add_argument("--horizon", type=int, default=50, help="imagined steps of the rollouts")
    sp.add_argument("--seed", type=int, default=0)
    add_device_flag(sp)
    sp.set_defaults(func=cmd_evaluate_engine)

    sp = sub.add_parser("imagine", help="open-loop imagination from held-out contexts: video + PSNR plot")
    sp.add_argument(
        "--checkpoint",
        required=True,
        help="world-model checkpoint: the project's (RUN/checkpoints/world_model.pt) or one in the authors' layout",
    )
    sp.add_argument("--data", required=True, help="held-out episode store")
    sp.add_argument("--out", required=True, help="output directory")
    sp.add_argument("--horizon", type=int, default=50, help="imagined steps per rollout (default 50)")
    sp.add_argument("--rollouts", type=int, default=4, help="rollouts shown one above the other (default 4)")
    sp.add_argument("--denoising-steps", type=int, help="override the sampler's number of denoising steps")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--fps", type=int, default=15)
    add_device_flag(sp)
    sp.set_defaults(func=cmd_imagine)

    sp = sub.add_parser("bench", help="speed of the paper-size denoiser: training, imagination, latency, FLOP/s")
    sp.add_argument(
        "--preset",
        default="paper",
        choices=list(TRAIN_PRESETS),
        help="the denoiser, batches and frame size of this `diamond train` preset (default: paper)",
    )
    add_device_flag(sp)
    sp.add_argument("--repeats", type=int, default=5)
    sp.add_argument(
        "--layout",
        action="append",
        choices=LAYOUT_NAMES,
        help="memory layout of a variant (repeatable; default: both); float32 contiguous is always the baseline",
    )
    sp.add_argument(
        "--precision",
        action="append",
        choices=PRECISION_NAMES,
        help="precision of a variant: float32 or autocast to bfloat16 / float16 (CUDA) (repeatable; default "
        "float32, and bfloat16 where the device computes in it: CUDA, or a CPU with AVX-512 BF16 or AMX); each "
        "is measured in every --layout, with its quality against the float32 baseline",
    )
    sp.add_argument(
        "--compile",
        action="store_true",
        help="also time every variant with the denoiser's network torch.compile'd: its compile time and the "
        "calls after which compiling pays (minutes of compilation per variant on a CPU)",
    )
    sp.add_argument("--json", help="also write the figures to this JSON file")
    sp.set_defaults(func=cmd_bench)

    sp = sub.add_parser(
        "engine-fps", help="frames per second of the CS:GO engine (dynamics + upsampler), both settings"
    )
    which = sp.add_mutually_exclusive_group()
    which.add_argument("--checkpoint", help="an engine checkpoint (project engine.pt or the authors' layout)")
    which.add_argument("--from-hub", choices=["csgo"], help="the authors' pretrained engine, with huggingface_hub")
    which.add_argument(
        "--preset",
        action="append",
        choices=["csgo", "cpu"],
        help="random-weight networks of a train-engine preset (repeatable; default: both)",
    )
    add_device_flag(sp)
    sp.add_argument("--steps", type=int, default=3, help="timed steps per setting (the median is reported)")
    sp.add_argument("--warmup", type=int, default=1, help="untimed steps per setting first")
    sp.add_argument(
        "--layout",
        action="append",
        choices=LAYOUT_NAMES,
        help="memory layout of the weights (repeatable; default: both, contiguous first)",
    )
    sp.add_argument(
        "--precision",
        action="append",
        choices=PRECISION_NAMES,
        help="float32 or autocast to bfloat16 / float16 (CUDA) (repeatable; default float32, and bfloat16 where "
        "the device computes in it), each in every --layout, with its first frames against the first entry's",
    )
    sp.add_argument("--json", help="also write the figures and the machine to this JSON file")
    sp.set_defaults(func=cmd_engine_fps)

    sp = sub.add_parser("report", help="Atari 100k report of run folders against the paper (rliable statistics)")
    sp.add_argument("runs", nargs="*", help="run folders of `diamond train` (none: the published results alone)")
    sp.add_argument("--out", default="report", help="output folder: report.md, report.html, report.json, plots/")
    sp.add_argument(
        "--allow-mixed-protocols",
        action="store_true",
        help="report runs whose environment protocols differ (refused by default)",
    )
    sp.add_argument("--reps", type=int, default=50_000, help="bootstrap replications of the aggregate CIs")
    sp.add_argument(
        "--profile-reps",
        type=int,
        default=2_000,
        help="bootstrap replications of performance profiles and probabilities of improvement",
    )
    sp.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    sp.set_defaults(func=cmd_report)

    sp = sub.add_parser(
        "sweep", help="games × seeds of `diamond train` on Hydra multirun (local or SLURM), then the report"
    )
    sp.add_argument("--games", required=True, help="comma-separated game names, or 'all' (the 26 Atari 100k games)")
    sp.add_argument("--seeds", default="0-4", help="seeds: 0,1,2 or a range 0-4 (default 0-4, as in the paper)")
    sp.add_argument("--preset", default="paper", choices=list(TRAIN_PRESETS))
    sp.add_argument("--env", default="atari", choices=FAMILY_NAMES)
    sp.add_argument("--root", default="sweeps/atari100k", help="sweep folder; each run is ROOT/GAME/seedS")
    sp.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a `diamond train` configuration override for every run (repeatable)",
    )
    add_device_flag(sp)
    sp.add_argument(
        "--launcher",
        default="local",
        choices=["local", "slurm"],
        help="local: one run after another on this machine; slurm: one SLURM job per run (submitit)",
    )
    sp.add_argument("--partition", help="SLURM partition")
    sp.add_argument("--timeout-min", type=int, help="SLURM time limit per run, minutes")
    sp.add_argument("--gpus-per-node", type=int, help="SLURM GPUs per run")
    sp.add_argument("--cpus-per-task", type=int, help="SLURM CPUs per run")
    sp.add_argument(
        "--hydra",
        action="append",
        default=[],
        metavar="OVERRIDE",
        help="any further Hydra override, e.g. hydra.launcher.mem_gb=64 (repeatable)",
    )
    sp.add_argument("--no-report", action="store_true", help="do not write ROOT/report at the end")
    sp.add_argument("--report-reps", type=int, default=50_000, help="bootstrap replications of the report")
    sp.add_argument("--dry-run", action="store_true", help="validate and print the Hydra command; launch nothing")
    sp.set_defaults(func=cmd_sweep)

    sp = sub.add_parser(
        "convert", help="convert a denoiser or an engine between the project's checkpoints and the reference layout"
    )
    direction = sp.add_mutually_exclusive_group(required=True)
    direction.add_argument("--to-reference", action="store_true", help="project checkpoint → reference layout")
    direction.add_argument("--from-reference", action="store_true", help="reference layout → project checkpoint")
    sp.add_argument("input")
    sp.add_argument("output")
    sp.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    sp.add_argument(
        "--engine",
        action="store_true",
        help="INPUT must be an engine (dynamics model + upsampler); found by itself when INPUT holds one",
    )
    sp.set_defaults(func=cmd_convert)

    def play_args(sp: argparse.ArgumentParser) -> None:
        which = sp.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--checkpoint",
            help="a `diamond train` run folder or checkpoint, a `train-world-model` "
            "checkpoint, or a checkpoint in the authors' layout (e.g. their pretrained Atari models)",
        )
        which.add_argument(
            "--from-hub",
            metavar="GAME",
            help="the authors' pretrained Atari 100k model of GAME, fetched with huggingface_hub",
        )
        sp.add_argument(
            "--game", help="the game, for checkpoints that do not record it (reference layout, world model)"
        )
        sp.add_argument("--env", choices=FAMILY_NAMES, help="environment family of --game (default atari)")
        sp.add_argument(
            "--source",
            default="world model",
            choices=["world model", "test env", "train env"],
            help="where play starts (default: the world model)",
        )
        sp.add_argument("--controller", default="human", choices=["human", "policy"], help="who plays at the start")
        sp.add_argument("--horizon", type=int, default=1000, help="imagined episodes are cut after this many steps")
        sp.add_argument("--denoising-steps", type=int, help="override the sampler's number of denoising steps")
        sp.add_argument(
            "--precision",
            default="float32",
            choices=PRECISION_NAMES,
            help="arithmetic of the world model's steps: float32 (default) or autocast to bfloat16 / float16 "
            "(CUDA); the policy acts in float32",
        )
        sp.add_argument("--fps", type=float, default=15.0, help="target frames per second (0: as fast as possible)")
        sp.add_argument("--record", metavar="DIR", help="store every played episode in this episode store")
        sp.add_argument("--seed", type=int, default=0)
        add_device_flag(sp)

    def window_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--scale", type=int, help="screen pixels per frame pixel (default: about 512 pixels wide)")
        sp.add_argument("--frames", type=int, help="stop after this many frames (or key presses when browsing)")
        sp.add_argument("--screenshot", metavar="PNG", help="save the window to this PNG when stopping")
        sp.add_argument("--screenshot-dir", default=".", help="where F12 saves screenshots (default .)")

    sp = sub.add_parser(
        "play", help="play inside the world model (or the real game) in a window; hand over to the policy"
    )
    play_args(sp)
    window_args(sp)
    sp.add_argument("--json", help="also write the achieved frame rate and counts to this JSON file")
    sp.set_defaults(func=cmd_play)

    sp = sub.add_parser("play-web", help="the same player in a web browser (HTTP + WebSocket, loopback by default)")
    play_args(sp)
    sp.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    sp.set_defaults(func=cmd_play_web)

    def engine_play_args(sp: argparse.ArgumentParser) -> None:
        which = sp.add_mutually_exclusive_group(required=True)
        which.add_argument("--checkpoint", help="a `train-engine` checkpoint or an engine in the authors' layout")
        which.add_argument("--from-hub", metavar="ENGINE", help="csgo: the authors' CS:GO engine and spawn points")
        sp.add_argument(
            "--spawn",
            metavar="DIR",
            help="spawn-point folders <k>/ (`diamond make-spawns`; default with --from-hub: the authors')",
        )
        sp.add_argument(
            "--setting", default="fast", choices=["fast", "higher_quality"], help="sampling at the start (default fast)"
        )
        sp.add_argument(
            "--horizon", type=int, default=1000, help="play restarts from the spawn point after this many frames"
        )
        sp.add_argument(
            "--sensitivity", type=float, default=1.0, help="mouse motion multiplier before snapping to bins"
        )
        sp.add_argument(
            "--fps", type=float, default=0.0, help="target frames per second (default 0: as fast as it goes)"
        )
        sp.add_argument("--record", metavar="DIR", help="add every played episode to this dataset folder (train split)")
        sp.add_argument(
            "--real-game",
            metavar="SCENARIO",
            choices=["deathmatch", "multi_deathmatch"],
            help="M switches to this ViZDoom scenario with the same controls and back (engines trained on "
            "`record-vizdoom` data)",
        )
        sp.add_argument(
            "--layout",
            default="channels_last",
            choices=LAYOUT_NAMES,
            help="memory layout of the weights (default channels_last: the faster one measured, same frames)",
        )
        sp.add_argument(
            "--precision",
            default="float32",
            choices=PRECISION_NAMES,
            help="arithmetic of each step: float32 (default) or autocast to bfloat16 / float16 (CUDA); "
            "`diamond engine-fps` measures the speed and the frames' difference of each",
        )
        sp.add_argument("--seed", type=int, default=0)
        add_device_flag(sp)

    sp = sub.add_parser(
        "play-engine", help="play inside a neural game engine (spec §10) with keyboard and mouse, from spawn points"
    )
    engine_play_args(sp)
    window_args(sp)
    sp.add_argument("--json", help="also write the achieved frame rate to this JSON file")
    sp.set_defaults(func=cmd_play_engine)

    sp = sub.add_parser(
        "play-engine-web", help="the engine player in a web browser (pointer lock; loopback by default)"
    )
    engine_play_args(sp)
    sp.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=int, default=8766, help="port (default 8766; 0: any free port)")
    sp.set_defaults(func=cmd_play_engine_web)

    sp = sub.add_parser("make-spawns", help="spawn points for the engine players from a static dataset's episodes")
    sp.add_argument("dataset", metavar="DATASET", help="a static dataset folder (`diamond import-hdf5`)")
    sp.add_argument("out", metavar="OUT", help="new folder of spawn points <k>/{low_res,full_res,act,next_act}.npy")
    sp.add_argument("--count", type=int, default=10, help="number of spawn points (default 10)")
    sp.add_argument(
        "--split", default="test", choices=["test", "train"], help="episodes to take them from (default test)"
    )
    sp.add_argument("--next", type=int, default=100, help="recorded actions kept after each context (default 100)")
    sp.add_argument("--seed", type=int, default=0, help="the same seed draws the same windows (default 0)")
    sp.set_defaults(func=cmd_make_spawns)

    sp = sub.add_parser("browse", help="browse episode stores frame by frame (collected data, recordings)")
    sp.add_argument("datasets", nargs="+", metavar="DATASET", help="episode store folders")
    window_args(sp)
    sp.set_defaults(func=cmd_browse)

    sp = sub.add_parser("demo", help="the main job on a CPU: `train --preset cpu --out runs/demo` (re-running resumes)")
    sp.add_argument("--out", default="runs/demo", help="run folder (default runs/demo); re-running resumes it")
    add_device_flag(sp)
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser(
        "record-vizdoom",
        help="record a first-person-shooter dataset in the CS:GO file format: ViZDoom played by a scripted player",
    )
    sp.add_argument("out", metavar="OUT_DIR", help="folder of hdf5_dm_july2021_<N>.hdf5 files; re-running resumes")
    sp.add_argument("--frames", type=int, required=True, help="frames the folder should hold (whole files)")
    sp.add_argument("--episode-frames", type=int, default=1000, help="frames per file (default 1000, as CS:GO)")
    sp.add_argument("--scenario", default="deathmatch", help="deathmatch (default) | multi_deathmatch (with bots)")
    sp.add_argument("--seed", type=int, default=0, help="file N is played with seed·100000 + N (default 0)")
    sp.add_argument("--no-progress", action="store_true", help="no progress lines")
    sp.set_defaults(func=cmd_record_vizdoom)

    study_parser(sub)

    sp = sub.add_parser(
        "world-model-demo", help="world model only: collect Breakout with a random policy, train a denoiser, imagine"
    )
    env_args(sp, DEMO_DEFAULTS["game"])
    sp.add_argument("--out", default="runs/world-model-demo", help="output directory; re-running resumes")
    sp.add_argument("--train-steps", type=int, default=DEMO_DEFAULTS["train_steps"])
    sp.add_argument("--test-steps", type=int, default=DEMO_DEFAULTS["test_steps"])
    sp.add_argument("--minutes", type=float, default=DEMO_DEFAULTS["minutes"], help="world-model training time budget")
    sp.add_argument("--horizon", type=int, default=50)
    sp.add_argument("--rollouts", type=int, default=4)
    sp.add_argument("--seed", type=int, default=0)
    model_args(sp, "cpu")
    sp.set_defaults(func=cmd_world_model_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    from diamond.errors import is_user_error
    from diamond.runtime import keep_freed_memory

    args = build_parser().parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines reach logs as they happen
    keep_freed_memory()
    try:
        return args.func(args)
    except Exception as exc:
        if not is_user_error(exc):
            raise  # a bug: the traceback is what its reader needs
        print(f"diamond {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"diamond {args.command}: interrupted; completed work is saved", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
