"""What a recorded FPS dataset holds: action statistics, game statistics and a contact sheet (spec §10 format).

``action_statistics`` reads the action vectors back from the HDF5 files (so it describes what is on disk);
``GameTally`` counts what only the live game knows (enemies in sight, shots, hits, kills, deaths) while
recording; ``contact_sheet`` draws a grid of frames sampled evenly across the files, each captioned with
its file number and frame index.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diamond import fps_actions
from diamond.data.hdf5_episodes import file_number, h5py_module


def episode_length(f: Any) -> int:
    """Frames in an open episode file: the number of ``frame_{i}_x`` keys."""
    return sum(1 for k in f.keys() if k.startswith("frame_") and k.endswith("_x"))


def read_actions(paths: Sequence[str | os.PathLike]) -> np.ndarray:
    """(T, 51) action vectors of the files, in order."""
    h5py = h5py_module()
    out = []
    for path in paths:
        with h5py.File(path, "r") as f:
            out += [np.asarray(f[f"frame_{i}_y"]) for i in range(episode_length(f))]
    return np.stack(out) if out else np.zeros((0, fps_actions.SIZE))


def action_statistics(actions: np.ndarray) -> dict[str, Any]:
    """The fraction of frames each key and button is held, and the histograms of the two mouse axes."""
    actions = np.asarray(actions)
    n = max(1, len(actions))
    names = fps_actions.KEYS + fps_actions.BUTTONS
    held = {name: round(float(actions[:, i].sum()) / n, 4) for i, name in enumerate(names)}

    def histogram(sl: slice, bins: tuple[int, ...]) -> dict[str, int]:
        counts = actions[:, sl].sum(axis=0) if len(actions) else np.zeros(len(bins))
        return {str(v): int(c) for v, c in zip(bins, counts)}

    x_hist = histogram(fps_actions.X_SLICE, fps_actions.MOUSE_X_BINS)
    y_hist = histogram(fps_actions.Y_SLICE, fps_actions.MOUSE_Y_BINS)
    return {
        "frames": len(actions),
        "held_fraction": held,
        "mouse_x_histogram": x_hist,
        "mouse_y_histogram": y_hist,
        "mouse_x_bins_used": sum(1 for c in x_hist.values() if c > 0),
        "mouse_y_bins_used": sum(1 for c in y_hist.values() if c > 0),
        "mouse_x_still_fraction": round(x_hist["0"] / n, 4),
        "mouse_y_still_fraction": round(y_hist["0"] / n, 4),
    }


@dataclass
class GameTally:
    """Counts of what happened in the game during a recording (from the env's game variables and labels)."""

    frames: int = 0
    enemy_visible_frames: int = 0
    shots: int = 0  # ammunition spent by the weapon in hand (the fist and chainsaw spend none)
    hits: int = 0  # HITCOUNT: hits the player's attacks landed
    kills: int = 0  # KILLCOUNT (monsters) + FRAGCOUNT (other players)
    deaths: int = 0

    def update(self, before: Any, after: Any, died: bool) -> None:
        """One frame: ``before`` and ``after`` are the views (or None) around the action; ``died``: it ended a life."""
        self.frames += 1
        self.deaths += int(died)
        if before is None:
            return
        self.enemy_visible_frames += int(bool(before.enemies))
        if after is None:
            return
        b, a = before.variables, after.variables
        gain = lambda name: max(0, int(round(a[name] - b[name])))  # noqa: E731 - counters only go up within a life
        self.hits += gain("HITCOUNT")
        self.kills += gain("KILLCOUNT") + gain("FRAGCOUNT")
        if a["SELECTED_WEAPON"] == b["SELECTED_WEAPON"]:
            self.shots += max(0, int(round(b["SELECTED_WEAPON_AMMO"] - a["SELECTED_WEAPON_AMMO"])))

    def to_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "enemy_visible_fraction": round(self.enemy_visible_frames / max(1, self.frames), 4),
            "shots_fired": self.shots,
            "hits": self.hits,
            "kills": self.kills,
            "deaths": self.deaths,
        }


def contact_sheet(
    paths: Sequence[str | os.PathLike], out: str | os.PathLike, cols: int = 6, rows: int = 4, scale: float = 1.0
) -> Path:
    """A PNG grid of ``rows × cols`` frames sampled evenly across the files (BGR on disk, shown as RGB)."""
    from PIL import Image, ImageDraw

    h5py = h5py_module()
    paths = sorted(paths, key=lambda p: file_number(p) or 0)
    if not paths:
        raise ValueError("contact_sheet: no episode files to sample")
    picks = []
    for k in range(rows * cols):
        path = paths[k * len(paths) // (rows * cols)]
        with h5py.File(path, "r") as f:
            n = episode_length(f)
            i = (k * 7919) % n if n else 0  # spread over the episode, not always its first frame
            bgr = np.asarray(f[f"frame_{i}_x"])
        picks.append((Image.fromarray(np.ascontiguousarray(bgr[..., ::-1])), f"#{file_number(path)} f{i}"))
    w, h = picks[0][0].size
    w, h = round(w * scale), round(h * scale)
    sheet = Image.new("RGB", (cols * w, rows * h))
    draw = ImageDraw.Draw(sheet)
    for k, (img, caption) in enumerate(picks):
        x, y = (k % cols) * w, (k // cols) * h
        sheet.paste(img.resize((w, h), Image.Resampling.BICUBIC), (x, y))
        draw.rectangle((x, y, x + 6 * len(caption) + 4, y + 12), fill=(0, 0, 0))
        draw.text((x + 2, y + 1), caption, fill=(255, 255, 0))
    out = Path(out)
    sheet.save(out)
    return out
