"""Does the engine turn when told to (spec §10)? The same real contexts rolled out with the recorded mouse,
a constant turn left, a constant turn right and the recorded mouse mirrored; the camera's panning is
measured as the horizontal shift between consecutive frames and compared with the real data's.

Keys and buttons stay as recorded in every variant: only the horizontal mouse differs, so a difference in
panning is the mouse's doing, and the actions stay the kind a player makes (walking while turning).
The variants replace the mouse from the action taken in the last context frame on; the earlier actions
made the real context frames and stay as they were. All variants share the sampling noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from diamond.configs.engine import EngineSamplingConfig
from diamond.evaluation.engine_metrics import EngineWindows, engine_rollouts
from diamond.fps_actions import MOUSE_X_BINS, X_SLICE
from diamond.models.engine import Engine
from diamond.progress import Progress

TURN_BIN = 60  # the mouse-x bin of the constant turns (also the arrow keys' move in the players)
VARIANTS = ("recorded", "turn_left", "turn_right", "mirrored")
_LUMA = np.array([0.299, 0.587, 0.114])


def column_profile(frame: np.ndarray) -> np.ndarray:
    """(W,) the mean luminance of each column of a (C, H, W) RGB or (H, W) grey frame."""
    frame = np.asarray(frame, dtype=np.float64)
    if frame.ndim == 3:
        frame = np.tensordot(_LUMA, frame, axes=1) if frame.shape[0] == 3 else frame.mean(axis=0)
    return frame.mean(axis=0)


def horizontal_shift(frame_a: np.ndarray, frame_b: np.ndarray, max_shift: int) -> int:
    """The shift s in [-max_shift, max_shift] such that frame_b[x] ≈ frame_a[x - s]: positive when the
    picture moved right. Found as the best normalised correlation of the overlapping parts of the two
    frames' column luminance profiles (no wrap-around); ties and featureless frames give the smallest |s|."""
    a, b = column_profile(frame_a), column_profile(frame_b)
    width = a.shape[0]
    max_shift = min(max_shift, width - 2)
    best, best_score = 0, -np.inf
    for s in sorted(range(-max_shift, max_shift + 1), key=abs):
        seg_b, seg_a = b[max(0, s) : width + min(0, s)], a[max(0, -s) : width - max(0, s)]
        da, db = seg_a - seg_a.mean(), seg_b - seg_b.mean()
        norm = np.sqrt((da * da).sum() * (db * db).sum())
        score = (da * db).sum() / norm if norm > 1e-9 else 0.0
        if score > best_score + 1e-12:
            best, best_score = s, score
    return best


def step_shifts(frames: np.ndarray, max_shift: int) -> np.ndarray:
    """(..., T - 1) the horizontal shift from each frame to the next of (..., T, C, H, W) frames."""
    lead, t = frames.shape[:-4], frames.shape[-4]
    flat = frames.reshape(-1, *frames.shape[-4:])
    out = [[horizontal_shift(f[k], f[k + 1], max_shift) for k in range(t - 1)] for f in flat]
    return np.asarray(out, dtype=np.float64).reshape(*lead, t - 1)


def mouse_x(act: np.ndarray) -> np.ndarray:
    """(...) the horizontal mouse bin value of each (..., 51) action."""
    return np.asarray(MOUSE_X_BINS)[np.argmax(act[..., X_SLICE], axis=-1)]


def with_mouse_x(act: np.ndarray, value: int) -> np.ndarray:
    """A copy of (..., 51) actions whose horizontal mouse is the bin ``value``."""
    out = np.array(act, dtype=np.float32)
    out[..., X_SLICE] = 0
    out[..., X_SLICE.start + MOUSE_X_BINS.index(value)] = 1
    return out


def mirrored_mouse_x(act: np.ndarray) -> np.ndarray:
    """A copy of (..., 51) actions with each horizontal mouse bin value negated (the bins are symmetric)."""
    out = np.array(act, dtype=np.float32)
    out[..., X_SLICE] = out[..., X_SLICE][..., ::-1]
    return out


def action_variants(act: np.ndarray, start: int) -> dict[str, np.ndarray]:
    """The four (N, T, 51) action sequences of VARIANTS, the mouse replaced from step ``start`` on."""
    changed = {
        "recorded": act[:, start:],
        "turn_left": with_mouse_x(act[:, start:], -TURN_BIN),
        "turn_right": with_mouse_x(act[:, start:], TURN_BIN),
        "mirrored": mirrored_mouse_x(act[:, start:]),
    }
    return {name: np.concatenate([act[:, :start], v.astype(np.float32)], axis=1) for name, v in changed.items()}


def real_panning(windows: EngineWindows, max_shift: int) -> dict:
    """The shift from each real full-resolution frame to the next, grouped by the sign of the mouse-x of
    the action taken in the first frame (and by bin value), as the reference for the imagined shifts."""
    assert windows.full is not None
    shifts = step_shifts(windows.full, max_shift).ravel()
    mouse = mouse_x(windows.act[:, :-1]).ravel()
    out: dict = {}
    for name, where in (("right", mouse > 0), ("left", mouse < 0), ("none", mouse == 0)):
        out[f"real_turn_{name}_shift"] = float(shifts[where].mean()) if where.any() else float("nan")
        out[f"real_turn_{name}_pairs"] = int(where.sum())
    out["real_shift_by_mouse_x"] = {
        str(int(v)): {"mean_shift": float(shifts[mouse == v].mean()), "pairs": int((mouse == v).sum())}
        for v in np.unique(mouse)
    }
    return out


