"""Opening episode stores for a job: what a store records about its data, open-or-create, and the
read-only datasets given on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from diamond.data.store import METADATA_FILE, EpisodeStore
from diamond.errors import InvalidValue


def store_metadata(protocol: dict[str, Any]) -> dict[str, Any]:
    """What a store records about the data it holds: the env protocol minus what varies between runs."""
    per_run = {"num_envs", "env_seeds", "seed"}
    return {
        "obs_shape": list(protocol["observation_shape"]),
        "num_actions": int(protocol["num_actions"]),  # kept beside action_space for readers of older stores
        "action_space": protocol["action_space"],
        "protocol": {k: v for k, v in protocol.items() if k not in per_run | {"action_space"}},
    }


def open_or_create_store(path: Path, metadata: dict[str, Any], cache_in_ram: bool = True) -> EpisodeStore:
    """The store in ``path`` opened for appending (its metadata must match), or a new one."""
    if (path / METADATA_FILE).exists():
        return EpisodeStore.open(path, expected_metadata=metadata, cache_in_ram=cache_in_ram)
    return EpisodeStore.create(path, metadata, cache_in_ram=cache_in_ram)


def open_dataset(path: str | Path, flag: str) -> EpisodeStore:
    """A non-empty store given by ``flag``, opened read-only."""
    path = Path(path)
    if not (path / METADATA_FILE).exists():
        raise InvalidValue(
            f"{flag} {path}: not an episode store (no {METADATA_FILE}); create one with `diamond collect`"
        )
    store = EpisodeStore.open(path, read_only=True)
    if len(store) == 0:
        raise InvalidValue(f"{flag} {path}: the store holds no episodes")
    return store


def stored_steps(path: Path) -> int:
    """The steps the store in ``path`` holds (0 when there is no store yet)."""
    if not (path / METADATA_FILE).exists():
        return 0
    with EpisodeStore.open(path, read_only=True) as store:
        return store.num_steps
