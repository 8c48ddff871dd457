"""Atomic, durable file writes: a reader (or a crash) sees the old file or the new one, never half of one.

The new content goes to a temporary file beside the target, is fsynced, renamed over the target (os.replace is
atomic on one filesystem), and the folder is fsynced so the rename itself survives a power cut. One helper for
every file vla-lite writes whole: reports, bundles, episode metadata, checkpoints, caches, statistics.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a folder's entries (new files, renames) durable. A no-op where folders cannot be opened (Windows)."""
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None:
        return
    fd = os.open(path, os.O_RDONLY | flag)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside `path` to write to (by any means: open(), a library's save(file)); on a
    normal exit it is fsynced and renamed over `path`, on an exception removed. The folder is created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj, indent: int | None = 1, allow_nan: bool = False,
                      **dumps_options) -> Path:
    """JSON and a final newline; strict by default (NaN is not JSON). dumps_options go to json.dumps."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, allow_nan=allow_nan, **dumps_options) + "\n")
