"""``diamond time-epoch``: one regular epoch of a ``diamond train`` configuration, timed on this device, and
the time of a whole run extrapolated from it.

It is a real run (the configuration's envs, networks, batches and data) in a scratch folder, stopped after
two epochs. The first does the initial collection (timed: its length follows the data's rewards) and a few
updates of each network as a warm-up (first calls, allocations, cuDNN's choices; not used). The second is a
regular epoch: the schedule's collection and its regular number of updates of each network (or ``updates``
of each, scaled up). The whole run is then the schedule's own epochs, collected steps and updates
(``run_totals``, the first epoch's larger counts included) at the second epoch's seconds per collected step
and per update, plus the initial collection, plus each epoch's overhead outside its phases (mostly writing
the checkpoint). The evaluations (test episodes every ``eval_every`` epochs and at the end) are left out:
their length is the trained policy's, which the start of a run cannot know.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diamond.benchmark.speed_report import device_name
from diamond.configs.presets import update_config
from diamond.configs.schema import ConfigError, TrainConfig
from diamond.layout import AgentRun
from diamond.training.schedule import SCHEDULED, plan_epoch, regular_epoch_seconds, run_totals

WARMUP_UPDATES = 3  # of each network in the first epoch, which is not timed
EPOCH_LINE = re.compile(r"^epoch (\d+) \|")  # the line an epoch logs once its phases are done (training.epoch)


def timed_config(cfg: TrainConfig, updates: int | None) -> TrainConfig:
    """The run that is timed: ``cfg`` with a warm-up first epoch and ``updates`` (default: the schedule's
    regular count) of each network in the second."""
    if cfg.model_free:
        raise ConfigError("time-epoch times runs that learn in imagination; model_free=true runs have no such epochs")
    if updates is not None and updates < 1:
        raise ConfigError(f"--updates {updates} is invalid; expected at least 1 update of each network")
    changes = []
    for name in SCHEDULED:
        n = updates if updates is not None else getattr(cfg.schedule, f"{name}_updates")
        changes += [f"schedule.{name}_updates_first={min(WARMUP_UPDATES, n)}", f"schedule.{name}_updates={n}"]
    return update_config(cfg, None, changes)


def extrapolate(cfg: TrainConfig, timed: TrainConfig, epochs: list[dict[str, Any]], overhead: float) -> dict[str, Any]:
    """The whole run of ``cfg``'s schedule at the rates of the timed run ``timed`` (``epochs``: its metrics
    lines of epochs 1 and 2; ``overhead``: the seconds of epoch 2 outside its phases)."""
    sched = cfg.schedule
    first, second = epochs
    initial_steps = int(first["agent_steps"])
    collected = int(second["agent_steps"]) - initial_steps
    times = {k.removeprefix("time/"): float(v) for k, v in second.items() if k.startswith("time/")}
    timed_plan = plan_epoch(2, initial_steps, timed.schedule)
    per_update = {name: times[name] / n for name, n in timed_plan.updates.items() if n}
    per_step = times["collect"] / collected if collected else 0.0
    totals = run_totals(sched, initial_steps)
    initial_seconds = float(first["time/collect"])
    whole = (
        initial_seconds
        + totals.collect_steps * per_step
        + sum(n * per_update.get(name, 0.0) for name, n in totals.updates.items())
        + totals.epochs * overhead
    )
    regular = plan_epoch(2, initial_steps, sched)
    return {
        "initial_collection": {"steps": initial_steps, "seconds": initial_seconds},
        "timed_epoch": {"collect_steps": collected, "updates": timed_plan.updates, "seconds": times},
        "seconds_per_collected_step": per_step,
        "seconds_per_update": per_update,
        "overhead_seconds_per_epoch": overhead,
        "regular_epoch": {
            "collect_steps": regular.collect_steps,
            "updates": regular.updates,
            "seconds": regular_epoch_seconds(times, timed_plan, regular, collected, sched.steps_per_epoch) + overhead,
        },
        "whole_run": {
            "epochs": totals.epochs,
            "collect_steps": totals.collect_steps,
            "updates": totals.updates,
            "seconds": whole,
            "left_out": f"{totals.evaluations} evaluations of {sched.eval_episodes} test episodes, and the final "
            f"{sched.final_episodes} test episodes"
            + (f" (and {sched.random_episodes} of a random policy)" if sched.random_episodes else ""),
        },
    }


def time_epoch(
    cfg: TrainConfig, device, updates: int | None, out: str | None = None, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run ``cfg`` for two epochs (in ``out``, else in a scratch folder removed afterwards) and extrapolate.
    Under torchrun every process times its share; rank 0 returns the figures, the others ``{"rank": r}``."""
    from diamond.training.distributed import env_info
    from diamond.training.run import train

    info = env_info()
    if info.enabled and out is None:
        raise ConfigError("under torchrun, time-epoch needs --out: every process must see the same run folder")
    if out is not None and (Path(out) / AgentRun.CHECKPOINT).exists():
        raise ConfigError(
            f"--out {out} already holds a run ({AgentRun.CHECKPOINT}); time-epoch times a new run: "
            "choose a new folder (nothing was changed)"
        )
    timed = timed_config(cfg, updates)
    stamps: dict[int, float] = {}

    def stamped(line: str) -> None:
        if match := EPOCH_LINE.match(line):
            stamps[int(match.group(1))] = time.monotonic()
            line = line.split(" | ETA ")[0]  # the shortened run's own ETA would mislead
        log(line)

    with tempfile.TemporaryDirectory(prefix="diamond-time-epoch-") as scratch:
        run_dir = Path(out) if out is not None else Path(scratch) / "run"
        result = train(timed, run_dir, device, log=stamped, stop_after_epochs=2)
        if not info.is_main:
            return result
        lines = [json.loads(x) for x in (run_dir / AgentRun.METRICS).read_text().splitlines() if x.strip()]
    epochs = [x for e in (1, 2) for x in lines if x["epoch"] == e]
    if len(epochs) < 2 or 2 not in stamps:
        raise ConfigError(f"the schedule ends before a second epoch ({len(lines)} epoch(s)); nothing regular to time")
    phases = sum(float(v) for k, v in epochs[1].items() if k.startswith("time/"))
    overhead = max(0.0, stamps[2] - stamps[1] - phases)
    return extrapolate(cfg, timed, epochs, overhead)


