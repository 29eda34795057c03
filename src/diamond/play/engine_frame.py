"""What the engine players show after each step of ``EngineSession``: the frame and what led to it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class EngineFrame:
    """What the UI shows after a step (or a restart): the frame and what led to it."""

    full: np.ndarray  # (3, H, W) uint8
    low: np.ndarray  # (3, h, w) uint8
    setting: str
    denoising_steps: tuple[int, int]  # dynamics, upsampler
    spawn: int
    num_spawns: int
    timestep: int
    horizon: int
    held: tuple[str, ...]  # the keys and buttons of the action that made this frame (after filtering)
    mouse: tuple[int, int]  # its mouse bins
    sensitivity: float
    paused: bool
    message: str = ""
    world: str = "model"  # "real": a frame of the real game (``real_game``), not of the model

    def image(self) -> np.ndarray:
        """(H, W, 3) uint8 for drawing."""
        return np.ascontiguousarray(self.full.transpose(1, 2, 0))
