"""Commands that make and look after data: games, collection, the CS:GO import, episode-store checks and
repairs, ViZDoom recordings, spawn points."""

from __future__ import annotations

import argparse
from pathlib import Path

from diamond.cli.shared import env_args
from diamond.flags import integer


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


def cmd_make_spawns(args: argparse.Namespace) -> int:
    from diamond.data.spawn import make_spawn_points

    folders = make_spawn_points(args.dataset, args.out, args.count, args.seed, args.split, num_next=args.next)
    print(f"wrote {len(folders)} spawn points to {args.out} (from the {args.split} split of {args.dataset})")
    return 0


def register(sub) -> None:
    """Add this module's subcommands to the ``diamond`` command's subparsers."""
    _add_games(sub)
    _add_collect(sub)
    _add_import_hdf5(sub)
    _add_store(sub)
    _add_record_vizdoom(sub)
    _add_make_spawns(sub)


def _add_games(sub) -> None:
    sp = sub.add_parser("games", help="list the supported games")
    sp.set_defaults(func=cmd_games)


def _add_collect(sub) -> None:
    sp = sub.add_parser("collect", help="collect episodes (random or scripted expert policy) into an episode store")
    env_args(sp)
    sp.add_argument(
        "--kind",
        choices=["train", "test"],
        default="train",
        help="train: life loss ends an episode; test: lives ignored (spec §2)",
    )
    sp.add_argument("--steps", type=integer(1), required=True, help="agent steps to collect")
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


def _add_import_hdf5(sub) -> None:
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


def _add_store(sub) -> None:
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


def _add_record_vizdoom(sub) -> None:
    sp = sub.add_parser(
        "record-vizdoom",
        help="record a first-person-shooter dataset in the CS:GO file format: ViZDoom played by a scripted player",
    )
    sp.add_argument("out", metavar="OUT_DIR", help="folder of hdf5_dm_july2021_<N>.hdf5 files; re-running resumes")
    sp.add_argument("--frames", type=integer(1), required=True, help="frames the folder should hold (whole files)")
    sp.add_argument("--episode-frames", type=integer(1), default=1000, help="frames per file (default 1000, as CS:GO)")
    sp.add_argument("--scenario", default="deathmatch", help="deathmatch (default) | multi_deathmatch (with bots)")
    sp.add_argument("--seed", type=int, default=0, help="file N is played with seed·100000 + N (default 0)")
    sp.add_argument("--no-progress", action="store_true", help="no progress lines")
    sp.set_defaults(func=cmd_record_vizdoom)


def _add_make_spawns(sub) -> None:
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
