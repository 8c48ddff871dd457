"""EpisodeRecorder: what the control loop (and the simulated data generator) calls to record episodes.

The calling thread validates and enqueues; a writer thread (writer.py) encodes and writes. `record_tick` never
touches the disk: when `max_queued_frames` frames wait, new frames are dropped and counted (the tick then says
so); tick rows wait in their own much larger budget and are only dropped, counted, if the writer is
`max_queued_ticks` behind (a dead disk), so memory stays bounded. With `block_when_full=True` (offline data
generation, no real-time loop) record_tick waits for the writer instead and nothing is dropped. Format: FORMAT.md.
"""

from __future__ import annotations

import datetime
import os
import shutil
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..cameras.base import Frame
from . import checks, format as fmt
from .writer import Done, Writer


class RecordingError(RuntimeError):
    """The writer thread failed (disk full, permissions, ...). The episode stays `.partial` on disk."""


class EpisodeRecorder:
    """Records episodes under `root`. Called from one thread (the control loop's); its writer thread is its own.

    cameras: name -> (height, width) of the frames as captured. Vectors are in robot units; `measured_names`
    (the controller's joints) is optional. `clock` times everything (fake in simulation); `wall_time` only labels
    meta.json (None: no label). `fsync_period_s` is on `clock`. `writer_nice` lowers the writer's CPU priority.
    """

    def __init__(self, root: str | os.PathLike, cameras: Mapping[str, tuple[int, int]], state_names: Sequence[str],
                 action_names: Sequence[str], *, state_units: Sequence[str], action_units: Sequence[str],
                 rate_hz: float, measured_names: Sequence[str] | None = None, meta: Mapping | None = None,
                 clock: Callable[[], float] = time.monotonic, image_format: str = "jpeg", quality: int = 90,
                 fsync_period_s: float = 1.0, max_queued_frames: int = 64, max_queued_ticks: int = 100_000,
                 wall_time: Callable[[], float] | None = time.time, end_timeout_s: float = 60.0,
                 block_when_full: bool = False, writer_nice: int = 10):
        self.cameras = checks.camera_sizes(cameras)
        self.state_names = fmt.check_names("state", state_names)
        self.action_names = fmt.check_names("action", action_names)
        self.state_units = fmt.check_units("state", self.state_names, state_units)
        self.action_units = fmt.check_units("action", self.action_names, action_units)
        self.measured_names = None if measured_names is None else fmt.check_names("measured", measured_names)
        checks.options(rate_hz, image_format, quality, fsync_period_s, end_timeout_s, max_queued_frames,
                       max_queued_ticks, block_when_full)
        self.meta = checks.json_object("meta", dict(meta or {}))
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"recording folder {str(root)!r} cannot be created ({exc.strerror or exc}); expected "
                             "a writable folder") from None
        self.rate_hz, self.image_format, self.quality = float(rate_hz), image_format, quality
        self.clock, self.wall_time, self.end_timeout_s = clock, wall_time, end_timeout_s
        self.block_when_full = block_when_full
        self._shapes = {n: (h, w, 3) for n, (h, w) in self.cameras.items()}
        if self.cameras:
            import cv2  # noqa: F401 - import now (start-up), not in the writer thread mid-episode

        self._frames_enqueued = self._ticks_enqueued = 0  # written by this thread only (queue depth, no lock)
        self._reset_episode(None)
        self._partial: Path | None = None
        self._last_started: Path | None = None  # the newest episode folder, for close() after a failure
        self._closed = False
        self._writer = Writer(clock, fsync_period_s, max_queued_frames, max_queued_ticks, writer_nice)

    # --- episodes ------------------------------------------------------------------------------------------

    def start_episode(self, instruction: str, extra_meta: Mapping | None = None) -> Path:
        """Opens `root/episode_NNNNNN.partial/` (numbered after every existing episode) and returns its path."""
        self._check_usable()
        if self._partial is not None:
            raise RuntimeError(f"an episode is already being recorded in {self._partial}; end_episode() first")
        checks.text(instruction)
        info = checks.json_object("extra_meta", {**self.meta, **dict(extra_meta or {})})
        number, partial = self._make_dir()
        utc = None if self.wall_time is None else datetime.datetime.fromtimestamp(
            self.wall_time(), datetime.timezone.utc).isoformat(timespec="seconds")
        meta = fmt.episode_meta(number, instruction, self.rate_hz, self.image_format, self.quality, self.cameras,
                                (self.state_names, self.state_units), (self.action_names, self.action_units),
                                self.measured_names, self.clock(), utc, info)
        self._partial = self._last_started = partial
        self._reset_episode(instruction)
        self._writer.queue.put(("start", partial, meta, tuple(self.cameras), self.image_format, self.quality))
        return partial

    def set_instruction(self, text: str) -> None:
        """The instruction changes; it is recorded from the next tick on (rows carry its index)."""
        self._check_active()
        checks.text(text)
        if self._last_step is None:  # no tick recorded yet: the episode's first instruction never applied
            self._instructions[0] = (text, None)
            return
        self._pending_text = None if text == self._instructions[-1][0] else text

    def end_episode(self, success: bool | None, reason: str = "done") -> Path:
        """Waits for the writer, fsyncs, writes the outcome and renames to `episode_NNNNNN/`; returns that path."""
        self._check_active()
        if success not in (True, False, None):
            raise ValueError(f"success must be True, False or None (unknown), got {success!r}")
        checks.text(reason, "reason")
        end_meta = {"finished": True, "success": success, "ended": reason,
                    "end_clock_s": fmt.encode_scalar(self.clock()), "ticks_dropped": self._ticks_dropped,
                    "frames_dropped": dict(self._frames_dropped),
                    "instructions": [{"text": t, "from_step": s} for t, s in self._instructions]}
        done = Done()
        self._writer.queue.put(("end", end_meta, done))
        self._partial = None
        deadline = time.monotonic() + self.end_timeout_s  # liveness bound only; not the recording's clock
        while not done.event.wait(0.1):
            if not self._writer.thread.is_alive():
                raise RecordingError(str(self._writer.error or "the recording writer thread stopped"))
            if time.monotonic() > deadline:
                raise RecordingError(f"the writer did not finish the episode within {self.end_timeout_s} s")
        if done.error is not None:
            raise RecordingError(str(done.error)) from done.error
        return done.path

    def close(self) -> None:
        """Finishes a running episode as 'interrupted' (renamed: complete up to here), stops the writer."""
        if self._closed:
            return
        try:
            if self._partial is not None and self._writer.error is None:
                self.end_episode(None, "interrupted")
        finally:
            self._closed = True
            self._partial = None
            done = Done()
            self._writer.queue.put(("stop", done))
            self._writer.thread.join(self.end_timeout_s)
            self._remove_unreadable()

    def _remove_unreadable(self) -> None:
        """After a failure, an episode folder whose meta.json was never written holds nothing readable: it is
        removed. One with meta.json stays `.partial`, readable up to its last intact tick (FORMAT.md)."""
        path = self._last_started
        if path is None or self._writer.thread.is_alive() or not path.is_dir() or (path / fmt.META).exists():
            return
        shutil.rmtree(path, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def stats(self) -> dict:
        """Counters for the current (or last) episode and the writer's backlog."""
        return {"frames_stored": dict(self._stored), "frames_dropped": dict(self._frames_dropped),
                "ticks_dropped": self._ticks_dropped,
                "queued_frames": self._frames_enqueued - self._writer.frames_done,
                "queued_ticks": self._ticks_enqueued - self._writer.ticks_done}

    # --- one tick (the control thread's hot path: validation, copies, enqueue) ----------------------------

    def record_tick(self, step: int, t_s: float, frames: Mapping[str, Frame] | None, state: np.ndarray | None,
                    measured: np.ndarray | None, predicted: np.ndarray | None, commanded: np.ndarray | None,
                    held: bool, reason: str | None, inferred: bool, timing_ms: Mapping[str, float],
                    faults: Sequence[str]) -> None:
        self._check_active()
        checks.tick_scalars(step, self._last_step, t_s, held, inferred, reason, timing_ms, faults)
        state = checks.vector("state", state, len(self.state_names))
        measured = checks.vector("measured", measured, self._measured_len)
        if measured is not None and self._measured_len is None:
            self._measured_len = len(measured)  # no names given: the first measured vector fixes the length
        predicted = checks.vector("predicted", predicted, len(self.action_names))
        commanded = checks.vector("commanded", commanded, len(self.action_names))
        refs, dropped = self._frames(frames or {})
        self._last_step = step
        if not self._slot(self._writer.tick_slots):
            self._ticks_dropped += 1  # counted in meta.json; the reader also sees the gap in `step`
            return
        row = {"step": int(step), "t_s": float(t_s), "state": state, "measured": measured, "predicted": predicted,
               "commanded": commanded, "held": bool(held), "reason": reason, "inferred": bool(inferred),
               "timing_ms": dict(timing_ms), "faults": list(faults), "instruction": 0, "frames": refs}
        if dropped:
            row["frames_dropped"] = dropped
        if self._pending_text is not None:
            self._instructions.append((self._pending_text, None))
            self._pending_text = None
        index = row["instruction"] = len(self._instructions) - 1
        if self._instructions[index][1] is None:  # the first recorded tick of an instruction carries its text
            self._instructions[index] = (self._instructions[index][0], int(step))
            row["instruction_text"] = self._instructions[index][0]
        self._ticks_enqueued += 1
        self._writer.queue.put(("tick", row))

    def _frames(self, frames: Mapping[str, Frame]) -> tuple[dict, list]:
        """Enqueue the new frames; per camera, the stored frame number this tick saw (None: no frame/dropped)."""
        for name, frame in frames.items():  # all checked before anything is enqueued
            if name not in self.cameras:
                raise ValueError(f"frame for unknown camera {name!r}; recorder cameras: {list(self.cameras)}")
            if frame is not None:
                checks.image(name, frame.image, self._shapes[name])
        refs, dropped = {}, []
        for name in self.cameras:
            frame = frames.get(name)
            if frame is None:
                refs[name] = None
                continue
            if self._last_index.get(name) == frame.index:
                refs[name] = self._last_number[name]  # same frame as last tick: stored once
                continue
            self._last_index[name] = frame.index
            if not self._slot(self._writer.frame_slots):
                self._frames_dropped[name] += 1
                self._last_number[name] = refs[name] = None
                dropped.append(name)
                continue
            number = self._stored[name]
            self._stored[name] += 1
            self._frames_enqueued += 1
            # A copy: capture code may reuse its buffer before the writer thread encodes this one.
            self._writer.queue.put(("frame", name, number, frame.image.copy(), int(frame.index),
                                    float(frame.t_capture_s)))
            self._last_number[name] = refs[name] = number
        return refs, dropped

    # --- helpers -------------------------------------------------------------------------------------------

    def _reset_episode(self, instruction: str | None) -> None:
        self._last_step: int | None = None
        self._instructions: list[tuple[str, int | None]] = [(instruction, None)]  # (text, first step applied)
        self._pending_text: str | None = None
        self._last_index: dict[str, int] = {}  # camera -> Frame.index of the newest frame seen
        self._last_number: dict[str, int | None] = {}  # camera -> stored frame number of that frame (None: dropped)
        self._stored = {n: 0 for n in self.cameras}
        self._frames_dropped = {n: 0 for n in self.cameras}
        self._ticks_dropped = 0
        self._measured_len = None if self.measured_names is None else len(self.measured_names)

    def _slot(self, slots) -> bool:
        """Room in the writer's queue? Never waits unless block_when_full."""
        if slots.acquire(blocking=False):
            return True
        if not self.block_when_full:
            return False
        deadline = time.monotonic() + self.end_timeout_s  # liveness bound only
        while not slots.acquire(timeout=0.1):
            self._check_usable()
            if time.monotonic() > deadline:
                raise RecordingError(f"the writer made no progress for {self.end_timeout_s} s")
        return True

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("the recorder is closed")
        if self._writer.error is not None or not self._writer.thread.is_alive():
            err = self._writer.error
            raise RecordingError(str(err or "the recording writer thread stopped")) from err

    def _check_active(self) -> None:
        self._check_usable()
        if self._partial is None:
            raise RuntimeError("no episode is being recorded; call start_episode() first")

    def _make_dir(self) -> tuple[int, Path]:
        """mkdir is atomic, so two recorders sharing a root never take the same number."""
        while True:
            number = fmt.next_episode_number(os.listdir(self.root))
            path = self.root / fmt.episode_dir_name(number, partial=True)
            try:
                path.mkdir()
            except FileExistsError:
                continue
            if (self.root / fmt.episode_dir_name(number, partial=False)).exists():
                path.rmdir()  # a finished twin appeared meanwhile (another recorder); take the next number
                continue
            return number, path

