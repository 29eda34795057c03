"""``diamond sweep``: validate a games × seeds sweep, hand it to Hydra's multirun, then report.

Everything that can be wrong is checked before any job starts: every game name, the seeds, the
training configuration of each game, and agreement with the sweep already in the folder. Hydra runs
in a child process (``python -m diamond.sweeps.app``) with the local (basic, sequential) launcher or
the submitit SLURM launcher; any other Hydra override passes through ``--hydra``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diamond.configs.schema import ConfigError
from diamond.sweeps.runs import FINISHED, NEW, STALE, UNFINISHED, run_folder, run_status

LAUNCHERS = {"local": "basic", "slurm": "submitit_slurm"}
MANIFEST = "sweep.json"


def parse_games(text: str, env: str) -> list[str]:
    """'all' (every game the family lists: the 26 Atari 100k games for atari) or a comma-separated list;
    every name is checked."""
    from diamond.envs.families import FAMILIES, FAMILY_NAMES

    if env not in FAMILIES:
        raise ConfigError(f"--env {env!r}: expected one of {', '.join(FAMILY_NAMES)}")
    family = FAMILIES[env]
    if text.strip() == "all":
        if not family.games():
            raise ConfigError(f"--games all: --env {env} has no fixed list of games; name them")
        return list(family.games())
    names = [g.strip() for g in text.split(",") if g.strip()]
    if not names:
        raise ConfigError(f"--games {text!r}: no game given")
    games = [family.validate_game(g, "--games") for g in names]
    if len(set(games)) != len(games):
        raise ConfigError(f"--games {text!r}: a game is listed twice")
    return games


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' or a range '0-4' (inclusive)."""
    try:
        if "-" in text.strip().lstrip("-"):
            lo, hi = (int(x) for x in text.split("-"))
            seeds = list(range(lo, hi + 1))
        else:
            seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: expected seeds like 0,1,2 or a range like 0-4") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r}: expected distinct non-negative seeds")
    return seeds


def _hydra_list(items: list[str]) -> str:
    """A list value in Hydra's override grammar, every element a quoted string."""
    quoted = ["'" + i.replace("\\", "\\\\").replace("'", "\\'") + "'" for i in items]
    return "[" + ",".join(quoted) + "]"


def hydra_arguments(
    games: list[str],
    seeds: list[int],
    preset: str,
    env: str,
    root: Path,
    overrides: list[str],
    device: str,
    launcher: str,
    launcher_options: dict[str, Any],
    extra: list[str],
) -> list[str]:
    args = [
        "--multirun",
        f"game={','.join(games)}",
        f"seed={','.join(map(str, seeds))}",
        f"preset={preset}",
        f"env={env}",
        f"root={root}",
        f"device={device}",
        f"overrides={_hydra_list(overrides)}",
        f"hydra.sweep.dir={root / 'hydra'}",
        "hydra.sweep.subdir=${game}/seed${seed}",
        f"hydra/launcher={LAUNCHERS[launcher]}",
    ]
    args += [f"hydra.launcher.{k}={v}" for k, v in launcher_options.items() if v is not None]
    return args + list(extra)


def check_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """A folder holds one sweep configuration; games and seeds may grow, the rest must not change."""
    path = root / MANIFEST
    if not path.exists():
        return
    try:
        saved = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); move it away to start a new sweep here") from None
    diffs = [
        f"{k}: {saved.get(k)!r} in {path}, {manifest[k]!r} now"
        for k in ("preset", "env", "overrides")
        if saved.get(k) != manifest[k]
    ]
    if diffs:
        raise ConfigError(
            f"{root} holds a sweep with another configuration; use another --root, or the same flags:\n  "
            + "\n  ".join(diffs)
        )


def launch_sweep(
    games_text: str,
    seeds_text: str,
    preset: str,
    env: str,
    root: str | Path,
    overrides: list[str],
    device: str = "auto",
    launcher: str = "local",
    launcher_options: dict[str, Any] | None = None,
    extra_hydra: list[str] | None = None,
    report: bool = True,
    report_reps: int = 50_000,
    dry_run: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    from diamond.configs.presets import train_config
    from diamond.training.command import check_trainable, train_flags

    if launcher not in LAUNCHERS:
        raise ConfigError(f"--launcher {launcher!r}: expected one of {sorted(LAUNCHERS)}")
    games, seeds = parse_games(games_text, env), parse_seeds(seeds_text)
    from diamond.devices import device_named, resolve_device

    if launcher == "local":  # the runs use this machine's devices
        resolve_device(device)
    elif device != "auto":  # a SLURM job's node checks that it has the device
        device_named(device)
    for game in games:  # the whole training configuration of every job, before anything starts
        check_trainable(train_config(preset, None, [*train_flags(env, game, None, False, overrides), *overrides]))
    root = Path(root)
    manifest = {"preset": preset, "env": env, "overrides": list(overrides), "games": games, "seeds": seeds}
    check_manifest(root, manifest)
    status = {(g, s): run_status(run_folder(root, g, s)) for g in games for s in seeds}
    counts = {k: sum(v == k for v in status.values()) for k in (FINISHED, UNFINISHED, STALE, NEW)}
    log(
        f"sweep of {len(games)} games × {len(seeds)} seeds in {root}: {counts[FINISHED]} finished (skipped), "
        f"{counts[UNFINISHED]} to resume, {counts[NEW] + counts[STALE]} to start"
    )
    args = hydra_arguments(
        games, seeds, preset, env, root, overrides, device, launcher, launcher_options or {}, extra_hydra or []
    )
    command = [sys.executable, "-m", "diamond.sweeps.app", *args]
    if dry_run:
        return {"command": command, "status": {f"{g} seed {s}": v for (g, s), v in status.items()}}
    root.mkdir(parents=True, exist_ok=True)
    saved = json.loads((root / MANIFEST).read_text()) if (root / MANIFEST).exists() else {}
    manifest["games"] = sorted(set(saved.get("games", [])) | set(games), key=(saved.get("games", []) + games).index)
    manifest["seeds"] = sorted(set(saved.get("seeds", [])) | set(seeds))
    from diamond.fileio import write_json_atomically

    write_json_atomically(root / MANIFEST, manifest)
    code = subprocess.run(command, env={**os.environ, "HYDRA_FULL_ERROR": "1"}).returncode
    final = {(g, s): run_status(run_folder(root, g, s)) for g in games for s in seeds}
    not_done = [f"{g} seed {s}" for (g, s), v in final.items() if v != FINISHED]
    result: dict[str, Any] = {
        "hydra_exit_code": code,
        "finished": sum(v == FINISHED for v in final.values()),
        "not_finished": not_done,
    }
    if not_done:
        log(f"not finished: {', '.join(not_done)} (launch the same sweep again to complete them)")
    from diamond.envs.families import FAMILIES

    if report and FAMILIES[env].reported:
        from diamond.benchmark.report import build_report

        if result["finished"]:  # unfinished runs are passed too: the report lists them by name
            build_report([run_folder(root, g, s) for g, s in final], root / "report", reps=report_reps, log=log)
            result["report"] = str(root / "report" / "report.html")
    return result
