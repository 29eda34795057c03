"""The on-disk episode store: crash-safe, indexed, one file per episode (spec §3).

A store is a directory::

    metadata.json       written once at creation: store format + the caller's metadata (obs shape, ...)
    index.json          per-episode file name, length, return and size, in collection order
    000000000.ep ...    one self-checking file per episode (format and its rationale: episode_file.py)
    .writer.lock        advisory lock held by the single writer
    repairs.json        only after `diamond store repair`: what it moved aside (see repair.py)
    damaged/            only after a repair: the damaged episode files, byte for byte

Episode ids are positions in the index (0..n-1, collection order). A file is named by its serial number,
which equals the id until a repair takes damaged episodes out of the middle; later files keep their names
and new ones continue after the highest serial ever used, so a serial is never reused.

Every file appears whole or not at all: it is written to a temporary file in the same directory,
fsync'd, renamed over its final name with ``os.replace`` (atomic on POSIX), and the directory is fsync'd
so that the rename itself survives a power cut. An episode file is renamed into place before the index
that lists it, so a crash leaves at worst one complete episode file that the index does not list yet;
opening the store verifies it and indexes it. Nothing in the store is ever overwritten, and nothing is
deleted except leftover temporary files (which by construction never held a saved episode) and the
episodes that ``roll_back`` drops.
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
from diamond.data.episode_file import (
    CorruptEpisodeFile,
    read_episode_file,
    read_episode_header,
    write_episode_file,
)
from diamond.errors import InvalidValue, UserError
from diamond.fileio import TMP_PREFIX, differences, fsync_dir, write_atomically, write_json_atomically
from diamond.spaces import ActionSpace, from_json

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, the single-writer rule is then unchecked
    fcntl = None

STORE_FORMAT = "diamond-episode-store"
STORE_FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
INDEX_FILE = "index.json"
LOCK_FILE = ".writer.lock"
REPAIRS_FILE = "repairs.json"
DAMAGED_DIR = "damaged"
EPISODE_SUFFIX = ".ep"
_EPISODE_NAME = re.compile(r"^(\d{9})\.ep$")


class StoreError(UserError, RuntimeError):
    """The store on disk is missing, locked, read-only or inconsistent; the message names the path."""


def episode_file_name(serial: int) -> str:
    return f"{serial:09d}{EPISODE_SUFFIX}"


def file_serial(name: str) -> int | None:
    """The serial number in an episode file's name, or None for any other name."""
    m = _EPISODE_NAME.match(name)
    return int(m.group(1)) if m else None


def repair_hint(root: Path) -> str:
    return (
        f"to move damaged episodes aside and keep the rest, run `diamond store repair {root}` "
        f"(`diamond store check {root}` lists them first)"
    )


def with_repair_hint(exc: CorruptEpisodeFile, root: Path) -> CorruptEpisodeFile:
    """The same error, telling the user how to get past it (the message still starts with the file)."""
    return CorruptEpisodeFile(f"{exc}\n{repair_hint(root)}")


def read_store_metadata(root: Path) -> dict[str, Any]:
    """The caller's metadata of the store in ``root``; StoreError if ``root`` is not a store of this format."""
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
    return user_metadata


def _require_keys(items: list[Any], keys: tuple[str, ...]) -> None:
    for item in items:
        missing = [k for k in keys if k not in item]
        if missing:
            raise KeyError(f"an entry lacks {missing}: {item!r}"[:300])


def read_index(root: Path) -> list[dict[str, Any]]:
    """The index entries (empty when index.json is absent: a crash during creation); StoreError if unreadable."""
    index_path = root / INDEX_FILE
    if not index_path.exists():
        return []
    try:
        entries = json.loads(index_path.read_text())["episodes"]
        _require_keys(entries, ("file", "length", "nbytes"))
    except (ValueError, KeyError, TypeError) as e:
        raise StoreError(f"index {index_path} is unreadable ({e}); the episode files are untouched") from e
    return entries


def read_repairs(root: Path) -> list[dict[str, Any]]:
    """The records of past repairs of the store, oldest first (see repair.py); [] if it was never repaired."""
    path = root / REPAIRS_FILE
    if not path.exists():
        return []
    try:
        records = json.loads(path.read_text())["repairs"]
        _require_keys(records, ("status", "removed"))
        for r in records:
            _require_keys(r["removed"], ("file", "moved_to"))
    except (ValueError, KeyError, TypeError) as e:
        raise StoreError(f"{path} is unreadable ({e}); it records the repairs of {root}") from e
    return records


