"""Commands that train, evaluate and convert world models: the agent's denoiser on its own (and its demo),
the neural game engine, checkpoints to and from the authors' layout."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from diamond.cli.shared import env_args, model_args, run_config
from diamond.fileio import dumps
from diamond.flags import add_device_flag, integer, positive_number

DEMO_DEFAULTS = {"game": "Breakout", "train_steps": 20_000, "test_steps": 3_000, "minutes": 28.0}


def cmd_train_world_model(args: argparse.Namespace) -> int:
    from diamond.configs.presets import world_model_config
    from diamond.configs.schema import WorldModelRunConfig
    from diamond.data.datasets import open_dataset
    from diamond.devices import resolve_device
    from diamond.layout import WorldModelRun
    from diamond.training.world_model import fit_to_data, require_compatible, train_world_model

    cfg = run_config(args, world_model_config, WorldModelRunConfig, Path(args.out) / WorldModelRun.CONFIG)
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


def cmd_train_engine(args: argparse.Namespace) -> int:
    from diamond.configs.engine import EngineConfig
    from diamond.configs.presets import engine_config
    from diamond.devices import resolve_device
    from diamond.layout import EngineRun
    from diamond.training.engine import train_engine

    cfg = run_config(args, engine_config, EngineConfig, Path(args.out) / EngineRun.CONFIG)
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


def cmd_convert(args: argparse.Namespace) -> int:
    from diamond.checkpoints.convert import convert_checkpoint

    print(
        convert_checkpoint(
            Path(args.input), Path(args.output), to_reference=args.to_reference, force=args.force, engine=args.engine
        )
    )
    return 0


def register(sub) -> None:
    """Add this module's subcommands to the ``diamond`` command's subparsers."""
    _add_train_world_model(sub)
    _add_imagine(sub)
    _add_world_model_demo(sub)
    _add_train_engine(sub)
    _add_evaluate_engine(sub)
    _add_convert(sub)


def _add_train_world_model(sub) -> None:
    sp = sub.add_parser("train-world-model", help="train the diffusion world model on an episode store")
    sp.add_argument("--data", required=True, help="training episode store")
    sp.add_argument("--test-data", required=True, help="held-out episode store for evaluation")
    sp.add_argument("--out", required=True, help="run directory (checkpoints, TensorBoard, metrics)")
    model_args(sp, "paper", resumable=True)
    sp.add_argument("--config", help="JSON file of config values (applied after the preset)")
    sp.add_argument("--resume", action="store_true", help="continue the run in --out (from its saved configuration)")
    sp.add_argument(
        "--max-minutes", type=positive_number, help="stop (with a checkpoint) after this much training time"
    )
    sp.set_defaults(func=cmd_train_world_model)


def _add_imagine(sub) -> None:
    sp = sub.add_parser("imagine", help="open-loop imagination from held-out contexts: video + PSNR plot")
    sp.add_argument(
        "--checkpoint",
        required=True,
        help="world-model checkpoint: the project's (RUN/checkpoints/world_model.pt) or one in the authors' layout",
    )
    sp.add_argument("--data", required=True, help="held-out episode store")
    sp.add_argument("--out", required=True, help="output directory")
    sp.add_argument("--horizon", type=integer(1), default=50, help="imagined steps per rollout (default 50)")
    sp.add_argument("--rollouts", type=integer(1), default=4, help="rollouts shown one above the other (default 4)")
    sp.add_argument("--denoising-steps", type=int, help="override the sampler's number of denoising steps")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--fps", type=int, default=15)
    add_device_flag(sp)
    sp.set_defaults(func=cmd_imagine)


def _add_world_model_demo(sub) -> None:
    sp = sub.add_parser(
        "world-model-demo", help="world model only: collect Breakout with a random policy, train a denoiser, imagine"
    )
    env_args(sp, DEMO_DEFAULTS["game"])
    sp.add_argument("--out", default="runs/world-model-demo", help="output directory; re-running resumes")
    sp.add_argument("--train-steps", type=integer(1), default=DEMO_DEFAULTS["train_steps"])
    sp.add_argument("--test-steps", type=integer(1), default=DEMO_DEFAULTS["test_steps"])
    sp.add_argument(
        "--minutes", type=positive_number, default=DEMO_DEFAULTS["minutes"], help="world-model training time budget"
    )
    sp.add_argument("--horizon", type=integer(1), default=50)
    sp.add_argument("--rollouts", type=integer(1), default=4)
    sp.add_argument("--seed", type=int, default=0)
    model_args(sp, "cpu")
    sp.set_defaults(func=cmd_world_model_demo)


def _add_train_engine(sub) -> None:
    sp = sub.add_parser(
        "train-engine", help="train the neural game engine (dynamics + ×5 upsampler) on a static dataset"
    )
    sp.add_argument("dataset", metavar="DATASET", help="a static dataset folder (made by `diamond import-hdf5`)")
    sp.add_argument("--out", required=True, help="run directory (checkpoints, TensorBoard, metrics, evaluations)")
    model_args(sp, "cpu", "csgo | cpu | tiny", example="dynamics_training.batch_size=16", resumable=True)
    sp.add_argument("--config", help="JSON file of config values (applied after the preset)")
    sp.add_argument("--resume", action="store_true", help="continue the run in --out (from its saved configuration)")
    sp.add_argument(
        "--max-minutes", type=positive_number, help="stop (with a checkpoint) after the epoch that passes this"
    )
    sp.add_argument(
        "--setting",
        choices=["fast", "higher_quality"],
        default="higher_quality",
        help="sampling setting of the held-out evaluations (default %(default)s)",
    )
    sp.set_defaults(func=cmd_train_engine)


def _add_evaluate_engine(sub) -> None:
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
    sp.add_argument("--contexts", type=integer(1), default=32, help="held-out contexts of the one-step metrics")
    sp.add_argument("--horizon", type=integer(1), default=50, help="imagined steps of the rollouts")
    sp.add_argument("--seed", type=int, default=0)
    add_device_flag(sp)
    sp.set_defaults(func=cmd_evaluate_engine)


def _add_convert(sub) -> None:
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
