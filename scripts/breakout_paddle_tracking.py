"""Does a Breakout world model move the paddle as the recorded actions say?

Imagines open-loop rollouts from real held-out contexts (driven by the recorded actions) and compares the
paddle's horizontal position in imagined and real frames, against freezing the last real context frame.

    python scripts/breakout_paddle_tracking.py RUN/checkpoints/world_model.pt DATA/test [--rollouts 32 --horizon 20]
"""

from __future__ import annotations

import argparse

import numpy as np

from diamond.checkpoints.denoiser import load_denoiser
from diamond.data import EpisodeStore
from diamond.evaluation.imagination import rollouts_from_store

PADDLE_ROWS = slice(56, 61)  # the paddle's rows in a 64×64 Breakout frame
PLAY_COLUMNS = slice(4, 60)  # inside the side walls


def paddle_x(frames: np.ndarray) -> np.ndarray:
    """Column centroid of the red paddle pixels in (..., 3, 64, 64) uint8 frames; NaN where none is seen."""
    band = frames[..., :, PADDLE_ROWS, PLAY_COLUMNS].astype(int)
    red = (band[..., 0, :, :] > 100) & (band[..., 0, :, :] > band[..., 1, :, :] + 50)
    weight = red.sum(axis=-2)
    cols = np.arange(PLAY_COLUMNS.start, PLAY_COLUMNS.stop)
    with np.errstate(invalid="ignore"):
        return (weight * cols).sum(-1) / weight.sum(-1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("data")
    p.add_argument("--rollouts", type=int, default=32)
    p.add_argument("--horizon", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    denoiser, cfg = load_denoiser(args.checkpoint)
    store = EpisodeStore.open(args.data, read_only=True)
    r = rollouts_from_store(denoiser, cfg.sampler, store, args.rollouts, args.horizon, args.seed)
    n = r.num_context
    real, imagined = paddle_x(r.real[:, n:]), paddle_x(r.imagined)
    frozen = np.repeat(paddle_x(r.real[:, n - 1])[:, None], real.shape[1], axis=1)
    seen = ~np.isnan(real) & ~np.isnan(imagined) & ~np.isnan(frozen)
    moved = seen & (np.abs(real - frozen) >= 2)
    print(
        f"paddle found in {np.mean(~np.isnan(imagined)):.0%} of imagined frames ({np.mean(~np.isnan(real)):.0%} of real ones)"
    )
    for k in sorted({1, 5, 10, args.horizon}):
        m = moved[:, :k]
        if m.any():
            print(
                f"first {k:3d} imagined steps, {m.sum():4d} frames where the real paddle had moved >= 2 px: "
                f"|imagined - real| = {np.abs(imagined - real)[:, :k][m].mean():.2f} px, "
                f"|frozen - real| = {np.abs(frozen - real)[:, :k][m].mean():.2f} px"
            )


if __name__ == "__main__":
    main()