def unfinished_repair(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    return records[-1] if records and records[-1]["status"] != "done" else None


def check_index_order(root: Path, entries: list[dict[str, Any]]) -> int:
    """StoreError unless the index lists episode files in increasing serial order; returns the last serial."""
    last = -1
    for i, e in enumerate(entries):
        serial = file_serial(e["file"])
        if serial is None or serial <= last:
            after = f"after {episode_file_name(last)}" if last >= 0 else "first"
            raise StoreError(
                f"index {root / INDEX_FILE} lists {e['file']!r} as episode {i} ({after}); expected episode file "
                "names in increasing order"
            )
        last = serial
    return last


def expected_extra_serials(last: int, extra: list[int], retired: set[int]) -> list[int]:
    """The serials that unindexed files after the index must have: contiguous, skipping retired ones."""
    if not extra:
        return []
    return [s for s in range(last + 1, max(extra) + 1) if s not in retired]


def _json_normalised(obj: Any) -> Any:
    """The value as it reads back from JSON (tuples become lists), for comparisons with stored metadata."""
    return json.loads(json.dumps(obj))


def action_space_of(metadata: Mapping[str, Any], where: str) -> ActionSpace | None:
    """The action space a store's metadata records: ``action_space``, or for stores written before it
    existed a discrete space from ``num_actions`` (and the protocol's action meanings); None if neither."""
    if "action_space" in metadata:
        return from_json(metadata["action_space"], f"{where}: action_space")
    n = metadata.get("num_actions")
    if n is None:
        return None
    names = metadata.get("protocol", {}).get("action_meanings", ())
    return ActionSpace.discrete(int(n), names if len(names) == int(n) else ())


def _canonical_episode(episode: Episode, metadata: Mapping[str, Any], where: str) -> Episode:
    """Check an episode against the store metadata and cast it to the stored dtypes (spec §3)."""
    episode.validate(where)
    expected = tuple(metadata["obs_shape"])
    got = tuple(episode.obs.shape[1:])
    if got != expected:
        raise ValueError(
            f"{where}: observation shape {got} does not match the store's obs_shape {expected} (metadata.json)"
        )
    act = np.asarray(episode.act)
    space = action_space_of(metadata, "the store metadata")
    if space is None:
        if act.dtype.kind not in "biuf":
            raise ValueError(
                f"{where}: actions must be integers (discrete) or floats (continuous), got dtype {act.dtype}"
            )
        act = act.astype(np.int64 if act.dtype.kind in "biu" else np.float32)
    elif space.is_discrete and act.ndim == 1 and act.dtype.kind in "biu":
        bad = (act < 0) | (act >= space.size)
        if bad.any():
            raise ValueError(
                f"{where}: action {int(act[bad][0])} at step {int(np.flatnonzero(bad)[0])} is outside "
                f"0..{space.size - 1} (num_actions = {space.size} in the store metadata)"
            )
        act = act.astype(np.int64)
    else:
        act = space.check(act, f"{where} (the store holds actions of a {space})")
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
        self._unfinished_repair: dict[str, Any] | None = None
        self._retired: set[int] = set()  # serials of files that repairs moved aside
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
        try:
            root.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            blocker = next(p for p in (root, *root.parents) if p.exists() and not p.is_dir())
            raise StoreError(f"cannot create an episode store in {root}: {blocker} is a file, not a folder") from None
        lock_fd = cls._acquire_lock(root)
        try:
            leftovers = [p.name for p in root.iterdir() if p.name != LOCK_FILE]
            if (root / METADATA_FILE).exists():
                raise StoreError(
                    f"{root} is already an episode store; open it with EpisodeStore.open instead of creating it"
                )
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
        user_metadata = read_store_metadata(root)
        if expected_metadata is not None:
            expected = _json_normalised(dict(expected_metadata))
            shared = sorted(set(expected) & set(user_metadata))  # only the values of what both record
            diff = differences(
                {k: user_metadata[k] for k in shared}, {k: expected[k] for k in shared}, ("store", "here")
            )
            if diff:
                raise InvalidValue(
                    f"episode store {root} was made with other settings than these ({meta_path}): " + "; ".join(diff)
                )

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
    def _acquire_lock(root: Path, refusal: str | None = None) -> int | None:
        """Take the writer lock; ``refusal`` replaces the message given when another writer holds it."""
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
                refusal
                or f"episode store {root} is already open for writing by another process or object "
                f"(lock {path} is held); open it with read_only=True to read, or close the other writer"
            ) from None
        return fd

    @staticmethod
    def _release_lock(fd: int | None) -> None:
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def _load_index_and_recover(self) -> None:
        index_path = self.root / INDEX_FILE
        entries = read_index(self.root)  # absent after a crash during creation: episodes are recovered below
        repairs = read_repairs(self.root)
        self._unfinished_repair = unfinished_repair(repairs)
        # Files that repairs move aside: their serials are never reused.
        set_aside = {x["file"] for r in repairs for x in r["removed"]}
        self._retired = {file_serial(name) for name in set_aside} - {None}

        on_disk: dict[int, str] = {}
        for p in self.root.iterdir():
            if p.name.startswith(TMP_PREFIX):
                if not self.read_only:
                    p.unlink(missing_ok=True)  # an interrupted write; by construction never a saved episode
                continue
            serial = file_serial(p.name)
            if serial is not None:
                on_disk[serial] = p.name

        last = check_index_order(self.root, entries)
        for i, e in enumerate(entries):
            path = self.root / e["file"]
            if file_serial(e["file"]) not in on_disk:
                raise StoreError(
                    f"episode {i} is listed in {index_path} but its file {path} is missing\n{repair_hint(self.root)}"
                )
            size = path.stat().st_size
            if size != e["nbytes"]:
                raise with_repair_hint(
                    CorruptEpisodeFile(
                        f"episode file {path} is {size} bytes but {index_path} recorded {e['nbytes']}: truncated or damaged"
                    ),
                    self.root,
                )
        self._entries = list(entries)
        indexed = {file_serial(e["file"]) for e in entries}
        if self._unfinished_repair:  # its damaged files, until it moves them, are not episodes of the store
            on_disk = {s: name for s, name in on_disk.items() if s in indexed or name not in set_aside}
        stray = sorted(s for s in on_disk if s < last and s not in indexed)
        if stray:
            raise StoreError(
                f"episode files {[on_disk[s] for s in stray[:5]]} in {self.root} lie between indexed episodes but "
                f"are not in {index_path}; refusing to guess where they belong"
            )

        # Complete episode files that the index does not list yet: a crash between the two renames.
        extra = sorted(s for s in on_disk if s > last)
        if extra != expected_extra_serials(last, extra, self._retired):
            raise StoreError(
                f"episode files in {self.root} are not contiguous after the {len(entries)} indexed ones "
                f"(found {[on_disk[s] for s in extra[:10]]}); refusing to guess which are valid"
            )
        for serial in extra:
            path = self.root / on_disk[serial]
            try:
                episode = read_episode_file(path)  # verifies the checksum; raises naming the file
            except CorruptEpisodeFile as e:
                raise with_repair_hint(e, self.root) from None
            i = len(self._entries)
            self._entries.append(self._entry(serial, episode, path.stat().st_size))
            if self.cache_in_ram:
                self._cache[i] = episode
        if extra and not self.read_only:
            self._write_index()

    @staticmethod
    def _entry(serial: int, episode: Episode, nbytes: int) -> dict[str, Any]:
        return {"file": episode_file_name(serial), "length": len(episode), "return": episode.return_, "nbytes": nbytes}

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
            raise StoreError(
                f"episode store {self.root} was opened read-only; open it with read_only=False to add episodes"
            )
        if self._lock_fd is None and fcntl is not None:
            raise StoreError(f"episode store {self.root} is closed; reopen it to add episodes")
        self._refuse_if_repair_unfinished("add episodes to it")
        episode_id = len(self._entries)
        episode = _canonical_episode(episode, self._metadata, where=f"episode {episode_id} added to {self.root}")
        serial = self._next_serial()
        name = episode_file_name(serial)
        if (self.root / name).exists():
            raise StoreError(f"{self.root / name} already exists but is not indexed; refusing to overwrite it")
        try:
            nbytes = write_atomically(self.root / name, lambda f: write_episode_file(f, episode))
        except OSError as e:
            raise StoreError(f"cannot write episode {episode_id} to {self.root}: {e}") from e
        self._entries.append(self._entry(serial, episode, nbytes))
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
        self._refuse_if_repair_unfinished("roll it back")
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

    def _next_serial(self) -> int:
        used = [file_serial(self._entries[-1]["file"])] if self._entries else []
        return max([*used, *self._retired], default=-1) + 1

    def _refuse_if_repair_unfinished(self, action: str) -> None:
        if self._unfinished_repair is not None:
            raise StoreError(
                f"a repair of episode store {self.root} was interrupted ({REPAIRS_FILE} records it as unfinished); "
                f"finish it with `diamond store repair {self.root}` before you {action}"
            )

    def _checked_id(self, episode_id: int) -> int:
        """The id in 0..n-1 (negative ids count from the end); IndexError naming the store if out of range."""
        n = len(self._entries)
        if not -n <= episode_id < n:
            raise IndexError(f"episode id {episode_id} is out of range: store {self.root} has {n} episodes")
        return episode_id % n

    def get(self, episode_id: int) -> Episode:
        """Episode ``episode_id`` (negative ids count from the end). Arrays are read-only."""
        episode_id = self._checked_id(episode_id)
        cached = self._cache.get(episode_id)
        if cached is not None:
            return cached
        episode = self._read(episode_id)
        if self.cache_in_ram:
            self._cache[episode_id] = episode
        return episode

    __getitem__ = get

    def read_obs(self, episode_id: int, start: int, stop: int) -> np.ndarray:
        """Frames ``start..stop-1`` of episode ``episode_id``'s observations with the final one appended
        (``get(episode_id).all_obs()[start:stop]``, so ``stop`` may be T + 1), as a new (stop - start, C, H, W)
        array. Reads only those frames from the file: for stores too large to read whole (the full-resolution
        CS:GO frames). The checksum is not verified here; ``verify`` and ``diamond store check`` do that.
        """
        episode_id = self._checked_id(episode_id)
        length = self._entries[episode_id]["length"]
        if not 0 <= start <= stop <= length + 1:
            raise IndexError(
                f"frames {start}..{stop} of episode {episode_id} in {self.root}: expected 0 <= start <= stop <= "
                f"{length + 1} (its {length} observations and the final one)"
            )
        cached = self._cache.get(episode_id)
        if cached is not None:
            return cached.all_obs()[start:stop]
        path = self.root / self._entries[episode_id]["file"]
        with open(path, "rb") as f:
            arrays = {e["name"]: e for e in read_episode_header(f, path)["arrays"]}
            obs = arrays["obs"]
            dtype, shape = np.dtype(obs["dtype"]), tuple(obs["shape"][1:])
            frame_bytes = int(np.prod(shape)) * dtype.itemsize
            out = np.empty((stop - start, *shape), dtype=dtype)
            stored = min(stop, length) - start  # frames from obs; the final one comes from final_obs
            parts = [(int(obs["offset"]) + start * frame_bytes, out[: max(0, stored)])]
            if stop > length:
                parts.append((int(arrays["final_obs"]["offset"]), out[stop - start - 1 :]))
            for offset, dest in parts:
                f.seek(offset)
                if dest.size and f.readinto(memoryview(dest).cast("B")) != dest.nbytes:
                    raise with_repair_hint(CorruptEpisodeFile(f"episode file {path} is truncated"), self.root)
        return out

    def read_info(self, episode_id: int) -> dict[str, Any]:
        """Episode ``episode_id``'s info, read from its file's header only (no arrays, no checksum)."""
        path = self.root / self._entries[self._checked_id(episode_id)]["file"]
        with open(path, "rb") as f:
            return read_episode_header(f, path).get("info", {})

    def verify(self) -> None:
        """Read every episode file and check its checksum; raises CorruptEpisodeFile naming the first bad one."""
        for i in range(len(self._entries)):
            self._read(i)

    def _read(self, episode_id: int) -> Episode:
        entry = self._entries[episode_id]
        path = self.root / entry["file"]
        try:
            episode = read_episode_file(path)
        except CorruptEpisodeFile as e:
            raise with_repair_hint(e, self.root) from None
        if len(episode) != entry["length"]:
            raise with_repair_hint(
                CorruptEpisodeFile(
                    f"episode file {path} holds {len(episode)} steps, the index {INDEX_FILE} recorded {entry['length']}"
                ),
                self.root,
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
