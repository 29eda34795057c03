"""Check an episode store for damaged files, and repair it by moving the damaged episodes aside (spec §3).

A flipped byte in one episode file (caught by its CRC-32) would otherwise stop every reader of the store.
``check_store`` reads every file and reports the damaged ones; ``repair_store`` moves them into
``damaged/`` (never deleting them), drops them from the index, and records what it did in
``repairs.json``. The remaining episodes keep their order; their ids close the gaps while their files
keep their names (episode ids are index positions, file names are serials: see store.py).

A repair is a sequence of steps, each atomic and each safe to redo, driven by its record in
``repairs.json``, which is written first with status "started" and marked "done" last::

    record (started)  ->  index without the damaged episodes  ->  count file (the run's checkpoint)
                      ->  damaged files moved to damaged/      ->  record (done)

A kill at any point leaves a store that opens and reads (the index only ever lists whole, verified
files); an unfinished record makes ``add`` and ``roll_back`` refuse until ``repair_store`` is run again,
which resumes the recorded repair rather than planning a new one.

The count file: a `diamond train` checkpoint records how many episodes the store held when it was
written and rolls the store back to that count on resume. Removing episodes below that count would make
the number wrong, and a plain integer cannot say whether it was counted before or after a repair, so the
repair rewrites the count itself, in the same recorded sequence (``EpisodeCount``; jobs.py gives the
run's checkpoint).
"""

from __future__ import annotations

import datetime
import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from diamond.data.episode_file import CorruptEpisodeFile, read_episode_file
from diamond.data.store import (
    DAMAGED_DIR,
    INDEX_FILE,
    LOCK_FILE,
    REPAIRS_FILE,
    EpisodeStore,
    StoreError,
    check_index_order,
    expected_extra_serials,
    file_serial,
    read_index,
    read_repairs,
    read_store_metadata,
    unfinished_repair,
)
from diamond.fileio import fsync_dir, write_json_atomically


class EpisodeCount(Protocol):
    """A number of stored episodes recorded outside the store (a run's checkpoint), which a repair adjusts."""

    name: str  # where it is, for messages and the record

    def read(self) -> int: ...

    def write(self, num_episodes: int) -> None: ...


@dataclass
class Damage:
    """One damaged episode file: its id (index position; None if the index does not list it yet)."""

    file: str
    reason: str
    id: int | None = None
    length: int | None = None  # agent steps, from the index
    nbytes: int | None = None
    return_: float | None = None


@dataclass
class CheckReport:
    root: Path
    episodes: int  # listed in the index
    steps: int
    damaged: list[Damage] = field(default_factory=list)
    unfinished_repair: bool = False

    @property
    def clean(self) -> bool:
        return not self.damaged and not self.unfinished_repair

    @property
    def steps_damaged(self) -> int:
        return sum(d.length or 0 for d in self.damaged)


@dataclass
class RepairResult:
    root: Path
    episodes_before: int
    episodes_after: int
    removed: list[dict[str, Any]]  # as recorded in repairs.json
    steps_lost: int
    count_change: tuple[str, int, int] | None = None  # (where, before, after)
    resumed: bool = False  # finished a repair that an earlier, interrupted run had started


def _verify_entry(root: Path, e: dict[str, Any], on_disk: set[str]) -> str | None:
    """Why the episode of index entry ``e`` is damaged, or None if its file reads back whole."""
    path = root / e["file"]
    if e["file"] not in on_disk:
        return f"episode file {path} is missing"
    size = path.stat().st_size
    if size != e["nbytes"]:
        return f"episode file {path} is {size} bytes but {INDEX_FILE} recorded {e['nbytes']}: truncated or damaged"
    try:
        episode = read_episode_file(path)
    except CorruptEpisodeFile as exc:
        return str(exc)
    except OSError as exc:
        return f"episode file {path} cannot be read: {exc}"
    if len(episode) != e["length"]:
        return f"episode file {path} holds {len(episode)} steps, {INDEX_FILE} recorded {e['length']}"
    return None


