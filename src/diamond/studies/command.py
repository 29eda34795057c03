"""``diamond study NAME``: the spec §9 studies by name, their flags, and the summary printed at the end.

Adding a study is one entry in ``STUDIES``: its presets, the function that runs it, and the lines that
summarise its results.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diamond.flags import add_device_flag
from diamond.studies.config import COMPOUNDING_ERROR_PRESETS, DENOISING_STEPS_PRESETS


@dataclass(frozen=True)
class Study:
    presets: dict[str, Any]
    runner: str  # "module:function", imported when the study runs (the studies import torch)
    summary: Callable[[dict[str, Any]], list[str]]
    help: str


def _compounding_error_summary(results: dict[str, Any]) -> list[str]:
    drift, psnr = results["drift_ratio_last_quarter"], results["psnr_first_20_steps_db"]
    lines = ["drift (last quarter of the horizon, 1 = as far from the training frames as real held-out frames):"]
    for model in drift:
        lines.append(
            f"  {model.upper():4s} "
            + "  ".join(f"n={n}: {v:.2f} ({psnr[model][n]:.1f} dB)" for n, v in drift[model].items())
        )
    steps = min(20, results["config"]["horizon"])  # the steps compounding_error averages its PSNR over
    lines.append(f"  (in brackets: PSNR against the recorded frames over the first {steps} imagined steps)")
    return lines


def _denoising_steps_summary(results: dict[str, Any]) -> list[str]:
    lines = ["sharpness (median Laplacian energy of the prediction / of the real next frame, 1 = as sharp):"]
    for n, regions in results["sharpness_ratio"].items():
        lines.append(f"  n={n}: " + "  ".join(f"{region} {v:.2f}" for region, v in regions.items()))
    return lines


STUDIES: dict[str, Study] = {
    "compounding-error": Study(
        COMPOUNDING_ERROR_PRESETS,
        "diamond.studies.compounding_error:run_compounding_error",
        _compounding_error_summary,
        "Figure 3, appendix K: EDM against DDPM world models imagining long horizons with 1..10 denoising steps",
    ),
    "denoising-steps": Study(
        DENOISING_STEPS_PRESETS,
        "diamond.studies.denoising_steps:run_denoising_steps",
        _denoising_steps_summary,
        "Figure 4, appendix L: one against several denoising steps on Boxing; sharpness of each boxer",
    ),
}


def run_study(
    name: str,
    preset: str,
    overrides: list[str] | None,
    out: Path,
    device: str,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run (or resume) study ``name`` with ``preset`` and ``--set`` overrides in ``out``; returns its results."""
    import importlib

    from diamond.configs.presets import update_config
    from diamond.configs.schema import ConfigError
    from diamond.devices import resolve_device

    study = STUDIES[name]
    if preset not in study.presets:
        raise ConfigError(f"--preset {preset!r}: expected one of {', '.join(study.presets)} for the {name} study")
    cfg = update_config(study.presets[preset], None, overrides)
    module, function = study.runner.split(":")
    runner = getattr(importlib.import_module(module), function)
    results = runner(cfg, Path(out), resolve_device(device), log=log, progress=progress)
    for line in study.summary(results):
        log(line)
    log(f"figures and every number (results.json) are in {out}")
    return results


def cmd_study(args: argparse.Namespace) -> int:
    out = args.out or f"runs/study-{args.name}-{args.preset}"
    run_study(args.name, args.preset, args.set, Path(out), args.device, progress=not args.no_progress)
    return 0


def add_parser(sub) -> None:
    """The ``study`` subcommand, added to the ``diamond`` command's subparsers."""
    sp = sub.add_parser("study", help="the paper's analyses (spec §9): compounding-error, denoising-steps")
    sp.add_argument(
        "name", choices=list(STUDIES), help="; ".join(f"{k}: {s.help}" for k, s in STUDIES.items()), metavar="STUDY"
    )
    sp.add_argument("--preset", default="cpu", help="paper (GPU) | cpu (two cores, under an hour) | tiny (default cpu)")
    sp.add_argument("--out", help="study folder; re-running resumes (default runs/study-STUDY-PRESET)")
    sp.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a study setting, e.g. --set models.num_updates=8000, or --set horizon=300 for compounding-error "
        "(repeatable)",
    )
    add_device_flag(sp)
    sp.add_argument("--no-progress", action="store_true", help="no progress lines")
    sp.set_defaults(func=cmd_study)
