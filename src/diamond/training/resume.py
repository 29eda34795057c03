"""Starting a run folder afresh or resuming it from its checkpoint: the one rule that ``train-world-model``
and ``train-engine`` share (``diamond train`` adds episode roll-back on top, in ``run.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from diamond.checkpoints.project import load_checkpoint, require_generator_device, require_same_config
from diamond.configs.schema import ConfigError
from diamond.fileio import write_json_atomically


def start_or_resume(
    run_dir: Path,
    checkpoint: str,
    config_file: str,
    config: dict[str, Any],
    cls: type,
    resume: bool,
    device: torch.device,
    what: str,
) -> dict[str, Any] | None:
    """The checkpoint's payload to resume from (its config and generators' device checked), or None for a
    fresh run. Refuses, changing nothing, to start over an existing checkpoint without ``resume`` or to
    resume without one. Then writes the configuration to ``run_dir/config_file``."""
    path = run_dir / checkpoint
    payload = None
    if path.exists():
        if not resume:
            raise ConfigError(
                f"{run_dir} already holds {what} checkpoint; pass --resume to continue it, "
                "or choose another --out (nothing was changed)"
            )
        payload = load_checkpoint(path)  # on the CPU: generator states must stay CPU tensors
        require_generator_device(path, payload, device)
        require_same_config(path, payload["config"], config, cls)
    elif resume:
        raise ConfigError(f"--resume: {path} does not exist; nothing to resume")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomically(run_dir / config_file, config)
    return payload


def drop_lines_after(metrics: Path, key: str, last: int) -> None:
    """Keep the JSON lines of ``metrics`` whose ``key`` is at most ``last``: what a resumed run repeats goes."""
    if metrics.exists():
        kept = [line for line in metrics.read_text().splitlines() if json.loads(line)[key] <= last]
        metrics.write_text("".join(line + "\n" for line in kept))
