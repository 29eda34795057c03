"""Importing the CS:GO source dataset (spec §10): a folder of HDF5 episodes in, four episode stores out.

The output folder (names in ``diamond.layout.StaticDataset``)::

    dataset.json                        written first: the format and the held-out file names
    {train,test}/{low_res,full_res}/    episode stores; an episode has the same id at both resolutions
    imported.json                       the source file of each episode of each split, in store order
    skipped.json                        bad source files that were not imported, with the reason

A source file of T frames becomes one episode of T - 1 transitions: obs = frames 0..T-2, final_obs = frame
T-1, act = actions 0..T-2, no reward, no terminal, truncated on the last step; info keeps the file's name,
its number and its last action, so nothing of the source is lost. Files go to the test split when their
name is in the held-out list, else to train, and are imported in the order of their number.

Resuming (crash-safe per episode). Each episode is added to the low_res store, then to the full_res
store, then its name is appended to imported.json (rewritten atomically). On start, per split:

1. stores whose lengths differ by one (a crash between the two adds): the longer is rolled back, and that
   file is imported again;
2. imported.json is a cache of the names the stores hold: it is trusted when it lists as many episodes as
   the stores and its last name is the last episode's ``source_file`` in both; otherwise it is rebuilt
   from the episodes' info (read from the file headers only, not the frames).

A file counts as imported when both of its stores hold it, so no file is imported twice and none is lost.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from diamond.data.datasets import open_or_create_store
from diamond.data.episode import Episode
from diamond.data.hdf5_episodes import (
    FULL_RES,
    LOW_RES,
    BadSourceFile,
    csgo_test_split,
    file_number,
    h5py_module,
    read_hdf5_episode,
    sorted_by_number,
)
from diamond.data.store import EpisodeStore, StoreError
from diamond.errors import InvalidValue
from diamond.fileio import write_json_atomically
from diamond.fps_actions import SIZE, csgo_action_space
from diamond.imaging import downscale_frames
from diamond.layout import StaticDataset
from diamond.progress import Progress
from diamond.spaces import to_json

DATASET_FORMAT = "diamond-static-dataset"
ON_BAD = ("skip", "refuse")
Stores = dict[tuple[str, str], EpisodeStore]


def held_out_split(value: str | None) -> set[str] | None:
    """The held-out file names for ``--test-split``: None gives the paper's 500, "none" no split, else a file."""
    if value is None:
        return csgo_test_split()
    if value.lower() == "none":
        return None
    path = Path(value)
    if not path.is_file():
        raise InvalidValue(
            f"--test-split {value}: no such file; expected a file of source file names, one a line, or 'none'"
        )
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def source_files(source_dir: Path) -> list[Path]:
    """The ``.hdf5`` files of ``source_dir`` in the order of their number."""
    if not source_dir.is_dir():
        what = "does not exist" if not source_dir.exists() else "is not a folder"
        raise InvalidValue(f"SOURCE_DIR {source_dir} {what}; expected a folder of hdf5_dm_july2021_<N>.hdf5 files")
    paths = [p for p in source_dir.iterdir() if p.suffix == ".hdf5" and p.is_file()]
    if not paths:
        raise InvalidValue(
            f"SOURCE_DIR {source_dir} holds no .hdf5 files; expected the CS:GO episodes (hdf5_dm_july2021_<N>.hdf5)"
        )
    return sorted_by_number(paths)


def source_episodes(frames: np.ndarray, actions: np.ndarray, path: Path) -> dict[str, Episode]:
    """The episode of one source file at both resolutions (see the module docstring)."""
    t = len(frames) - 1
    trunc = np.zeros(t, dtype=np.uint8)
    trunc[-1] = 1
    info = {"source_file": path.name, "source_number": file_number(path), "last_action": actions[-1].tolist()}
    episodes = {}
    for resolution, obs in (("low_res", downscale_frames(frames, LOW_RES)), ("full_res", frames)):
        episodes[resolution] = Episode(
            obs=obs[:t],
            act=actions[:t],
            rew=np.zeros(t, dtype=np.float32),
            end=np.zeros(t, dtype=np.uint8),
            trunc=trunc,
            final_obs=obs[t],
            info=info,
        )
    return episodes


def dataset_store_metadata(resolution: str) -> dict[str, Any]:
    size = LOW_RES if resolution == "low_res" else FULL_RES
    return {
        "obs_shape": [3, *size],
        "action_space": to_json(csgo_action_space()),
        "num_actions": SIZE,
        "source": "hdf5",
        "resolution": resolution,
    }


def prepare_output(out: Path, test_split: set[str] | None, source: str = "hdf5", any_split: bool = False) -> None:
    """Make ``out`` a dataset folder (its episodes from ``source``), or check that it is one imported with
    the same held-out split (with ``any_split``: with whatever split, as when played episodes are added)."""
    description = out / StaticDataset.DESCRIPTION
    split = sorted(test_split) if test_split is not None else None
    if out.exists() and not out.is_dir():
        raise InvalidValue(f"OUT {out} is a file; expected a new or empty folder, or a dataset to resume")
    if not description.is_file():
        if out.exists() and any(out.iterdir()):
            raise InvalidValue(
                f"OUT {out} is a non-empty folder that is not an imported dataset (no {StaticDataset.DESCRIPTION}); "
                "expected a new or empty folder, or a dataset folder to resume"
            )
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomically(description, {"format": DATASET_FORMAT, "source": source, "test_split": split})
        return
    try:
        recorded = json.loads(description.read_text())
        ok = recorded["format"] == DATASET_FORMAT
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise InvalidValue(f"{description} is not the description of an imported dataset ({DATASET_FORMAT})")
    if recorded["test_split"] != split and not any_split:
        was = "no split" if recorded["test_split"] is None else f"{len(recorded['test_split'])} held-out files"
        now = "no split" if split is None else f"{len(split)} held-out files"
        raise InvalidValue(
            f"OUT {out} was imported with a different --test-split ({was}; now {now}); resume with the same "
            "--test-split, or import into a new folder"
        )