def _scan(root: Path) -> tuple[list[dict[str, Any]], list[Damage], list[dict[str, Any]]]:
    """(index entries, damaged episodes, repair records) of the store in ``root``; reads every file."""
    read_store_metadata(root)  # StoreError if root is not a store
    entries = read_index(root)
    records = read_repairs(root)
    last = check_index_order(root, entries)
    pending = unfinished_repair(records)
    # An unfinished repair's damaged files that it already took out of the index are not episodes any more.
    set_aside = {x["file"] for x in pending["removed"]} - {e["file"] for e in entries} if pending else set()
    on_disk = {p.name for p in root.iterdir() if file_serial(p.name) is not None and p.name not in set_aside}

    damaged = []
    for i, e in enumerate(entries):
        reason = _verify_entry(root, e, on_disk)
        if reason is not None:
            damaged.append(Damage(e["file"], reason, i, e["length"], e["nbytes"], e.get("return")))
    # Files after the index (a crash between writing an episode and indexing it): whole ones are indexed on
    # the next open; damaged ones would stop that open, so they are damage too.
    retired = {file_serial(x["file"]) for r in records for x in r["removed"]} - {None}
    extra = sorted(s for s in (file_serial(n) for n in on_disk) if s > last)
    if extra != expected_extra_serials(last, extra, retired):
        raise StoreError(
            f"episode files in {root} are not contiguous after the {len(entries)} indexed ones (found "
            f"serials {extra[:10]}); neither check nor repair can tell which belong to the store"
        )
    for name in sorted(n for n in on_disk if file_serial(n) > last):
        try:
            read_episode_file(root / name)
        except CorruptEpisodeFile as exc:
            damaged.append(Damage(name, f"{exc} (not yet in {INDEX_FILE})"))
    return entries, damaged, records


def check_store(root: str | os.PathLike) -> CheckReport:
    """Read every episode file of the store (and its index) and report the damaged ones; writes nothing.

    StoreError if ``root`` is not a store or its index is unreadable (nothing to check file by file).
    """
    root = Path(root)
    entries, damaged, records = _scan(root)
    return CheckReport(
        root,
        len(entries),
        int(sum(e["length"] for e in entries)),
        damaged,
        unfinished_repair=unfinished_repair(records) is not None,
    )


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _free_name(folder: Path, name: str, taken: set[str]) -> str:
    """``name``, or ``stem.N.ep`` for the smallest N that is free: damaged/ is never overwritten."""
    candidate, n = name, 0
    while candidate in taken or (folder / candidate).exists():
        n += 1
        candidate = f"{Path(name).stem}.{n}{Path(name).suffix}"
    return candidate


def _plan(
    root: Path, entries: list[dict[str, Any]], damaged: list[Damage], count: EpisodeCount | None
) -> dict[str, Any]:
    taken: set[str] = set()
    removed = []
    for d in damaged:
        missing = not (root / d.file).exists()
        moved_to = None if missing else _free_name(root / DAMAGED_DIR, d.file, taken)
        if moved_to:
            taken.add(moved_to)
        removed.append(
            {
                "id": d.id,
                "file": d.file,
                "moved_to": moved_to and f"{DAMAGED_DIR}/{moved_to}",
                "length": d.length,
                "nbytes": d.nbytes,
                "return": d.return_,
                "reason": d.reason,
            }
        )
    indexed_ids = [d.id for d in damaged if d.id is not None]
    record: dict[str, Any] = {
        "status": "started",
        "started": _now(),
        "episodes_before": len(entries),
        "episodes_after": len(entries) - len(indexed_ids),
        "steps_lost": int(sum(d.length or 0 for d in damaged)),
        "removed": removed,
        "count": None,
    }
    if count is not None:
        before = count.read()
        after = before - sum(1 for i in indexed_ids if i < before)
        record["count"] = {"file": count.name, "before": before, "after": after}
    return record


