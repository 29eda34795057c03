"""What both studies do before measuring: collect the expert data, train world models alike, load them.

A study folder holds ``data/train`` and ``data/test`` (episode stores), one ``WorldModelRun`` folder per
compared model and the study's outputs. Every stage is skipped when its output is complete and resumed
when it was interrupted, so re-running a study command continues it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diamond.checkpoints.denoiser import load_denoiser
from diamond.configs.presets import world_model_config
from diamond.configs.schema import WorldModelRunConfig, to_dict
from diamond.data.datasets import open_dataset, stored_steps
from diamond.errors import InvalidValue
from diamond.fileio import write_json_atomically
from diamond.layout import StudyRun, WorldModelRun
from diamond.studies.config import StudyData, StudyModels
from diamond.training.collection import collect_into_store
from diamond.training.world_model import fit_to_data, train_world_model


def _complete_game_returns(store) -> list[float]:
    """The returns of the store's complete games (reads every episode: only for stores without a record)."""
    return [ep.return_ for ep in (store.get(i) for i in range(len(store))) if ep.end[-1]]


def expert_data(out: Path, data: StudyData, log: Callable[[str], None]) -> dict[str, Any]:
    """The training and held-out stores, collected by the game's scripted expert (whole games: the test kind,
    where a lost life does not end the episode). Returns their sizes and the expert's scores, which are
    recorded beside each store as it is collected."""
    summary: dict[str, Any] = {}
    for split, steps, seed in (
        ("train", data.train_steps, data.seed),
        ("test", data.test_steps, data.seed + 10_000),
    ):
        path, record = out / StudyRun.data(split), out / StudyRun.expert_scores(split)
        have = stored_steps(path)
        known = json.loads(record.read_text()) if record.is_file() else {"steps": 0, "returns": []}
        if known["steps"] != have:  # collected before the record existed, or stopped between the two writes
            with open_dataset(path, f"study data {path}") as store:
                known = {"steps": have, "returns": _complete_game_returns(store)}
        if have < steps:
            log(f"collecting {steps - have} {data.game} steps with the scripted expert into {path}")
            result = collect_into_store(
                "atari", data.game, "test", steps - have, path, seed=seed + have, policy="expert", epsilon=data.epsilon
            )
            known = {"steps": result["total_steps"], "returns": known["returns"] + result["completed_returns"]}
            log(
                f"  {result['steps_taken']} steps in {result['seconds']:.0f}s, {len(result['completed_returns'])} games"
            )
        write_json_atomically(record, known)
        returns = known["returns"]
        summary[split] = {
            "steps": known["steps"],
            "complete_games": len(returns),
            "expert_mean_return": sum(returns) / len(returns) if returns else None,
            "expert_returns": returns,
        }
    return summary


def config_record(cfg: Any) -> dict[str, Any]:
    """A study configuration as plain JSON data, named by its kind (what study_config.json and results hold)."""
    return json.loads(json.dumps({"study": type(cfg).__name__, **to_dict(cfg)}))


def fixed_config(out: Path, cfg: Any, where: str) -> None:
    """Record the study's configuration in ``out`` at its first run; a later run must use the same one, since
    the data, the trained models and the cached measurements all depend on it."""
    path = out / StudyRun.CONFIG
    wanted = config_record(cfg)
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("study") != wanted["study"]:
            raise InvalidValue(
                f"{where}: {out} holds another study ({saved.get('study')}, saved in {path}); use a new --out"
            )
        if saved != wanted:
            changed = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
            raise InvalidValue(
                f"{where}: {out} holds a study run with another configuration (differs in: {', '.join(changed)}; "
                f"saved in {path}); use a new --out, or the same preset and --set values as before"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, wanted)


def open_study(out: Path, cfg: Any, where: str, log: Callable[[str], None]):
    """What both studies do first: check and record the configuration, collect (or finish collecting) the
    expert data, open it. Returns the data summary and the training and held-out stores."""
    cfg.validate(where)
    fixed_config(out, cfg, where)
    data = expert_data(out, cfg.data, log)
    train, test = (open_dataset(out / StudyRun.data(split), f"study data {out}") for split in ("train", "test"))
    return data, train, test


def model_config(models: StudyModels, formulation: str, metadata: dict[str, Any], where: str) -> WorldModelRunConfig:
    overrides = [*models.overrides, f"num_updates={models.num_updates}", f"denoiser.formulation={formulation}"]
    return fit_to_data(world_model_config(models.preset, None, overrides), metadata, where)


def trained_model(
    out: Path, name: str, cfg: WorldModelRunConfig, device, log: Callable[[str], None], progress: bool
) -> tuple[Any, dict[str, Any]]:
    """Train (or finish training) the world model ``name`` of the study; returns it, in eval mode, and its
    training results (updates, wall time, the final one-step PSNR)."""
    run = out / name
    results_path = run / WorldModelRun.RESULTS
    done = results_path.is_file() and json.loads(results_path.read_text())["steps"] >= cfg.num_updates
    if not done:
        t0 = time.monotonic()
        train, test = (
            open_dataset(out / StudyRun.data("train"), "--data"),
            open_dataset(out / StudyRun.data("test"), "--test-data"),
        )
        log(f"training the {name} world model ({cfg.num_updates} updates) in {run}")
        train_world_model(
            cfg, train, test, run, device, resume=(run / WorldModelRun.CHECKPOINT).exists(), log=log, progress=progress
        )
        log(f"  {name}: trained in {(time.monotonic() - t0) / 60:.1f} min")
    results = json.loads(results_path.read_text())
    denoiser, _ = load_denoiser(run / WorldModelRun.CHECKPOINT, device)
    return denoiser.eval(), {
        "updates": results["steps"],
        "train_minutes_last_session": results["train_seconds"] / 60,
        "one_step_psnr_db": results["final"]["psnr_model"],
        "one_step_psnr_copy_last_db": results["final"]["psnr_copy_last"],
    }