def open_stores(out: Path) -> Stores:
    stores: Stores = {}
    try:
        for split in StaticDataset.SPLITS:
            for res in StaticDataset.RESOLUTIONS:
                path = out / StaticDataset.store(split, res)
                stores[split, res] = open_or_create_store(path, dataset_store_metadata(res), cache_in_ram=False)
    except BaseException:
        for store in stores.values():
            store.close()
        raise
    return stores


def _stored_names(store: EpisodeStore) -> list[str]:
    return [store.read_info(i).get("source_file") for i in range(len(store))]


def reconcile(out: Path, stores: Stores, log: Callable[[str], None]) -> dict[str, list[str]]:
    """The source files each split's stores hold, after undoing a half-added episode (module docstring)."""
    path = out / StaticDataset.IMPORTED
    manifest = json.loads(path.read_text()) if path.is_file() else {}
    imported: dict[str, list[str]] = {}
    for split in StaticDataset.SPLITS:
        low, full = stores[split, "low_res"], stores[split, "full_res"]
        n = min(len(low), len(full))
        if max(len(low), len(full)) > n + 1:
            raise StoreError(
                f"{low.root} holds {len(low)} episodes and {full.root} {len(full)}; an interrupted import leaves at "
                "most one more in one of them, so refusing to guess; import into a new folder"
            )
        for store in (low, full):
            if len(store) > n:
                log(f"rolling back {store.root} to {n} episodes: the import was interrupted between its two adds")
                store.roll_back(n)
        names = manifest.get(split, [])
        if len(names) != n or any(s.read_info(n - 1).get("source_file") != names[-1] for s in (low, full) if n):
            names = _stored_names(low)
            if names != _stored_names(full):
                raise StoreError(f"{low.root} and {full.root} hold different source files; import into a new folder")
        imported[split] = names
    every = [name for names in imported.values() for name in names]
    if len(set(every)) != len(every):
        raise StoreError(f"the stores of {out} hold a source file more than once; import into a new folder")
    if imported != manifest:
        write_json_atomically(path, imported)
    return imported


def import_hdf5_dataset(
    source_dir: str | Path,
    out_dir: str | Path,
    test_split: set[str] | None,
    on_bad: str = "skip",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Import every not-yet-imported source file of ``source_dir`` into the dataset ``out_dir`` (see the
    module docstring); returns a summary. ``on_bad``: "skip" lists bad files in skipped.json and goes on,
    "refuse" stops at the first with its BadSourceFile (what was imported before it stays)."""
    if on_bad not in ON_BAD:
        raise InvalidValue(f"--on-bad {on_bad!r}: expected one of {ON_BAD}")
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    source_dir, out = Path(source_dir), Path(out_dir)
    h5py_module()  # a missing optional dependency is reported before OUT is made
    paths = source_files(source_dir)
    prepare_output(out, test_split)
    stores = open_stores(out)
    try:
        imported = reconcile(out, stores, log)
        done = {name for names in imported.values() for name in names}
        todo = [p for p in paths if p.name not in done]
        skipped = _Skipped(out / StaticDataset.SKIPPED, done)
        t0 = time.monotonic()
        bar = Progress(len(todo), unit="episode", desc="import-hdf5", enabled=progress, log=log)
        frames = 0
        for path in todo:
            try:
                episodes = source_episodes(*read_hdf5_episode(path), path)
            except BadSourceFile as e:
                if on_bad == "refuse":
                    raise
                skipped.add(path.name, str(e))
                log(f"skipped {path.name}: {e}")
                bar.update(1)
                continue
            split = "test" if test_split is not None and path.name in test_split else "train"
            for res in ("low_res", "full_res"):  # this order is what reconcile() undoes after a crash
                stores[split, res].add(episodes[res])
            imported[split].append(path.name)
            write_json_atomically(out / StaticDataset.IMPORTED, imported)
            skipped.remove(path.name)
            frames += len(episodes["full_res"]) + 1
            bar.update(1, frames=str(frames))
        bar.close()
        summary = {
            "out": str(out),
            "imported": len(todo) - len(skipped.this_run),
            "frames_imported": frames,
            "already_imported": len(paths) - len(todo),
            "skipped": skipped.this_run,
            "episodes": {split: len(stores[split, "low_res"]) for split in StaticDataset.SPLITS},
            "frames": {split: _frames(stores[split, "low_res"]) for split in StaticDataset.SPLITS},
            "seconds": time.monotonic() - t0,
        }
    finally:
        for store in stores.values():
            store.close()
    return summary


def _frames(store: EpisodeStore) -> int:
    return store.num_steps + len(store)  # T - 1 transitions and the final frame per episode


class _Skipped:
    """skipped.json: the bad source files not imported yet, kept across runs (a fixed file is retried)."""

    def __init__(self, path: Path, imported: set[str]) -> None:
        self.path = path
        old = json.loads(path.read_text())["skipped"] if path.is_file() else []
        self.files = {x["file"]: x["reason"] for x in old if x["file"] not in imported}
        self.this_run: list[dict[str, str]] = []
        if len(self.files) != len(old):
            self._write()

    def add(self, name: str, reason: str) -> None:
        self.files[name] = reason
        self.this_run.append({"file": name, "reason": reason})
        self._write()

    def remove(self, name: str) -> None:
        if self.files.pop(name, None) is not None:
            self._write()

    def _write(self) -> None:
        write_json_atomically(self.path, {"skipped": [{"file": f, "reason": r} for f, r in self.files.items()]})
