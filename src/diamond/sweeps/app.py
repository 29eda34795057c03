"""The Hydra application of a sweep: one job = one ``diamond train`` run of (game, seed).

Run it through ``diamond sweep`` (which validates everything first), or directly with Hydra's own
command line, e.g. ``python -m diamond.sweeps.app -m game=Breakout,Pong seed=0,1,2 root=sweeps/a100k
hydra/launcher=submitit_slurm hydra.launcher.partition=gpu``. A job whose run has finished is skipped,
an unfinished one resumes from its last checkpoint, so launching the same sweep again completes only
what is missing.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from diamond.sweeps.runs import FINISHED, UNFINISHED, run_folder, run_status


@dataclass
class SweepJob:
    game: str = "Breakout"
    seed: int = 0
    preset: str = "paper"
    env: str = "atari"
    root: str = "sweeps/default"
    overrides: list[str] = field(default_factory=list)  # `diamond train --set` items
    device: str = "auto"


ConfigStore.instance().store(name="sweep_job", node=SweepJob)


def run_job(job: SweepJob | Any, log=print) -> str:
    """Train, resume or skip the run of (game, seed); returns what happened."""
    from diamond.training.command import train_agent

    run_dir = run_folder(job.root, job.game, job.seed)
    status = run_status(run_dir)
    tag = f"[{job.game} seed {job.seed}]"
    if status == FINISHED:
        log(f"{tag} finished earlier: {run_dir}; skipped")
        return "skipped"
    prefix = lambda msg: log(f"{tag} {msg}")  # noqa: E731
    try:
        if status == UNFINISHED:
            log(f"{tag} resuming {run_dir}")
            train_agent(
                out=None,
                resume=str(run_dir),
                preset=None,
                config_file=None,
                overrides=[],
                env=None,
                game=None,
                model_free=False,
                seed=None,
                device=job.device,
                log=prefix,
            )
            return "resumed"
        log(f"{tag} starting {run_dir}")
        train_agent(
            out=str(run_dir),
            resume=None,
            preset=job.preset,
            config_file=None,
            overrides=list(job.overrides),
            env=job.env,
            game=job.game,
            model_free=False,
            seed=job.seed,
            device=job.device,
            log=prefix,
        )
        return "trained"
    except Exception:  # one failed run must not stop the sweep; the report lists it as missing
        log(f"{tag} FAILED:\n{traceback.format_exc()}")
        return "failed"


@hydra.main(version_base=None, config_name="sweep_job")
def main(cfg: Any) -> str:
    job = SweepJob(**OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
    return run_job(job, log=lambda m: print(m, flush=True))


if __name__ == "__main__":
    main()
