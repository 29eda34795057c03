"""``diamond train`` and what surrounds it: the CPU demo, sweeps of games × seeds, the Atari 100k report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diamond.configs.presets import TRAIN_PRESETS
from diamond.envs.families import FAMILY_NAMES
from diamond.fileio import dumps
from diamond.flags import add_device_flag, integer


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


def cmd_demo(args: argparse.Namespace) -> int:
    from diamond.layout import AgentRun

    out = Path(args.out)
    resume = (out / AgentRun.CHECKPOINT).exists()  # re-running resumes the run
    train_args = argparse.Namespace(
        out=None if resume else str(out),
        resume=str(out) if resume else None,
        preset=None if resume else "cpu",
        config=None,
        set=None,
        env=None,
        game=None,
        model_free=False,
        seed=None,
        device=args.device,
        allow_config_change=False,
    )
    return cmd_train(train_args)


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


def register(sub) -> None:
    """Add this module's subcommands to the ``diamond`` command's subparsers."""
    _add_train(sub)
    _add_demo(sub)
    _add_sweep(sub)
    _add_report(sub)


def _add_train(sub) -> None:
    sp = sub.add_parser("train", help="train DIAMOND end to end: collect, world model, RL in imagination, evaluate")
    sp.add_argument("--preset", help="paper (Atari 100k, default) | cpu (MinAtar, two CPU cores) | tiny (tests)")
    sp.add_argument("--env", choices=FAMILY_NAMES, help="environment family (default: the preset's)")
    sp.add_argument("--game", help="game (default: the preset's; see `diamond games`)")
    sp.add_argument("--seed", type=integer(0), help="run seed (default 0)")
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


def _add_demo(sub) -> None:
    sp = sub.add_parser("demo", help="the main job on a CPU: `train --preset cpu --out runs/demo` (re-running resumes)")
    sp.add_argument("--out", default="runs/demo", help="run folder (default runs/demo); re-running resumes it")
    add_device_flag(sp)
    sp.set_defaults(func=cmd_demo)


def _add_sweep(sub) -> None:
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
    sp.add_argument("--report-reps", type=integer(1), default=50_000, help="bootstrap replications of the report")
    sp.add_argument("--dry-run", action="store_true", help="validate and print the Hydra command; launch nothing")
    sp.set_defaults(func=cmd_sweep)


def _add_report(sub) -> None:
    sp = sub.add_parser("report", help="Atari 100k report of run folders against the paper (rliable statistics)")
    sp.add_argument("runs", nargs="*", help="run folders of `diamond train` (none: the published results alone)")
    sp.add_argument("--out", default="report", help="output folder: report.md, report.html, report.json, plots/")
    sp.add_argument(
        "--allow-mixed-protocols",
        action="store_true",
        help="report runs whose environment protocols differ (refused by default)",
    )
    sp.add_argument("--reps", type=integer(1), default=50_000, help="bootstrap replications of the aggregate CIs")
    sp.add_argument(
        "--profile-reps",
        type=integer(1),
        default=2_000,
        help="bootstrap replications of performance profiles and probabilities of improvement",
    )
    sp.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    sp.set_defaults(func=cmd_report)
