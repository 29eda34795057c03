"""Crash-safe file writes: temporary file in the same directory, fsync, atomic rename, directory fsync.

A reader therefore sees either the previous complete file or the new complete file, never a partial one.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from diamond.errors import InvalidValue

TMP_PREFIX = ".tmp-"


def fsync_dir(path: Path) -> None:
    """Make renames inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories; the rename is still atomic there
        pass
    finally:
        os.close(fd)


def write_atomically(path: str | Path, write: Callable[[BinaryIO], Any]) -> int:
    """Write ``path`` through ``write(file)``; returns the size in bytes. Raises OSError with the path on failure."""
    path = Path(path)
    tmp = path.parent / f"{TMP_PREFIX}{path.name}.{os.getpid()}"
    try:
        f = open(tmp, "wb")
    except OSError as e:
        raise OSError(e.errno, f"cannot write in {path.parent} ({e.strerror})", str(tmp)) from e
    try:
        with f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            size = f.tell()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a temporary never held saved data
        raise
    fsync_dir(path.parent)
    return size


def strict_json_value(obj: Any) -> Any:
    """``obj`` with non-finite floats spelled "inf", "-inf", "nan": strict JSON, readable by any parser."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: strict_json_value(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json_value(v) for v in obj]
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    return json.dumps(strict_json_value(obj), allow_nan=False, **kwargs)


def write_json_atomically(path: str | Path, obj: Any) -> None:
    data = (dumps(obj, indent=1) + "\n").encode()
    write_atomically(path, lambda f: f.write(data))


def set_aside(run_dir: Path) -> Path:
    """Move ``run_dir`` out of the way, renamed beside itself (``NAME.stale-YYYYmmdd-HHMMSS``; kept, never
    deleted), so that a run can start afresh there; returns where it went."""
    target = run_dir.with_name(f"{run_dir.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 0
    while target.exists():
        n += 1
        target = target.with_name(f"{run_dir.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    run_dir.rename(target)
    return target


def differences(a: Any, b: Any, labels: tuple[str, str], prefix: str = "") -> list[str]:
    """Each leaf where two nested dicts (JSON-like) differ, as ``path: LABEL_A=value, LABEL_B=value`` (or
    ``path: absent in LABEL_A, ...``), in sorted key order; an empty list when they are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in a:
                out.append(f"{name}: absent in {labels[0]}, {labels[1]}={b[key]!r}")
            elif key not in b:
                out.append(f"{name}: {labels[0]}={a[key]!r}, absent in {labels[1]}")
            else:
                out.extend(differences(a[key], b[key], labels, name))
        return out
    return [] if a == b else [f"{prefix}: {labels[0]}={a!r}, {labels[1]}={b!r}"]


def same_flags(path: Path, flags: dict[str, Any], refusal: str, saved: dict[str, Any] | None = None) -> None:
    """A folder made with one set of command-line values (``flags``, by flag name) records them in ``path`` at
    its first run; a later run with others is refused, nothing written: ``refusal`` (what the folder holds)
    followed by each value that differs. ``saved``: the values to compare with where ``path`` is absent
    (folders from before it was written)."""
    saved = json.loads(path.read_text()) if path.is_file() else saved
    if saved is not None and saved != flags:
        diff = ", ".join(
            f"--{k.replace('_', '-')} {v} (the folder's: {saved.get(k)})" for k, v in flags.items() if saved.get(k) != v
        )
        raise InvalidValue(f"{refusal}: {diff}; repeat the folder's values or choose another folder")
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomically(path, flags)
