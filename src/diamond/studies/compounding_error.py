"""`diamond study compounding-error` (spec §9, Figure 3, appendix K): EDM against DDPM over long imagination.

Both world models share the network, the data, the batch and the number of updates; both imagine from the
same held-out starting contexts with the recorded actions, for each number of denoising steps. Measured per
imagined step: PSNR against the recorded frame (meaningful while the futures agree, the first few dozen
steps) and the distance to the nearest real training frame (``metrics.nearest_distances``), beside the same
distance for the held-out real frames at that step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diamond.data.sampler import uniform_complete_segments
from diamond.evaluation.imagination import imagine_recorded
from diamond.fileio import write_json_atomically
from diamond.layout import StudyRun
from diamond.progress import Progress
from diamond.studies.config import CompoundingErrorConfig
from diamond.studies.figures import frame_grids, horizon_curves
from diamond.studies.metrics import frame_features, nearest_distances, psnr_per_frame
from diamond.studies.pipeline import config_record, model_config, open_study, trained_model

MODELS = (("ddpm", StudyRun.MODEL_DDPM), ("edm", StudyRun.MODEL_EDM))


def _windows(store, segments, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames and actions of each (episode, start) segment, each episode read once (copies: no episode is
    kept whole)."""
    obs, act = [], []
    for e, s in segments:
        episode = store.get(e)
        obs.append(episode.obs[s : s + length].copy())
        act.append(episode.act[s : s + length].copy())
    return np.stack(obs), np.stack(act)


def _bank(store, count: int, size: int, seed: int) -> torch.Tensor:
    """Features of ``count`` training frames drawn uniformly (one episode read at a time)."""
    lengths = np.asarray(store.lengths)
    picks = np.random.default_rng(seed).choice(lengths.sum(), size=min(count, int(lengths.sum())), replace=False)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    episode = np.searchsorted(starts, picks, side="right") - 1
    feats = [frame_features(store.get(int(e)).obs[picks[episode == e] - starts[e]], size) for e in np.unique(episode)]
    return torch.cat(feats)


def _measure(denoiser, sampler, real, act, n, bank, cfg, bar: Progress) -> tuple[dict[str, Any], np.ndarray]:
    imagined = imagine_recorded(
        denoiser,
        replace(sampler, num_steps_denoising=n),
        torch.from_numpy(real),
        torch.from_numpy(act),
        cfg.data.seed,
        on_step=lambda: bar.update(n),
    ).numpy()
    ctx = real.shape[1] - imagined.shape[1]
    future = real[:, ctx:]
    r, h = imagined.shape[:2]
    flat = imagined.reshape(r * h, *imagined.shape[2:])
    psnr = psnr_per_frame(flat, future.reshape(flat.shape)).reshape(r, h)
    drift = nearest_distances(frame_features(flat, cfg.feature_size), bank).reshape(r, h)
    cols = [t - 1 for t in cfg.grid_steps if t <= h]
    return {
        "psnr_per_step": [float(x) for x in np.where(np.isinf(psnr), 99.0, psnr).mean(0)],
        "drift_per_step": [float(x) for x in drift.mean(0)],
    }, imagined[0, cols]


