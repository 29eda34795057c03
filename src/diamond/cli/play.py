"""The players: inside a world model or the real game (window or browser), inside a neural game engine, and a
browser of episode stores."""

from __future__ import annotations

import argparse
import sys

from diamond.envs.families import FAMILY_NAMES
from diamond.fileio import dumps
from diamond.flags import add_device_flag, add_layout_flag, add_precision_flag, integer, output_file


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


def cmd_browse(args: argparse.Namespace) -> int:
    from diamond.jobs import locate_store
    from diamond.play.launch import browse

    browse(
        [str(locate_store(path)[0]) for path in args.datasets],  # a store, or a `diamond train` run's replay store
        scale=args.scale,
        frames=args.frames,
        screenshot=args.screenshot,
        screenshot_dir=args.screenshot_dir,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    return 0


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
    sp.add_argument("--game", help="the game, for checkpoints that do not record it (reference layout, world model)")
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
    add_precision_flag(sp, "arithmetic of the world model's steps", note="; the policy acts in float32")
    sp.add_argument("--fps", type=float, default=15.0, help="target frames per second (0: as fast as possible)")
    sp.add_argument("--record", metavar="DIR", help="store every played episode in this episode store")
    sp.add_argument("--seed", type=int, default=0)
    add_device_flag(sp)


def window_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--scale", type=int, help="screen pixels per frame pixel (default: about 512 pixels wide)")
    sp.add_argument("--frames", type=integer(1), help="stop after this many frames (or key presses when browsing)")
    sp.add_argument("--screenshot", metavar="PNG", help="save the window to this PNG when stopping")
    sp.add_argument("--screenshot-dir", default=".", help="where F12 saves screenshots (default .)")


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
    sp.add_argument("--sensitivity", type=float, default=1.0, help="mouse motion multiplier before snapping to bins")
    sp.add_argument("--fps", type=float, default=0.0, help="target frames per second (default 0: as fast as it goes)")
    sp.add_argument("--record", metavar="DIR", help="add every played episode to this dataset folder (train split)")
    sp.add_argument(
        "--real-game",
        metavar="SCENARIO",
        choices=["deathmatch", "multi_deathmatch"],
        help="M switches to this ViZDoom scenario with the same controls and back (engines trained on "
        "`record-vizdoom` data)",
    )
    add_layout_flag(sp, "memory layout of the weights", "channels_last", note=": the faster one measured, same frames")
    add_precision_flag(
        sp,
        "arithmetic of each step",
        note="; `diamond engine-fps` measures the speed and the frames' difference of each",
    )
    sp.add_argument("--seed", type=int, default=0)
    add_device_flag(sp)


def register(sub) -> None:
    """Add this module's subcommands to the ``diamond`` command's subparsers."""
    _add_play(sub)
    _add_play_web(sub)
    _add_play_engine(sub)
    _add_play_engine_web(sub)
    _add_browse(sub)


def _add_play(sub) -> None:
    sp = sub.add_parser(
        "play", help="play inside the world model (or the real game) in a window; hand over to the policy"
    )
    play_args(sp)
    window_args(sp)
    sp.add_argument("--json", type=output_file, help="also write the achieved frame rate and counts to this JSON file")
    sp.set_defaults(func=cmd_play)


def _add_play_web(sub) -> None:
    sp = sub.add_parser("play-web", help="the same player in a web browser (HTTP + WebSocket, loopback by default)")
    play_args(sp)
    sp.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=integer(0, 65535), default=8765, help="port (default 8765; 0: any free port)")
    sp.set_defaults(func=cmd_play_web)


def _add_play_engine(sub) -> None:
    sp = sub.add_parser(
        "play-engine", help="play inside a neural game engine (spec §10) with keyboard and mouse, from spawn points"
    )
    engine_play_args(sp)
    window_args(sp)
    sp.add_argument("--json", type=output_file, help="also write the achieved frame rate to this JSON file")
    sp.set_defaults(func=cmd_play_engine)


def _add_play_engine_web(sub) -> None:
    sp = sub.add_parser(
        "play-engine-web", help="the engine player in a web browser (pointer lock; loopback by default)"
    )
    engine_play_args(sp)
    sp.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=integer(0, 65535), default=8766, help="port (default 8766; 0: any free port)")
    sp.set_defaults(func=cmd_play_engine_web)


def _add_browse(sub) -> None:
    sp = sub.add_parser("browse", help="browse episode stores frame by frame (collected data, recordings)")
    sp.add_argument(
        "datasets", nargs="+", metavar="DATASET", help="episode store folders or `diamond train` run folders"
    )
    window_args(sp)
    sp.set_defaults(func=cmd_browse)
