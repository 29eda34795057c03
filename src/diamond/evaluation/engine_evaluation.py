"""One evaluation of a trained engine on held-out data (spec §10): the numbers in ``evaluation.json``, a
video of real and imagined rollouts side by side, the PSNR over the rollout horizon and the action
sensitivity figure, all in one folder (file names: ``layout.EngineEvaluation``).

Entry point: ``evaluate_engine``; the training command decides when to call it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from diamond.configs.engine import EngineConfig
from diamond.data.engine_data import EngineSplit
from diamond.evaluation.action_sensitivity import VARIANTS, action_sensitivity, plot_action_sensitivity
from diamond.evaluation.engine_metrics import (
    EngineWindows,
    engine_rollouts,
    held_out_windows,
    one_step_dynamics,
    rollout_metrics,
    upsampler_vs_bicubic,
)
from diamond.evaluation.imagination import Rollouts, side_by_side_frames, write_video
from diamond.fileio import write_json_atomically
from diamond.layout import EngineEvaluation
from diamond.models.engine import Engine
from diamond.progress import Progress

MAX_ROLLOUTS = 8  # contexts of the rollouts and of the action sensitivity
SENSITIVITY_STEPS = 12  # imagined steps of each action-sensitivity variant
VIDEO_ROLLOUTS = 4  # rollouts tiled in the video


def check_split(split: EngineSplit, engine: Engine, cfg: EngineConfig, sensitivity_steps: int = SENSITIVITY_STEPS):
    """Refuse a split too short for ``evaluate_engine``: its longest window is a context and the rollout."""
    n, n_up = engine.dynamics.context_length, engine.upsampler.context_length
    frames = max(n + 1, n_up + 1, n + cfg.rollout_horizon, n + sensitivity_steps)
    split.require_frames(
        frames, f"the held-out evaluation (a {n}-frame context and up to {frames - n} frames after it)"
    )


def evaluate_engine(
    engine: Engine,
    split: EngineSplit,
    out_dir: str | Path,
    cfg: EngineConfig,
    setting: str = "higher_quality",
    seed: int = 0,
    progress: bool | Callable[[str], None] | None = None,
    num_rollouts: int = MAX_ROLLOUTS,
    sensitivity_steps: int = SENSITIVITY_STEPS,
    batch_size: int = 16,
) -> dict:
    """Evaluate ``engine`` on ``split`` with the sampling ``setting`` ("fast" or "higher_quality"), write
    the ``EngineEvaluation`` files into ``out_dir`` and return the numbers written to its ``RESULTS``.

    ``progress``: True prints progress with an ETA (in generated frames) to stderr, a callable receives
    the lines instead, None or False is silent. Non-finite PSNRs (identical frames) are written as "inf".
    """
    if sensitivity_steps < 2:
        raise ValueError(f"sensitivity_steps={sensitivity_steps}: the shift between imagined frames needs at least 2")
    check_split(split, engine, cfg, sensitivity_steps)
    started = time.monotonic()
    sampling = cfg.sampling(setting)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n, n_up = engine.dynamics.context_length, engine.upsampler.context_length
    n_roll = min(cfg.eval_contexts, num_rollouts)
    total = 2 * cfg.eval_contexts + n_roll * (cfg.rollout_horizon + len(VARIANTS) * sensitivity_steps)
    bar = _progress_bar(total, setting, progress)

    def generator() -> torch.Generator:
        return torch.Generator(device=engine.device).manual_seed(seed)

    was_training = engine.training
    engine.eval()
    try:
        with torch.no_grad():
            one_step_windows = held_out_windows(split, cfg.eval_contexts, n + 1, seed, full_res=False)
            one_step = one_step_dynamics(
                engine.dynamics, sampling.dynamics, one_step_windows, generator(), batch_size, bar
            )
            pairs = held_out_windows(split, cfg.eval_contexts, n_up + 1, seed + 1)
            upsampler = upsampler_vs_bicubic(engine.upsampler, sampling.upsampler, pairs, generator(), batch_size, bar)
            windows = held_out_windows(split, n_roll, n + cfg.rollout_horizon, seed + 2)
            low, full = engine_rollouts(engine, sampling, windows, generator(), batch_size=batch_size, bar=bar)
            real_windows = held_out_windows(split, cfg.eval_contexts, n + sensitivity_steps, seed + 3)
            sensitivity, variant_frames = action_sensitivity(
                engine, sampling, real_windows.head(n_roll), real_windows, seed, bar
            )
    finally:
        engine.train(was_training)
        bar.close()
    if callable(progress):
        progress(bar.line())
    rollouts = rollout_metrics(windows, low, full, n)
    files = {
        "rollout_video": _write_rollout_video(windows, full, n, split, out_dir / EngineEvaluation.ROLLOUT_VIDEO),
        "psnr_plot": plot_rollout_psnr(rollouts, out_dir / EngineEvaluation.PSNR_PLOT, setting),
        "action_sensitivity": plot_action_sensitivity(
            sensitivity, variant_frames, out_dir / EngineEvaluation.ACTION_SENSITIVITY
        ),
    }
    result = {
        "dataset": str(split.root),
        "split": split.split,
        "setting": setting,
        "seed": seed,
        "context_length": n,
        "one_step": one_step,
        "upsampler": upsampler,
        "rollouts": rollouts,
        "action_sensitivity": sensitivity,
        "files": {key: path.name for key, path in files.items()},
        "seconds": time.monotonic() - started,
    }
    write_json_atomically(out_dir / EngineEvaluation.RESULTS, result)
    return result


def _progress_bar(total: int, setting: str, progress: bool | Callable[[str], None] | None) -> Progress:
    log = progress if callable(progress) else None
    return Progress(total, unit="frame", desc=f"engine evaluation ({setting})", enabled=bool(progress), log=log)


def _write_rollout_video(
    windows: EngineWindows, full: np.ndarray, num_context: int, split: EngineSplit, path: Path
) -> Path:
    """Real | imagined at full resolution, the first VIDEO_ROLLOUTS rollouts one under the other."""
    k = min(VIDEO_ROLLOUTS, len(windows))
    rollouts = Rollouts(real=windows.full[:k], imagined=full[:k], act=windows.act[:k], num_context=num_context)
    scale = max(1, round(120 / full.shape[-2]))  # small test frames are enlarged; CS:GO's 150 rows are not
    return write_video(side_by_side_frames(rollouts, scale=scale, space=split.action_space), path, fps=8)


def plot_rollout_psnr(rollouts: dict, path: str | Path, setting: str = "") -> Path:
    """PSNR over the rollout horizon at both resolutions, with the copy-last-context baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    steps = np.arange(1, rollouts["horizon"] + 1)
    fig, ax = plt.subplots(figsize=(6.5, 3.8), dpi=120)
    for res, color in (("full_res", "C0"), ("low_res", "C1")):
        label = res.replace("_res", " resolution")
        ax.plot(steps, _capped(rollouts[f"psnr_{res}"]), color=color, marker="o", ms=3, label=f"engine, {label}")
        ax.plot(steps, _capped(rollouts[f"psnr_copy_last_{res}"]), color=color, ls="--", label=f"copy last, {label}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("imagined step after the real context")
    ax.set_ylabel("PSNR vs real frame (dB)")
    ax.set_title(f"Held-out rollouts ({rollouts['num_rollouts']}, recorded actions, {setting or 'engine'})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _capped(values: list[float], cap: float = 99.0) -> np.ndarray:
    """Identical frames have infinite PSNR; cap it so that it can be plotted."""
    return np.minimum(np.asarray(values, dtype=np.float64), cap)