def _write_record(root: Path, records: list[dict[str, Any]]) -> None:
    write_json_atomically(root / REPAIRS_FILE, {"repairs": records})


# The steps after the plan; each one finds out from the disk whether it was already done (a resumed repair).


def _commit_index(root: Path, record: dict[str, Any]) -> None:
    gone = {x["file"] for x in record["removed"]}
    entries = read_index(root)
    if any(e["file"] in gone for e in entries):
        write_json_atomically(root / INDEX_FILE, {"episodes": [e for e in entries if e["file"] not in gone]})


def _adjust_count(record: dict[str, Any], count: EpisodeCount | None) -> None:
    plan = record["count"]
    if plan is None or plan["before"] == plan["after"]:
        return
    if count is None:
        raise StoreError(
            f"this repair also changes the episode count in {plan['file']}; finish it with "
            "`diamond store repair RUN` on the run folder that holds that checkpoint"
        )
    now = count.read()
    if now == plan["before"]:
        count.write(plan["after"])
    elif now != plan["after"]:
        raise StoreError(
            f"{count.name} counts {now} episodes; the repair expected {plan['before']} (before) or "
            f"{plan['after']} (after): it was changed during the repair, so it is left as it is"
        )


def _move_aside(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst`` without ever replacing an existing ``dst``; safe to redo after a crash."""
    if not src.exists():
        if not dst.exists():
            raise StoreError(f"the damaged file {src} disappeared during the repair (it is not in {dst.parent} either)")
        return  # moved by the interrupted run
    if dst.exists():
        if os.path.samefile(src, dst):  # killed between the link and the unlink below
            src.unlink()
            return
        raise StoreError(f"cannot move {src} aside: {dst} already exists and holds something else")
    try:
        os.link(src, dst)  # unlike rename, a link never replaces an existing file
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        os.replace(src, dst)  # no hard links here: dst was checked free above, under the writer lock
        return
    src.unlink()


def _move_damaged(root: Path, record: dict[str, Any]) -> None:
    folder = root / DAMAGED_DIR
    folder.mkdir(exist_ok=True)
    for x in record["removed"]:
        if x["moved_to"] is not None:
            _move_aside(root / x["file"], root / x["moved_to"])
    fsync_dir(folder)
    fsync_dir(root)


def _finish(root: Path, records: list[dict[str, Any]]) -> None:
    records[-1]["status"] = "done"
    records[-1]["finished"] = _now()
    _write_record(root, records)


def repair_store(root: str | os.PathLike, count: EpisodeCount | None = None) -> RepairResult:
    """Move the damaged episodes of the store aside and reindex the rest (see the module docstring).

    ``count``: an episode count kept outside the store (a run's checkpoint) to adjust with it. Refused
    (StoreError) while another process holds the store open for writing. A clean store is left untouched.
    """
    root = Path(root)
    read_store_metadata(root)
    lock = EpisodeStore._acquire_lock(
        root,
        refusal=(
            f"cannot repair episode store {root}: another process has it open for writing (lock {root / LOCK_FILE} is "
            "held), e.g. a running `diamond train` or `diamond collect`; stop it first, then repair"
        ),
    )
    try:
        records = read_repairs(root)
        record = unfinished_repair(records)
        resumed = record is not None
        if record is None:
            entries, damaged, records = _scan(root)
            if not damaged:
                return RepairResult(root, len(entries), len(entries), [], 0)
            record = _plan(root, entries, damaged, count)
            records.append(record)
            _write_record(root, records)
        _commit_index(root, record)
        _adjust_count(record, count)
        _move_damaged(root, record)
        _finish(root, records)
    finally:
        EpisodeStore._release_lock(lock)
    plan = record["count"]
    return RepairResult(
        root,
        record["episodes_before"],
        record["episodes_after"],
        record["removed"],
        record["steps_lost"],
        (plan["file"], plan["before"], plan["after"]) if plan else None,
        resumed,
    )
