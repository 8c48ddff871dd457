"""The recorder's background writer thread: the control thread only enqueues, this thread encodes and writes.

Queue items are tuples, first element the kind:
    ("start", partial_dir, meta, cameras, image_format, quality)
    ("frame", camera, number, image (H, W, 3) uint8 copy, source index, t_capture_s)
    ("tick", row dict with vectors still as float64 arrays)
    ("end", end_meta dict, Done)   -> Done gets the final episode path
    ("stop", Done)
After each drained batch the tick file is flushed (kill -9 then loses only what is still queued); every
`fsync_period_s` of the injected clock all files are fsynced (power loss loses at most about that much).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from typing import Callable

from . import format as fmt
from .files import EpisodeFiles

_VECTORS = ("state", "measured", "predicted", "commanded")
_BATCH = 256  # items per drain; bounds the time between flushes when the queue is long
_IDLE_WAIT_S = 0.1  # real seconds an idle writer waits before checking whether an fsync is due


class Done:
    """One-shot result handed back to the control thread (end of episode, stop)."""

    def __init__(self):
        self.event = threading.Event()
        self.path = None
        self.error: BaseException | None = None

    def set(self, path=None, error: BaseException | None = None) -> None:
        self.path, self.error = path, error
        self.event.set()


class Writer:
    def __init__(self, clock: Callable[[], float], fsync_period_s: float, max_frames: int, max_ticks: int,
                 nice: int = 10):
        self.clock, self.fsync_period_s, self.nice = clock, fsync_period_s, nice
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        # The caller takes a slot before queueing a frame / tick row and this thread frees it once written, so at
        # most max_frames frames (and max_ticks rows) are held in memory.
        self.frame_slots = threading.Semaphore(max_frames)
        self.tick_slots = threading.Semaphore(max_ticks)
        self.frames_done = self.ticks_done = 0  # written by this thread only
        self.error: BaseException | None = None  # first failure; the recorder refuses further work after it
        self.files: EpisodeFiles | None = None
        self.episode_dir = None  # the folder being written, for error messages
        self.thread = threading.Thread(target=self._run, name="vla-lite-recorder", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        if sys.platform.startswith("linux"):
            # Scheduling is per thread on Linux. A thread inherits its creator's policy: created from a SCHED_FIFO
            # control thread, the writer would encode at real-time priority, so it goes back to SCHED_OTHER, and
            # `nice` lowers it further so that on a busy CPU the control thread wins over encoding and fsync.
            try:
                tid = threading.get_native_id()
                if os.sched_getscheduler(tid) != os.SCHED_OTHER:
                    os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
                if self.nice:
                    os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + self.nice)
            except OSError:
                pass
        try:
            self._loop()
        except BaseException as exc:  # noqa: BLE001 - a bug here must reach the caller, not hang end_episode
            self.error = RuntimeError(f"the recording writer thread stopped: {type(exc).__name__}: {exc}")
            self.error.__cause__ = exc
            raise

    def _loop(self) -> None:
        last_sync = self.clock()
        while True:
            try:
                batch = [self.queue.get(timeout=_IDLE_WAIT_S)]
            except queue.Empty:
                batch = []
            while batch and len(batch) < _BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            for item in batch:
                if item[0] == "stop":
                    self._abandon()
                    item[1].set(error=self.error)
                    return
                self._handle(item)
            if self.files is not None and self.error is None:
                try:
                    self.files.flush()
                    if self.clock() - last_sync >= self.fsync_period_s:
                        self.files.fsync()
                        last_sync = self.clock()
                except Exception as exc:  # noqa: BLE001 - any failure stops recording, reported to the caller
                    self._fail(exc)

    def _handle(self, item: tuple) -> None:
        kind = item[0]
        try:
            self._process(item)
        finally:
            if kind == "frame":
                self.frames_done += 1
                self.frame_slots.release()
            elif kind == "tick":
                self.ticks_done += 1
                self.tick_slots.release()

    def _process(self, item: tuple) -> None:
        kind = item[0]
        if self.error is not None:
            if kind == "end":
                item[2].set(error=self.error)
            return  # after a failure items are drained and dropped so memory stays bounded
        try:
            if kind == "start":
                self.episode_dir = item[1]
                self.files = EpisodeFiles(*item[1:])
            elif kind == "frame":
                self.files.write_frame(*item[1:])
            elif kind == "tick":
                row = item[1]
                for key in _VECTORS:
                    row[key] = fmt.encode_vector(row[key])
                row["timing_ms"] = {k: fmt.encode_scalar(v) for k, v in row["timing_ms"].items()}
                self.files.write_tick(row)
            elif kind == "end":
                end_meta, done = item[1], item[2]
                end_meta.update(ticks=self.files.rows, frames=dict(self.files.frames))
                path = self.files.finish(end_meta)
                self.files = None
                done.set(path)
        except Exception as exc:  # noqa: BLE001 - disk full, permissions, ...: stop and report, never crash silently
            self._fail(exc)
            if kind == "end":
                item[2].set(error=self.error)

    def _fail(self, exc: BaseException) -> None:
        self.error = RuntimeError(f"recording failed in {self.episode_dir}: {type(exc).__name__}: {exc}")
        self.error.__cause__ = exc
        self._abandon()

    def _abandon(self) -> None:
        """Close files without finishing: the episode stays `.partial` (readable up to its last intact tick)."""
        if self.files is not None:
            try:
                self.files.fsync()
                self.files.close()
            except Exception:  # noqa: BLE001 - already failing or stopping; the partial folder is what is left
                pass
            self.files = None