def _sign(x: float) -> int:
    return 0 if not np.isfinite(x) else int(np.sign(x))


def pans_in_commanded_direction(turn_left: float, turn_right: float, real_left: float, real_right: float) -> bool:
    """Turn left and turn right pan opposite ways, each the way the real data pans for it (when the real
    data has only one direction, the other is taken as its opposite)."""
    expected_right = _sign(real_right) or -_sign(real_left)
    if expected_right == 0:
        return False  # the real data shows no panning to compare with
    return _sign(turn_right) == expected_right and _sign(turn_left) == -expected_right


@torch.no_grad()
def action_sensitivity(
    engine: Engine,
    sampling: EngineSamplingConfig,
    windows: EngineWindows,
    real_windows: EngineWindows,
    seed: int,
    bar: Progress | None = None,
) -> tuple[dict, dict[str, np.ndarray]]:
    """The shifts between consecutive imagined frames of each variant's rollouts from ``windows`` and between
    the real frames of ``real_windows``; and each variant's (N, S + 1, C, H, W) full-resolution frames, the
    last real context frame first. The step from the real frame to the first imagined one is left out: it
    would compare a sharp frame with an upsampled one, whose blur can look like a shift."""
    assert windows.full is not None
    n = engine.dynamics.context_length
    max_shift = max(1, windows.full.shape[-1] // 4)
    frames, per_step = {}, {}
    for name, act in action_variants(windows.act, n - 1).items():
        generator = torch.Generator(device=engine.device).manual_seed(seed)  # the same noise for every variant
        _, full = engine_rollouts(engine, sampling, windows, generator, act=act, bar=bar)
        frames[name] = np.concatenate([windows.full[:, n - 1 : n], full], axis=1)
        per_step[name] = step_shifts(full, max_shift)  # imagined to imagined: no real-vs-upsampled blur step
    out: dict = {f"{name}_shift": float(s.mean()) for name, s in per_step.items()}
    out.update({f"{name}_shift_per_step": s.mean(axis=0).tolist() for name, s in per_step.items()})
    out.update(real_panning(real_windows, max_shift))
    out["pans_in_commanded_direction"] = pans_in_commanded_direction(
        out["turn_left_shift"], out["turn_right_shift"], out["real_turn_left_shift"], out["real_turn_right_shift"]
    )
    recorded_sign = _sign(out["recorded_shift"])
    out["mirrored_opposes_recorded"] = recorded_sign != 0 and _sign(out["mirrored_shift"]) == -recorded_sign
    out.update(turn_bin=TURN_BIN, max_shift=max_shift, steps=int(frames["recorded"].shape[1] - 1))
    out.update(num_contexts=len(windows), windows=[list(s) for s in windows.segments])
    return out, frames


def plot_action_sensitivity(result: dict, frames: dict[str, np.ndarray], path: str | Path, columns: int = 8) -> Path:
    """The mean shift per step of each variant beside the real data's, and a strip of the first context's
    frames per variant (the last real context frame first)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax, strip) = plt.subplots(2, 1, figsize=(9, 7.5), dpi=110, gridspec_kw={"height_ratios": [1, 1.4]})
    for name in VARIANTS:
        shifts = result[f"{name}_shift_per_step"]
        ax.plot(
            range(2, len(shifts) + 2), shifts, marker="o", ms=3, label=f"{name} (mean {result[name + '_shift']:+.2f})"
        )
    for name, style in (("right", ":"), ("left", "--")):
        value = result[f"real_turn_{name}_shift"]
        if np.isfinite(value):
            ax.axhline(value, color="grey", ls=style, label=f"real data, mouse {name} (mean {value:+.2f})")
    ax.axhline(0, color="black", lw=0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("imagined step (shift from the previous imagined frame)")
    ax.set_ylabel("horizontal shift (pixels, + = picture moves right)")
    ax.set_title(f"Action sensitivity: constant turns use the mouse-x bin ±{result['turn_bin']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    rows = []
    for name in VARIANTS:
        strip_frames = frames[name][0, :columns]
        gap = np.full((strip_frames.shape[2], 2, 3), 255, np.uint8)
        rows.append(np.concatenate([x for f in strip_frames for x in (f.transpose(1, 2, 0), gap)], axis=1))
        rows.append(np.full((2, rows[-1].shape[1], 3), 255, np.uint8))
    strip.imshow(np.concatenate(rows, axis=0))
    height = frames["recorded"].shape[-2] + 2
    strip.set_yticks([height * (i + 0.5) for i in range(len(VARIANTS))], VARIANTS)
    strip.set_xticks([])
    strip.set_title("first context: last real frame, then imagined frames")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