def _measurements(models, real, act, bank, cfg, out: Path, log, progress: bool):
    """Each model imagines with each number of denoising steps; every (model, n) is saved as it completes."""
    measured: dict[str, dict[int, dict[str, Any]]] = {f: {} for f, _ in MODELS}
    grids: dict[str, dict[int, np.ndarray]] = {f: {} for f, _ in MODELS}
    todo = []
    for formulation, _ in MODELS:
        for n in cfg.denoising_steps:
            path = out / StudyRun.measurement(formulation, n)
            if path.with_suffix(".json").is_file():
                measured[formulation][n] = json.loads(path.with_suffix(".json").read_text())
                grids[formulation][n] = np.load(path.with_suffix(".npz"))["frames"]
            else:
                todo.append((formulation, n, path))
    bar = Progress(
        cfg.horizon * sum(n for _, n, _ in todo), unit="denoiser pass", desc="imagination", enabled=progress, log=log
    )
    for formulation, n, path in todo:
        denoiser, _, sampler = models[formulation]
        s0 = time.monotonic()
        m, frames = _measure(denoiser, sampler, real, act, n, bank, cfg, bar)
        m["seconds"] = time.monotonic() - s0
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path.with_suffix(".npz"), frames=frames)
        write_json_atomically(path.with_suffix(".json"), m)
        measured[formulation][n], grids[formulation][n] = m, frames
        log(f"{formulation.upper()} n={n}: {cfg.horizon} imagined steps × {cfg.rollouts} in {m['seconds']:.0f}s")
    bar.close()
    return measured, grids


def run_compounding_error(
    cfg: CompoundingErrorConfig, out: Path, device, log: Callable[[str], None] = print, progress: bool = True
) -> dict[str, Any]:
    t0 = time.monotonic()
    data, train, test = open_study(out, cfg, "diamond study compounding-error", log)
    models = {}
    for formulation, name in MODELS:
        mc = model_config(cfg.models, formulation, train.metadata, f"study data {out}")
        models[formulation] = trained_model(out, name, mc, device, log, progress) + (mc.sampler,)
    ctx = models["edm"][0].context_length
    segments = uniform_complete_segments(
        test.lengths, cfg.rollouts, ctx + cfg.horizon, np.random.default_rng(cfg.data.seed)
    )
    real, act = _windows(test, segments, ctx + cfg.horizon)
    bank = _bank(train, cfg.bank_frames, cfg.feature_size, cfg.data.seed)
    future = real[:, ctx:].reshape(-1, *real.shape[2:])
    real_drift = nearest_distances(frame_features(future, cfg.feature_size), bank).reshape(cfg.rollouts, -1).mean(0)
    measured, grids = _measurements(models, real, act, bank, cfg, out, log, progress)
    ns = list(cfg.denoising_steps)
    cols = [t for t in cfg.grid_steps if t <= cfg.horizon]
    frame_grids(
        {f.upper(): np.stack([grids[f][n] for n in ns]) for f, _ in MODELS},
        [f"n={n}" for n in ns],
        [f"t={t}" for t in cols],
        out / StudyRun.GRID,
        "Imagination from the same context and actions (rows: denoising steps)",
    )
    steps = np.arange(1, cfg.horizon + 1)
    horizon_curves(
        steps,
        {f: {n: np.array(measured[f][n]["psnr_per_step"]) for n in ns} for f, _ in MODELS},
        {f: {n: np.array(measured[f][n]["drift_per_step"]) for n in ns} for f, _ in MODELS},
        real_drift,
        out / StudyRun.CURVES,
    )
    tail = slice(cfg.horizon * 3 // 4, None)  # the last quarter of the horizon
    drift_ratio = {
        f: {n: float(np.mean(measured[f][n]["drift_per_step"][tail]) / np.mean(real_drift[tail])) for n in ns}
        for f, _ in MODELS
    }
    first = slice(0, min(20, cfg.horizon))  # PSNR means something while the futures agree
    results = {
        "config": config_record(cfg),
        "data": data,
        "models": {f: models[f][1] for f, _ in MODELS},
        "real_drift_per_step": [float(x) for x in real_drift],
        "measurements": {f: {str(n): measured[f][n] for n in ns} for f, _ in MODELS},
        "drift_ratio_last_quarter": {f: {str(n): v for n, v in drift_ratio[f].items()} for f in drift_ratio},
        "psnr_first_20_steps_db": {
            f: {str(n): float(np.mean(measured[f][n]["psnr_per_step"][first])) for n in ns} for f, _ in MODELS
        },
        "wall_minutes_this_run": (time.monotonic() - t0) / 60,
    }
    write_json_atomically(out / StudyRun.RESULTS, results)
    return results
