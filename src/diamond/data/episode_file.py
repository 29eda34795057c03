"""One episode as one self-checking file: the on-disk unit of the episode store (spec §3).

Why not ``.npz``: a zip archive checksums each member's payload, but not the zip headers (file times,
flags, the local copies of sizes), so some flipped bytes go unnoticed, and numpy reads members through
``zipfile`` in small chunks with extra copies. This format puts one CRC-32 over every byte but the
footer that holds it, so any flipped byte anywhere in the file is caught (CRC-32 catches every error
burst of up to 32 bits), and it reads a whole file with one ``read``, one ``zlib.crc32`` (several
GB/s) and zero-copy ``np.frombuffer`` views. It is still readable without this package: a JSON header
gives every array's dtype, shape and byte offset.

Layout (all integers little-endian)::

    b"DMNDEP01"                        magic, 8 bytes
    header length                      uint64
    header                             UTF-8 JSON: {"arrays": [{name, dtype, shape, offset, nbytes}],
                                       "info": {...}}, offsets relative to the start of the file
    zero padding, then each array      C order, each starting at a multiple of 64 bytes
    body length, CRC-32 of the body    uint64, uint32 (the body is everything before these)
    b"DMNDEND1"                        end magic, 8 bytes
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from diamond.data.episode import Episode
from diamond.errors import UserError

MAGIC = b"DMNDEP01"
END_MAGIC = b"DMNDEND1"
_LEN = struct.Struct("<Q")
_FOOTER = struct.Struct("<QI8s")
_ALIGN = 64  # every array starts on a 64-byte boundary so float views are aligned
ARRAY_FIELDS = ("obs", "act", "rew", "end", "trunc", "final_obs")


class CorruptEpisodeFile(UserError, ValueError):
    """An episode file on disk is truncated or damaged; the message names the file."""


def _pad(n: int) -> int:
    return (-n) % _ALIGN


def encode_episode(episode: Episode) -> list[bytes | memoryview]:
    """The file's bytes as a list of chunks (arrays are not copied), footer included."""
    arrays = {name: np.ascontiguousarray(getattr(episode, name)) for name in ARRAY_FIELDS}
    try:
        info_json = json.loads(json.dumps(episode.info))
    except (TypeError, ValueError) as e:
        raise ValueError(f"episode.info must be JSON-serialisable to be stored, got {episode.info!r}: {e}") from e

    # The header holds the offsets, which depend on the header's own length: lay out with a fixed-width
    # placeholder first, then fill in (offsets are padded to 12 digits so the length cannot change).
    entries = [
        {"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape), "offset": 0, "nbytes": int(arr.nbytes)}
        for name, arr in arrays.items()
    ]

    def header_bytes() -> bytes:
        return json.dumps({"arrays": entries, "info": info_json}, separators=(",", ":")).encode()

    for e in entries:
        e["offset"] = 10**11  # widest offset we write, so the final header is no longer than this one
    start = len(MAGIC) + _LEN.size + len(header_bytes())
    pos = start + _pad(start)
    for e in entries:
        e["offset"] = pos
        pos += e["nbytes"] + _pad(e["nbytes"])
    header = header_bytes()
    head = MAGIC + _LEN.pack(len(header)) + header
    chunks: list[bytes | memoryview] = [head, bytes(entries[0]["offset"] - len(head))]
    for e, arr in zip(entries, arrays.values()):
        chunks.append(memoryview(arr).cast("B"))
        chunks.append(bytes(_pad(e["nbytes"])))
    crc = 0
    body_len = 0
    for c in chunks:
        crc = zlib.crc32(c, crc)
        body_len += len(c)
    chunks.append(_FOOTER.pack(body_len, crc, END_MAGIC))
    return chunks


def write_episode_file(f: BinaryIO, episode: Episode) -> int:
    """Write the episode to an open binary file; returns the number of bytes written."""
    total = 0
    for chunk in encode_episode(episode):
        f.write(chunk)
        total += len(chunk)
    return total


def decode_episode(data: bytes | bytearray | memoryview, path: str | Path = "<memory>") -> Episode:
    """Check the checksum and structure of a file's bytes and return the episode (read-only arrays)."""
    buf = memoryview(data)
    n = len(buf)
    min_len = len(MAGIC) + _LEN.size + _FOOTER.size
    if n < min_len:
        raise CorruptEpisodeFile(f"episode file {path} is truncated: {n} bytes, a valid file has at least {min_len}")
    if bytes(buf[: len(MAGIC)]) != MAGIC:
        raise CorruptEpisodeFile(f"episode file {path} does not start with {MAGIC!r}: not an episode file, or damaged")
    body_len, crc, end_magic = _FOOTER.unpack(buf[n - _FOOTER.size :])
    if end_magic != END_MAGIC or body_len != n - _FOOTER.size:
        raise CorruptEpisodeFile(
            f"episode file {path} is truncated or damaged: its footer is missing or does not match "
            f"its size ({n} bytes on disk)"
        )
    actual = zlib.crc32(buf[:body_len])
    if actual != crc:
        raise CorruptEpisodeFile(
            f"episode file {path} is damaged: CRC-32 of its contents is {actual:#010x}, the file records {crc:#010x}"
        )
    try:
        (header_len,) = _LEN.unpack(buf[len(MAGIC) : len(MAGIC) + _LEN.size])
        header_start = len(MAGIC) + _LEN.size
        header = json.loads(bytes(buf[header_start : header_start + header_len]))
        fields = {}
        for e in header["arrays"]:
            dtype = np.dtype(e["dtype"])
            offset, nbytes, shape = int(e["offset"]), int(e["nbytes"]), tuple(e["shape"])
            if offset < header_start + header_len or offset + nbytes > body_len:
                raise ValueError(f"array {e['name']} lies outside the file")
            arr = np.frombuffer(buf, dtype=dtype, count=nbytes // dtype.itemsize, offset=offset).reshape(shape)
            arr.flags.writeable = False  # shared with the cache: callers copy before modifying
            fields[e["name"]] = arr
        missing = set(ARRAY_FIELDS) - set(fields)
        if missing:
            raise ValueError(f"missing arrays {sorted(missing)}")
        return Episode(**{k: fields[k] for k in ARRAY_FIELDS}, info=header.get("info", {}))
    except (ValueError, KeyError, TypeError) as e:
        # The checksum matched, so the file was written like this: a bug or a foreign writer, not bit rot.
        raise CorruptEpisodeFile(f"episode file {path} has a valid checksum but an unreadable layout: {e}") from e


def read_episode_header(f: BinaryIO, path: str | Path) -> dict:
    """The JSON header of an open episode file ({"arrays": [...], "info": {...}}), read without its arrays.

    Checks the magic and that every array lies inside the file, not the checksum (that needs every byte):
    for lazy reads of a few frames; ``read_episode_file`` and ``diamond store check`` verify whole files.
    """
    size = os.fstat(f.fileno()).st_size
    f.seek(0)
    head = f.read(len(MAGIC) + _LEN.size)
    if len(head) < len(MAGIC) + _LEN.size or head[: len(MAGIC)] != MAGIC:
        raise CorruptEpisodeFile(f"episode file {path} does not start with {MAGIC!r}: not an episode file, or damaged")
    (header_len,) = _LEN.unpack(head[len(MAGIC) :])
    try:
        header = json.loads(f.read(min(header_len, size)))
        for e in header["arrays"]:
            if int(e["offset"]) + int(e["nbytes"]) > size - _FOOTER.size:
                raise ValueError(f"array {e['name']} lies outside the file ({size} bytes)")
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptEpisodeFile(f"episode file {path} has an unreadable header: {e}") from e
    return header


def read_episode_file(path: str | Path) -> Episode:
    """Read and verify one episode file; raises CorruptEpisodeFile naming the path if it is damaged."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = bytearray(size)
        got = f.readinto(data)
    if got != size:
        raise CorruptEpisodeFile(f"episode file {path} changed size while being read ({got} of {size} bytes)")
    return decode_episode(data, path)
