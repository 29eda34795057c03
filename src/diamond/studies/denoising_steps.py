"""`diamond study denoising-steps` (spec §9, Figure 4, appendix L): one against several denoising steps.

One EDM world model, trained on the Boxing expert's data, predicts the next frame of held-out contexts with
each number of denoising steps. The claim under test: one step gives the mean of the possible next frames,
so the opponent (whose move the model cannot know) is blurred while the player the actions control is not;
three steps pick one future and are sharp. Measured: the Laplacian energy of the prediction over each
boxer's region in the real next frame, divided by the real frame's (1 = as sharp as the game).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diamond.data.sampler import uniform_complete_segments
from diamond.evaluation.imagination import imagine_recorded
from diamond.evaluation.prediction import held_out_contexts
from diamond.fileio import write_json_atomically
from diamond.imaging import to_model_range, to_uint8
from diamond.layout import StudyRun
from diamond.studies.config import DenoisingStepsConfig
from diamond.studies.figures import frame_grids, sharpness_bars
from diamond.studies.metrics import colour_region, laplacian_energy
from diamond.studies.pipeline import config_record, model_config, open_study, trained_model

REGIONS = {"player (controlled)": "white", "opponent": "black"}


@torch.no_grad()
def _predict(denoiser, sampler, held, n: int, seed: int, batch: int = 32) -> np.ndarray:
    generator = torch.Generator(device=denoiser.device).manual_seed(seed)
    out = []
    for i in range(0, len(held), batch):
        obs = to_model_range(held.obs[i : i + batch].to(denoiser.device))
        x, _ = denoiser.sample_next_obs(
            obs,
            held.act[i : i + batch].to(denoiser.device),
            replace(sampler, num_steps_denoising=n),
            generator=generator,
        )
        out.append(to_uint8(x).cpu().numpy())
    return np.concatenate(out)


def sharpness_ratios(predicted: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """Median over frames of predicted / real Laplacian energy, per region and over the whole frame."""
    ratios = {}
    whole = np.ones(real.shape[:1] + real.shape[2:], bool)
    for region, colour in (*REGIONS.items(), ("whole frame", None)):
        masks = whole if colour is None else colour_region(real, colour)
        ref, pred = laplacian_energy(real, masks), laplacian_energy(predicted, masks)
        ok = np.isfinite(ref) & (ref > 0)
        ratios[region] = float(np.median(pred[ok] / ref[ok])) if ok.any() else float("nan")
    return ratios


def _rollouts(denoiser, sampler, test, cfg: DenoisingStepsConfig) -> np.ndarray:
    """(1 + len(denoising_steps), rollout_steps, C, H, W): one held-out segment's real frames, then the same
    segment imagined from its context with its recorded actions for each number of denoising steps."""
    ctx = denoiser.context_length
    ((episode, start),) = uniform_complete_segments(
        test.lengths, 1, ctx + cfg.rollout_steps, np.random.default_rng(cfg.data.seed)
    )
    recorded = test.get(episode)
    real = torch.from_numpy(recorded.obs[start : start + ctx + cfg.rollout_steps][None].copy())
    act = torch.from_numpy(recorded.act[start : start + ctx + cfg.rollout_steps][None].copy())
    rows = [real[0, ctx:].numpy()]
    for n in cfg.denoising_steps:
        step_sampler = replace(sampler, num_steps_denoising=n)
        rows.append(imagine_recorded(denoiser, step_sampler, real, act, cfg.data.seed)[0].numpy())
    return np.stack(rows)


def run_denoising_steps(
    cfg: DenoisingStepsConfig, out: Path, device, log: Callable[[str], None] = print, progress: bool = True
) -> dict[str, Any]:
    t0 = time.monotonic()
    data, train, test = open_study(out, cfg, "diamond study denoising-steps", log)
    mc = model_config(cfg.models, "edm", train.metadata, f"study data {out}")
    denoiser, training = trained_model(out, StudyRun.MODEL_EDM, mc, device, log, progress)
    held = held_out_contexts(test, cfg.contexts, denoiser.context_length, seed=cfg.data.seed)
    real = held.next_obs.numpy()
    ns = list(cfg.denoising_steps)
    predictions = {n: _predict(denoiser, mc.sampler, held, n, cfg.data.seed) for n in ns}
    ratios = {n: sharpness_ratios(predictions[n], real) for n in ns}
    examples = np.stack([real[: cfg.examples]] + [predictions[n][: cfg.examples] for n in ns], axis=1)
    frame_grids(
        {"one-step predictions": examples},
        [f"context {i}" for i in range(cfg.examples)],
        ["real"] + [f"n={n}" for n in ns],
        out / StudyRun.GRID,
        "Boxing: the next frame predicted with n denoising steps",
    )
    frame_grids(
        {"imagination": _rollouts(denoiser, mc.sampler, test, cfg)},
        ["real"] + [f"n={n}" for n in ns],
        [f"t={t}" for t in range(1, cfg.rollout_steps + 1)],
        out / StudyRun.ROLLOUTS,
        "Boxing: the same context and actions imagined with n denoising steps",
    )
    sharpness_bars(ratios, out / StudyRun.SHARPNESS)
    results = {
        "config": config_record(cfg),
        "data": data,
        "model": training,
        "sharpness_ratio": {str(n): ratios[n] for n in ns},
        "wall_minutes_this_run": (time.monotonic() - t0) / 60,
    }
    write_json_atomically(out / StudyRun.RESULTS, results)
    return results
