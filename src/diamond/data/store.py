"""The on-disk episode store: crash-safe, indexed, one file per episode (spec §3).

A store is a directory::

    metadata.json       written once at creation: store format + the caller's metadata (obs shape, ...)
    index.json          per-episode file name, length, return and size, in collection order
    000000000.ep ...    one self-checking file per episode (format and its rationale: episode_file.py)
    .writer.lock        advisory lock held by the single writer

Every file appears whole or not at all: it is written to a temporary file in the same directory,
fsync'd, renamed over its final name with ``os.replace`` (atomic on POSIX), and the directory is fsync'd
so that the rename itself survives a power cut. An episode file is renamed into place before the index
that lists it, so a crash leaves at worst one complete episode file that the index does not list yet;
opening the store verifies it and indexes it. Nothing in the store is ever deleted or overwritten,
except leftover temporary files, which by construction never held a saved episode.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from diamond.data.episode import Episode
from diamond.data.episode_file import CorruptEpisodeFile, read_episode_file, write_episode_file
from diamond.errors import InvalidValue, UserError
from diamond.fileio import TMP_PREFIX, fsync_dir, write_atomically, write_json_atomically

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, the single-writer rule is then unchecked
    fcntl = None

STORE_FORMAT = "diamond-episode-store"
STORE_FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
INDEX_FILE = "index.json"
LOCK_FILE = ".writer.lock"
EPISODE_SUFFIX = ".ep"
_EPISODE_NAME = re.compile(r"^(\d{9})\.ep$")


class StoreError(UserError, RuntimeError):
    """The store on disk is missing, locked, read-only or inconsistent; the message names the path."""


def episode_file_name(episode_id: int) -> str:
    return f"{episode_id:09d}{EPISODE_SUFFIX}"


def _json_normalised(obj: Any) -> Any:
    """The value as it reads back from JSON (tuples become lists), for comparisons with stored metadata."""
    return json.loads(json.dumps(obj))


def _canonical_episode(episode: Episode, metadata: Mapping[str, Any], where: str) -> Episode:
    """Check an episode against the store metadata and cast it to the stored dtypes (spec §3)."""
    episode.validate(where)
    expected = tuple(metadata["obs_shape"])
    got = tuple(episode.obs.shape[1:])
    if got != expected:
        raise ValueError(f"{where}: observation shape {got} does not match the store's obs_shape {expected} (metadata.json)")
    act = np.asarray(episode.act)
    if act.dtype.kind in "biu":
        act = act.astype(np.int64)
    elif act.dtype.kind == "f":
        act = act.astype(np.float32)
    else:
        raise ValueError(f"{where}: actions must be integers (discrete) or floats (continuous), got dtype {act.dtype}")
    num_actions = metadata.get("num_actions")
    if num_actions is not None and act.ndim == 1:
        bad = (act < 0) | (act >= num_actions)
        if bad.any():
            raise ValueError(
                f"{where}: action {int(act[bad][0])} at step {int(np.flatnonzero(bad)[0])} is outside "
                f"0..{num_actions - 1} (num_actions = {num_actions} in the store metadata)"
            )
    flags = {}
    for name in ("end", "trunc"):
        arr = np.asarray(getattr(episode, name))
        if arr.ndim != 1 or not np.isin(arr, (0, 1)).all():
            raise ValueError(
                f"{where}: {name} must be a (T,) array of 0/1 flags, got shape {arr.shape} values {np.unique(arr)[:5]}"
            )
        flags[name] = arr.astype(np.uint8)
    rew = np.asarray(episode.rew)
    if rew.ndim != 1 or rew.dtype.kind not in "biuf":
        raise ValueError(f"{where}: rew must be a (T,) numeric array, got shape {rew.shape} dtype {rew.dtype}")
    return Episode(
        obs=episode.obs,
        act=act,
        rew=rew.astype(np.float32),
        end=flags["end"],
        trunc=flags["trunc"],
        final_obs=episode.final_obs,
        info=dict(episode.info),
    )


class EpisodeStore:
    """Episodes 0..n-1 in collection order, on disk, with an optional in-RAM cache (spec §3).

    Make one with :meth:`create` or :meth:`open`. One process at a time may write (``add``); any number
    may read with ``read_only=True``, which takes no lock and never writes to the directory. A read-only
    store is also what a static dataset is: the segment sampler then weighs episodes by length.
    Returned episodes have read-only arrays (they may be shared with the cache): copy before modifying.
    """

    def __init__(self, root: Path, read_only: bool, cache_in_ram: bool, _lock_fd: int | None) -> None:
        # Private: use EpisodeStore.create / EpisodeStore.open.
        self.root = root
        self.read_only = read_only
        self.cache_in_ram = cache_in_ram
        self._lock_fd = _lock_fd
        self._metadata: dict[str, Any] = {}
        self._entries: list[dict[str, Any]] = []
        self._cache: dict[int, Episode] = {}

    # ----------------------------------------------------------------------------------------- opening

    @classmethod
    def create(cls, root: str | os.PathLike, metadata: Mapping[str, Any], cache_in_ram: bool = True) -> EpisodeStore:
        """Make a new store in ``root`` (absent or empty) and open it for writing.

        ``metadata`` must be JSON-serialisable and contain ``obs_shape`` (C, H, W); ``num_actions``, when
        given, is checked against discrete actions on ``add``. It is written once and never changed.
        """
        root = Path(root)
        if "obs_shape" not in metadata:
            raise ValueError(
                f"metadata for a new episode store at {root} needs 'obs_shape' (C, H, W); got keys {sorted(metadata)}"
            )
        try:
            user_metadata = _json_normalised(dict(metadata))
        except (TypeError, ValueError) as e:
            raise ValueError(f"metadata for the episode store at {root} must be JSON-serialisable: {e}") from e
        root.mkdir(parents=True, exist_ok=True)
        lock_fd = cls._acquire_lock(root)
        try:
            leftovers = [p.name for p in root.iterdir() if p.name != LOCK_FILE]
            if (root / METADATA_FILE).exists():
                raise StoreError(f"{root} is already an episode store; open it with EpisodeStore.open instead of creating it")
            if leftovers:
                raise StoreError(
                    f"cannot create an episode store in {root}: the directory is not empty "
                    f"(found {sorted(leftovers)[:5]}); choose a new or empty directory"
                )
            write_json_atomically(
                root / METADATA_FILE,
                {"format": STORE_FORMAT, "format_version": STORE_FORMAT_VERSION, "metadata": user_metadata},
            )
            write_json_atomically(root / INDEX_FILE, {"episodes": []})
        except BaseException:
            cls._release_lock(lock_fd)
            raise
        store = cls(root, read_only=False, cache_in_ram=cache_in_ram, _lock_fd=lock_fd)
        store._metadata = user_metadata
        return store

    @classmethod
    def open(
        cls,
        root: str | os.PathLike,
        read_only: bool = False,
        cache_in_ram: bool = True,
        expected_metadata: Mapping[str, Any] | None = None,
    ) -> EpisodeStore:
        """Open an existing store, recovering from an interrupted write (see the module docstring).

        ``expected_metadata``: every key it shares with the stored metadata must have the same value,
        else ValueError listing the differing keys with both values (e.g. a different obs_shape).
        """
        root = Path(root)
        meta_path = root / METADATA_FILE
        if not meta_path.is_file():
            what = "does not exist" if not root.exists() else f"has no {METADATA_FILE}"
            raise StoreError(f"{root} is not an episode store: it {what}; make one with EpisodeStore.create")
        try:
            meta = json.loads(meta_path.read_text())
            fmt, version, user_metadata = meta["format"], meta["format_version"], meta["metadata"]
        except (ValueError, KeyError, TypeError) as e:
            raise StoreError(f"{meta_path} is not a valid episode-store metadata file: {e}") from e
        if fmt != STORE_FORMAT or version != STORE_FORMAT_VERSION:
            raise StoreError(
                f"{meta_path} describes format {fmt!r} version {version}; this code reads "
                f"{STORE_FORMAT!r} version {STORE_FORMAT_VERSION}"
            )
        if expected_metadata is not None:
            expected = _json_normalised(dict(expected_metadata))
            diff = {k: (user_metadata[k], v) for k, v in expected.items() if k in user_metadata and user_metadata[k] != v}
            if diff:
                lines = "; ".join(f"{k}: store has {a!r}, expected {b!r}" for k, (a, b) in sorted(diff.items()))
                raise InvalidValue(f"episode store {root} does not match the expected metadata ({lines}) [{meta_path}]")

        lock_fd = None if read_only else cls._acquire_lock(root)
        try:
            store = cls(root, read_only=read_only, cache_in_ram=cache_in_ram, _lock_fd=lock_fd)
            store._metadata = user_metadata
            store._load_index_and_recover()
        except BaseException:
            cls._release_lock(lock_fd)
            raise
        return store

    @staticmethod
    def _acquire_lock(root: Path) -> int | None:
        if fcntl is None:  # pragma: no cover
            warnings.warn("fcntl is unavailable: the episode store cannot stop a second writer", stacklevel=3)
            return None
        path = root / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreError(
                f"cannot open the writer lock {path} ({e}); to only read the store, open it with read_only=True"
            ) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"episode store {root} is already open for writing by another process or object "
                f"(lock {path} is held); open it with read_only=True to read, or close the other writer"
            ) from None
        return fd

    @staticmethod
    def _release_lock(fd: int | None) -> None:
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def _load_index_and_recover(self) -> None:
        index_path = self.root / INDEX_FILE
        if index_path.exists():
            try:
                entries = json.loads(index_path.read_text())["episodes"]
            except (ValueError, KeyError, TypeError) as e:
                raise StoreError(f"index {index_path} is unreadable ({e}); the episode files are untouched") from e
        else:
            entries = []  # crash during creation, after metadata.json: episodes (if any) are recovered below

        on_disk: dict[int, str] = {}
        for p in self.root.iterdir():
            if p.name.startswith(TMP_PREFIX):
                if not self.read_only:
                    p.unlink(missing_ok=True)  # an interrupted write; by construction never a saved episode
                continue
            m = _EPISODE_NAME.match(p.name)
            if m:
                on_disk[int(m.group(1))] = p.name

        for i, e in enumerate(entries):
            path = self.root / e["file"]
            if e["file"] != episode_file_name(i):
                raise StoreError(f"index {index_path} lists {e['file']!r} as episode {i}; expected {episode_file_name(i)!r}")
            if i not in on_disk:
                raise StoreError(f"episode {i} is listed in {index_path} but its file {path} is missing")
            size = path.stat().st_size
            if size != e["nbytes"]:
                raise CorruptEpisodeFile(
                    f"episode file {path} is {size} bytes but {index_path} recorded {e['nbytes']}: truncated or damaged"
                )
        self._entries = list(entries)

        # Complete episode files that the index does not list yet: a crash between the two renames.
        extra = sorted(i for i in on_disk if i >= len(entries))
        if extra and extra != list(range(len(entries), len(entries) + len(extra))):
            raise StoreError(
                f"episode files in {self.root} are not contiguous after the {len(entries)} indexed ones "
                f"(found ids {extra[:10]}); refusing to guess which are valid"
            )
        for i in extra:
            path = self.root / on_disk[i]
            episode = read_episode_file(path)  # verifies the checksum; raises naming the file
            self._entries.append(self._entry(i, episode, path.stat().st_size))
            if self.cache_in_ram:
                self._cache[i] = episode
        if extra and not self.read_only:
            self._write_index()

    @staticmethod
    def _entry(episode_id: int, episode: Episode, nbytes: int) -> dict[str, Any]:
        return {"file": episode_file_name(episode_id), "length": len(episode), "return": episode.return_, "nbytes": nbytes}

    def _write_index(self) -> None:
        write_json_atomically(self.root / INDEX_FILE, {"episodes": self._entries})

    # -------------------------------------------------------------------------------------- public API

    def refresh(self) -> int:
        """Re-read the index of a read-only view of a store another process appends to; returns its length."""
        if not self.read_only:
            raise StoreError(f"refresh() is for read-only views of {self.root}; a writer's view is always current")
        self._load_index_and_recover()
        for stale in [i for i in self._cache if i >= len(self._entries)]:
            del self._cache[stale]
        return len(self)

    @property
    def metadata(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._metadata))  # a copy: the stored metadata never changes

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def lengths(self) -> np.ndarray:
        """Episode lengths (transitions), int64, in collection order."""
        return np.array([e["length"] for e in self._entries], dtype=np.int64)

    @property
    def returns(self) -> np.ndarray:
        """Undiscounted raw returns, float64, in collection order."""
        return np.array([e["return"] for e in self._entries], dtype=np.float64)

    @property
    def num_steps(self) -> int:
        """Total number of transitions in the store."""
        return int(sum(e["length"] for e in self._entries))

    def add(self, episode: Episode) -> int:
        """Save an episode durably and return its id (ids are 0..n-1 in collection order)."""
        if self.read_only:
            raise StoreError(f"episode store {self.root} was opened read-only; open it with read_only=False to add episodes")
        if self._lock_fd is None and fcntl is not None:
            raise StoreError(f"episode store {self.root} is closed; reopen it to add episodes")
        episode_id = len(self._entries)
        episode = _canonical_episode(episode, self._metadata, where=f"episode {episode_id} added to {self.root}")
        name = episode_file_name(episode_id)
        if (self.root / name).exists():
            raise StoreError(f"{self.root / name} already exists but is not indexed; refusing to overwrite it")
        try:
            nbytes = write_atomically(self.root / name, lambda f: write_episode_file(f, episode))
        except OSError as e:
            raise StoreError(f"cannot write episode {episode_id} to {self.root}: {e}") from e
        self._entries.append(self._entry(episode_id, episode, nbytes))
        self._write_index()
        if self.cache_in_ram:
            self._cache[episode_id] = _read_only_copy(episode)
        return episode_id

    def roll_back(self, num_episodes: int) -> int:
        """Drop the episodes after the first ``num_episodes`` (a resumed run redoes the work that wrote them).

        The index is rewritten first, then the files are removed, so a crash in between leaves files that
        the next open re-indexes rather than a missing file. Returns the number of episodes dropped.
        """
        if self.read_only:
            raise StoreError(f"episode store {self.root} was opened read-only; cannot roll it back")
        n = len(self._entries)
        if not 0 <= num_episodes <= n:
            raise StoreError(f"cannot roll episode store {self.root} back to {num_episodes} episodes: it holds {n}")
        dropped = self._entries[num_episodes:]
        self._entries = self._entries[:num_episodes]
        self._write_index()
        for i, entry in reversed(list(enumerate(dropped, start=num_episodes))):
            (self.root / entry["file"]).unlink(missing_ok=True)
            self._cache.pop(i, None)
        fsync_dir(self.root)
        return len(dropped)

    def get(self, episode_id: int) -> Episode:
        """Episode ``episode_id`` (negative ids count from the end). Arrays are read-only."""
        n = len(self._entries)
        if not -n <= episode_id < n:
            raise IndexError(f"episode id {episode_id} is out of range: store {self.root} has {n} episodes")
        episode_id %= n
        cached = self._cache.get(episode_id)
        if cached is not None:
            return cached
        episode = self._read(episode_id)
        if self.cache_in_ram:
            self._cache[episode_id] = episode
        return episode

    __getitem__ = get

    def verify(self) -> None:
        """Read every episode file and check its checksum; raises CorruptEpisodeFile naming the first bad one."""
        for i in range(len(self._entries)):
            self._read(i)

    def _read(self, episode_id: int) -> Episode:
        entry = self._entries[episode_id]
        path = self.root / entry["file"]
        episode = read_episode_file(path)
        if len(episode) != entry["length"]:
            raise CorruptEpisodeFile(
                f"episode file {path} holds {len(episode)} steps, the index {INDEX_FILE} recorded {entry['length']}"
            )
        return episode

    def close(self) -> None:
        """Release the writer lock (episodes already added are safe on disk either way)."""
        self._release_lock(self._lock_fd)
        self._lock_fd = None

    def __enter__(self) -> EpisodeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "writable"
        return f"EpisodeStore({str(self.root)!r}, {len(self)} episodes, {self.num_steps} steps, {mode})"


def _read_only_copy(episode: Episode) -> Episode:
    """A private copy with read-only arrays, so cached episodes cannot be changed by callers."""
    arrays = {}
    for name in ("obs", "act", "rew", "end", "trunc", "final_obs"):
        arr = np.array(getattr(episode, name), copy=True)
        arr.flags.writeable = False
        arrays[name] = arr
    return Episode(**arrays, info=json.loads(json.dumps(episode.info)))
