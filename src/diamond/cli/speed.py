"""Speed measurements: ``diamond bench`` (the denoiser), ``diamond time-epoch`` (an epoch of a `diamond train`
configuration, and the whole run extrapolated) and ``diamond engine-fps`` (the engine)."""

from __future__ import annotations

import argparse
import sys

from diamond.configs.presets import TRAIN_PRESETS
from diamond.envs.families import FAMILY_NAMES
from diamond.flags import LAYOUT_NAMES, add_device_flag, add_layout_flag, add_precision_flag, integer, output_file


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


def cmd_time_epoch(args: argparse.Namespace) -> int:
    from diamond.benchmark.epoch_time import time_epoch_command

    time_epoch_command(
        args.preset,
        args.env,
        args.game,
        list(args.set or []),
        args.device,
        args.updates,
        args.out,
        args.json,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    return 0


def register(sub) -> None:
    """Add this module's subcommands to the ``diamond`` command's subparsers."""
    _add_bench(sub)
    _add_time_epoch(sub)
    _add_engine_fps(sub)


def _add_bench(sub) -> None:
    sp = sub.add_parser("bench", help="speed of the paper-size denoiser: training, imagination, latency, FLOP/s")
    sp.add_argument(
        "--preset",
        default="paper",
        choices=list(TRAIN_PRESETS),
        help="the denoiser, batches and frame size of this `diamond train` preset (default: paper)",
    )
    add_device_flag(sp)
    sp.add_argument("--repeats", type=integer(1), default=5, help="timed iterations of each phase (default 5)")
    add_layout_flag(sp, "memory layout of a variant", note="; float32 contiguous is always the baseline")
    add_precision_flag(
        sp,
        "precision of a variant",
        repeatable=True,
        note="; each is measured in every --layout, with its quality against the float32 baseline",
    )
    sp.add_argument(
        "--compile",
        action="store_true",
        help="also time every variant with the denoiser's network torch.compile'd: its compile time and the "
        "calls after which compiling pays (minutes of compilation per variant on a CPU)",
    )
    sp.add_argument("--json", type=output_file, help="also write the figures to this JSON file")
    sp.set_defaults(func=cmd_bench)


def _add_time_epoch(sub) -> None:
    sp = sub.add_parser(
        "time-epoch",
        help="time one regular epoch of a `diamond train` configuration here, and the whole run extrapolated",
    )
    sp.add_argument(
        "--preset", default="paper", choices=list(TRAIN_PRESETS), help="the run's preset (default %(default)s)"
    )
    sp.add_argument("--env", choices=FAMILY_NAMES, help="environment family (default: the preset's)")
    sp.add_argument("--game", help="game (default: the preset's; see `diamond games`)")
    sp.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config value, as `diamond train --set` (repeatable); the whole run is extrapolated with it",
    )
    sp.add_argument(
        "--updates",
        type=int,
        help="updates of each network in the timed epoch (default: the schedule's regular count, e.g. the "
        "paper's 400; fewer are scaled up)",
    )
    sp.add_argument("--out", help="keep the timed run in this new folder (default: a scratch folder, removed)")
    sp.add_argument("--json", type=output_file, help="also write the figures to this JSON file")
    add_device_flag(sp)
    sp.set_defaults(func=cmd_time_epoch)


def _add_engine_fps(sub) -> None:
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
    sp.add_argument("--steps", type=integer(1), default=3, help="timed steps per setting (the median is reported)")
    sp.add_argument("--warmup", type=integer(0), default=1, help="untimed steps per setting first")
    add_layout_flag(sp, "memory layout of the weights", note="; contiguous first")
    add_precision_flag(
        sp,
        "arithmetic of a variant",
        repeatable=True,
        note="; each in every --layout, with its first frames against the first entry's",
    )
    sp.add_argument("--json", type=output_file, help="also write the figures and the machine to this JSON file")
    sp.set_defaults(func=cmd_engine_fps)
