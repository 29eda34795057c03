"""`diamond record-vizdoom`: a real FPS dataset in the CS:GO file format, played by the scripted ViZDoom player.

Each file ``hdf5_dm_july2021_<N>.hdf5`` holds exactly ``episode_frames`` frames (BGR, 150×280) and the
action taken at each frame (spec §10). File N is played in a new game seeded with ``seed·100000 + N``
by a player seeded the same way, so in the single-player scenario a file's content depends only on (seed, N,
episode_frames): a re-run resumes after the highest existing N and writes the files the uninterrupted run
would have. (ViZDoom's bots are not reproducible, so multi_deathmatch files are not.)
When the player dies inside a file, the next frame is the first of its next life (a respawn in a
multiplayer scenario, a new game episode otherwise): a cut, as between CS:GO deathmatch lives.

At the end it writes ``recording_report.json`` (frames/s, files, action statistics of every file in the
folder, game statistics of this run) and ``contact_sheet.png``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from diamond.data.hdf5_episodes import FILE_PREFIX, episode_file_name, file_number, h5py_module, write_hdf5_episode
from diamond.envs.base import check_int
from diamond.envs.vizdoom_fps import MOUSE_DEGREES_PER_UNIT, VizdoomConfig, VizdoomFPSEnv, validate_scenario
from diamond.envs.vizdoom_player import ScriptedPlayer
from diamond.evaluation.fps_recording import GameTally, action_statistics, contact_sheet, episode_length, read_actions
from diamond.fileio import same_flags, write_json_atomically
from diamond.progress import Progress

REPORT = "recording_report.json"
CONTACT_SHEET = "contact_sheet.png"
SETTINGS = "recording_settings.json"  # what every file of the folder is recorded with, written before the first


def existing_files(out: Path) -> list[Path]:
    """The episode files already in ``out``, ordered by their number."""
    found = [p for p in out.glob(f"{FILE_PREFIX}*.hdf5") if file_number(p) is not None]
    return sorted(found, key=file_number)


def file_seed(seed: int, number: int) -> int:
    return seed * 100_000 + number


def record_file(
    env: VizdoomFPSEnv, seed: int, frames: int, tally: GameTally, on_frame: Callable[[], None] = lambda: None
) -> tuple[np.ndarray, np.ndarray]:
    """``frames`` (BGR frames (T, 150, 280, 3) uint8, actions (T, 51)) from a new game episode seeded ``seed``."""
    player = ScriptedPlayer(seed)
    obs, info = env.reset(seed=seed)
    player.reset()
    images = np.empty((frames, *env.observation_shape[1:], 3), dtype=np.uint8)
    actions = np.empty((frames, env.action_space.size), dtype=np.float32)
    for t in range(frames):
        images[t] = obs.transpose(1, 2, 0)[..., ::-1]  # RGB channels-first -> BGR, as the CS:GO files
        view = info.get("view")
        actions[t] = player.act(view)
        obs, _, end, trunc, info = env.step(actions[t])
        tally.update(view, info.get("view"), died=end)
        if end or trunc:
            obs, info = env.reset()
            player.reset()
        on_frame()
    env.action_space.check(actions, "recorded actions")
    return images, actions


def record_vizdoom(
    out: str | Path,
    frames: int,
    episode_frames: int = 1000,
    scenario: str = "deathmatch",
    seed: int = 0,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Record until ``out`` holds ceil(frames / episode_frames) files; return (and write) the report."""
    check_int("record-vizdoom", "frames", frames, 1)
    check_int("record-vizdoom", "episode_frames", episode_frames, 1)
    check_int("record-vizdoom", "seed", seed, 0, 40_000)  # seed·100000 + N must fit ViZDoom's 32-bit seeds
    validate_scenario(scenario, "--scenario")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    have = existing_files(out)
    settings = {"scenario": scenario, "seed": seed, "episode_frames": episode_frames}
    # a folder recorded before the settings file existed: its report says how
    report = json.loads((out / REPORT).read_text()) if have and (out / REPORT).is_file() else None
    legacy = {k: report.get(k) for k in settings} if report is not None else None
    same_flags(out / SETTINGS, settings, f"{out} holds a recording made with other settings", legacy)
    target = math.ceil(frames / episode_frames)
    todo = max(0, target - len(have))
    first = (file_number(have[-1]) + 1) if have else 0
    if have:
        log(f"{out} already holds {len(have)} episode files (up to #{first - 1}); recording {todo} more")
    if todo == 0 and (out / REPORT).is_file():  # finished: keep the report of the run that recorded the files
        report = json.loads((out / REPORT).read_text())
        log(_summary(report))
        return report
    tally = GameTally()
    bar = Progress(todo * episode_frames, unit="frame", desc="record-vizdoom", enabled=progress)
    t0 = time.monotonic()
    try:
        for number in range(first, first + todo):
            # a fresh game per file: the engine keeps global tic counters across game episodes that would
            # otherwise make a file depend on the files before it (0.2 s per file)
            env = VizdoomFPSEnv(VizdoomConfig(scenario=scenario))
            try:
                images, actions = record_file(env, file_seed(seed, number), episode_frames, tally, bar.update)
            finally:
                env.close()
            write_hdf5_episode(out / episode_file_name(number), images, actions)
    finally:
        bar.close()
    seconds = time.monotonic() - t0
    files = existing_files(out)
    report = _report(out, files, tally, seconds, scenario, seed, episode_frames)
    write_json_atomically(out / REPORT, report)
    contact_sheet(files, out / CONTACT_SHEET)
    log(_summary(report))
    return report


def _report(
    out: Path, files: list[Path], tally: GameTally, seconds: float, scenario: str, seed: int, episode_frames: int
) -> dict[str, Any]:
    h5py = h5py_module()
    total = 0
    for path in files:
        with h5py.File(path, "r") as f:
            total += episode_length(f)
    return {
        "folder": str(out),
        "scenario": scenario,
        "seed": seed,
        "episode_frames": episode_frames,
        "frame_rate_hz": 35 / VizdoomConfig().tics_per_frame,
        "mouse_degrees_per_unit": MOUSE_DEGREES_PER_UNIT,
        "files": len(files),
        "frames_in_folder": total,
        "this_run": {
            "frames_recorded": tally.frames,
            "seconds": round(seconds, 1),
            "frames_per_s": round(tally.frames / seconds, 1) if tally.frames else None,
            **tally.to_json(),
        },
        "actions": action_statistics(read_actions(files)),
        "contact_sheet": str(out / CONTACT_SHEET),
    }


def _summary(r: dict[str, Any]) -> str:
    run, act = r["this_run"], r["actions"]
    held = ", ".join(f"{k} {v:.0%}" for k, v in act["held_fraction"].items())
    return (
        f"{r['folder']}: {r['files']} files, {r['frames_in_folder']} frames; this run recorded "
        f"{run['frames_recorded']} frames at {run['frames_per_s']} frames/s\n"
        f"held: {held}\n"
        f"mouse bins used: x {act['mouse_x_bins_used']}/23 (still {act['mouse_x_still_fraction']:.0%}), "
        f"y {act['mouse_y_bins_used']}/15 (still {act['mouse_y_still_fraction']:.0%})\n"
        f"enemy in sight {run['enemy_visible_fraction']:.0%} of frames; shots {run['shots_fired']}, "
        f"hits {run['hits']}, kills {run['kills']}, deaths {run['deaths']}\n"
        f"wrote {r['folder']}/{REPORT} and {r['contact_sheet']}"
    )
