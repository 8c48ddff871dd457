"""The open files of one episode being recorded, and the fsync / atomic-rename steps that make it crash-safe.

Write order is what keeps a killed recording consistent (FORMAT.md, "Crash safety"): a frame's bytes reach the
kernel before its index line, and its index line before any tick that refers to it. Streams and indexes are
unbuffered (one write() per frame); ticks are buffered and flushed after each batch the writer thread drains.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..atomic import atomic_write_json, fsync_dir
from . import format as fmt
from .codec import encode_frame


def dumps(obj) -> str:
    """Strict JSON (non-finite floats must already be encoded as strings), compact, one line."""
    return json.dumps(obj, allow_nan=False, separators=(",", ":"), ensure_ascii=False)


def _write_all(f, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[f.write(view):]


class EpisodeFiles:
    """ticks.jsonl plus, per camera, an image stream and its index, in `episode_NNNNNN.partial/`."""

    def __init__(self, partial_dir: Path, meta: dict, cameras: tuple[str, ...], image_format: str, quality: int):
        self.dir, self.meta = partial_dir, meta
        self.image_format, self.quality = image_format, quality
        atomic_write_json(partial_dir / fmt.META, meta, ensure_ascii=False)
        self.ticks = open(partial_dir / fmt.TICKS, "ab")
        self.streams = {c: open(partial_dir / fmt.stream_file(c, image_format), "ab", buffering=0) for c in cameras}
        self.indexes = {c: open(partial_dir / fmt.index_file(c), "ab", buffering=0) for c in cameras}
        self.offsets = {c: 0 for c in cameras}  # bytes written to each stream so far
        self.frames = {c: 0 for c in cameras}  # frames stored per camera (the next frame number)
        self.rows = 0
        fsync_dir(partial_dir)

    def write_frame(self, camera: str, number: int, image, source_index: int, t_capture_s: float) -> None:
        if number != self.frames[camera]:  # the recorder numbers frames; a gap would mis-point every tick
            raise RuntimeError(f"camera {camera!r}: frame {number} queued but {self.frames[camera]} expected")
        data = encode_frame(image, self.image_format, self.quality)
        _write_all(self.streams[camera], data)
        entry = {"frame": number, "offset": self.offsets[camera], "length": len(data), "index": source_index,
                 "t_capture_s": fmt.encode_scalar(t_capture_s)}
        _write_all(self.indexes[camera], (dumps(entry) + "\n").encode())
        self.offsets[camera] += len(data)
        self.frames[camera] += 1

    def write_tick(self, row: dict) -> None:
        self.ticks.write((dumps(row) + "\n").encode())
        self.rows += 1

    def flush(self) -> None:
        self.ticks.flush()  # into the kernel: survives kill -9 from here on

    def fsync(self) -> None:
        """Durable against power loss; the order matches the write order (frames, indexes, then ticks)."""
        self.flush()
        for f in (*self.streams.values(), *self.indexes.values(), self.ticks):
            os.fsync(f.fileno())

    def close(self) -> None:
        for f in (*self.streams.values(), *self.indexes.values(), self.ticks):
            f.close()

    def finish(self, end_meta: dict) -> Path:
        """Final fsync, meta.json with the outcome, then the atomic rename to `episode_NNNNNN/`."""
        self.fsync()
        self.close()
        atomic_write_json(self.dir / fmt.META, {**self.meta, **end_meta}, ensure_ascii=False)
        final = self.dir.with_name(self.dir.name[: -len(fmt.PARTIAL_SUFFIX)])
        os.rename(self.dir, final)
        fsync_dir(final.parent)
        return final