def _duration(seconds: float) -> str:
    hours = seconds / 3600
    if hours >= 48:
        return f"{hours / 24:.2f} days"
    return f"{hours:.2f} h" if hours >= 1 else f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.1f} s"


def format_epoch_time(result: dict[str, Any]) -> str:
    """The figures as lines of text (``time_epoch``'s result with ``preset``, ``game`` and ``device`` added)."""
    init, timed, regular, whole = (
        result["initial_collection"],
        result["timed_epoch"],
        result["regular_epoch"],
        result["whole_run"],
    )
    lines = [
        f"time-epoch: preset {result['preset']}, {result['game']}, on {result['device']}",
        f"initial collection: {init['steps']:,} agent steps in {init['seconds']:.1f} s",
        f"timed epoch: {timed['collect_steps']:,} agent steps collected in {timed['seconds']['collect']:.2f} s",
    ]
    for name, n in timed["updates"].items():
        per = result["seconds_per_update"][name]
        lines.append(f"  {name}: {n:,} updates in {timed['seconds'][name]:.2f} s ({per * 1000:.1f} ms an update)")
    lines.append(f"  outside the phases (checkpoint, records): {result['overhead_seconds_per_epoch']:.2f} s")
    counts = ", ".join(f"{name} {n:,}" for name, n in regular["updates"].items())
    lines.append(
        f"a regular epoch ({regular['collect_steps']:,} steps; {counts} updates): {_duration(regular['seconds'])}"
    )
    counts = ", ".join(f"{name} {n:,}" for name, n in whole["updates"].items())
    lines.append(
        f"the whole run ({whole['epochs']:,} epochs, {init['steps'] + whole['collect_steps']:,} agent steps; "
        f"updates: {counts}): {_duration(whole['seconds'])} ({whole['seconds']:,.0f} s), without {whole['left_out']}"
    )
    return "\n".join(lines)


def time_epoch_command(
    preset: str,
    env: str | None,
    game: str | None,
    overrides: list[str],
    device: str,
    updates: int | None,
    out: str | None,
    json_path: str | None,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """`diamond time-epoch`: configure as `diamond train` does, time, print, write the JSON."""
    from diamond.configs.presets import train_config
    from diamond.devices import resolve_device
    from diamond.fileio import write_json_atomically
    from diamond.training.command import check_trainable, train_flags

    cfg = train_config(preset, None, [*train_flags(env, game, None, False, overrides), *overrides])
    check_trainable(cfg)
    dev = resolve_device(device)
    result = time_epoch(cfg, dev, updates, out, log)
    if "whole_run" not in result:  # a torchrun process other than rank 0
        return result
    result = {"preset": preset, "game": cfg.env.game, "device": device_name(dev), "updates": updates, **result}
    print(format_epoch_time(result))
    if json_path:
        write_json_atomically(json_path, result)
        print(f"wrote {json_path}")
    return result
