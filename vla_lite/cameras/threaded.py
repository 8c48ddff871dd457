"""ThreadedCamera: one daemon capture thread per camera, keeping only the newest frame.

The control loop must never wait on a device: `read()` returns the newest frame the thread captured (or raises
StaleFrame) in microseconds. A frame overwritten before anyone read it is counted as dropped. A source that ends
(grab() -> None) or raises stops the capture; from then on every read raises CameraStopped (a StaleFrame) naming
the reason, so the arm holds at once and the loop reports a camera fault with the source's error, instead of
running on a picture that can no longer be refreshed.

close() may close the source while the thread is blocked in grab() (a stalled device): a source's close() must
be safe to call then and should make grab() return or raise. The OpenCV sources take a lock for this.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Callable

import numpy as np

from .base import CameraStopped, Frame, FrameSource, StaleFrame, TimedFrameSource

log = logging.getLogger(__name__)

CLOSE_GRACE_S = 0.2  # close() waits this long for grab() to return by itself, then closes the source under it


class ThreadedCamera:
    """Camera over any FrameSource. `clock` stamps captures (a TimedFrameSource stamps its own) and measures ages
    (seconds, monotonic). `max_age_s`: what read() allows when not told (None: any age)."""

    def __init__(self, name: str, source: FrameSource, clock: Callable[[], float] = time.monotonic, *,
                 start: bool = True, join_timeout_s: float = 2.0, max_age_s: float | None = None):
        if not isinstance(name, str) or not name:
            raise ValueError(f"camera name must be a non-empty string, got {name!r}")
        _check_age(max_age_s)
        self.name, self.source, self.clock, self.join_timeout_s = name, source, clock, join_timeout_s
        self.max_age_s = max_age_s
        self.error: BaseException | None = None  # what the source raised, if it did
        self.ended = False  # the source reported its end (grab() -> None)
        self.frames_captured = 0
        self.frames_dropped = 0  # overwritten before any read() or wait() returned them
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._last_returned = -1  # index of the newest frame handed out
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t_start_s: float | None = None
        self._closed = False
        if start:
            self.start()

    def start(self) -> "ThreadedCamera":
        """Start the capture thread (idempotent)."""
        with self._cond:
            if self._closed:
                raise RuntimeError(f"camera {self.name!r} is closed; open a new one")
            if self._thread is None:
                self._t_start_s = self.clock()
                self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)
                self._thread.start()
        return self

    @property
    def capturing(self) -> bool:
        """The capture thread is running (False before start(), after the source ended or failed, after close())."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        index = 0
        timed = isinstance(self.source, TimedFrameSource)
        while not self._stop.is_set():
            try:
                image, t_capture_s = self.source.grab_timed() if timed else (self.source.grab(), None)
            except Exception as exc:  # a device error must stop this camera, never the process
                if not self._stop.is_set():  # close() interrupting a blocked grab is not a fault
                    self._finish(error=exc)
                break
            t_capture_s = self.clock() if t_capture_s is None else t_capture_s
            if image is None:
                if not self._stop.is_set():  # a source that close() stopped has not reached its end
                    self._finish(ended=True)
                break
            if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
                    and image.shape[2] == 3):
                got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
                self._finish(error=ValueError(f"source {type(self.source).__name__} gave {got}; expected an "
                                              "(H, W, 3) uint8 RGB image"))
                break
            with self._cond:
                if self._frame is not None and self._frame.index > self._last_returned:
                    self.frames_dropped += 1
                self._frame = Frame(image, t_capture_s, index)
                self.frames_captured += 1
                self._cond.notify_all()
            index += 1

    def _finish(self, error: BaseException | None = None, ended: bool = False) -> None:
        with self._cond:
            self.error, self.ended = error, ended
            self._cond.notify_all()

    def _stopped_reason(self) -> str | None:
        if self.error is not None:
            return f"capture stopped: the source raised {type(self.error).__name__}: {self.error}"
        if self.ended:
            return "capture stopped: the source ended (end of file)"
        if self._closed:
            return "the camera is closed"
        return None

    def read(self, max_age_s: float | None = None) -> Frame:
        """Newest frame, without blocking on the device. Raises CameraStopped once the capture has stopped (the
        source's error in the message), StaleFrame if none has arrived or the frame is older than max_age_s (None:
        the camera's own max_age_s)."""
        max_age_s = self.max_age_s if max_age_s is None else _check_age(max_age_s)
        with self._cond:
            frame, now = self._frame, self.clock()
            stopped = self._stopped_reason() if (self.error or self.ended or self._closed) else None
            if frame is None or stopped or self._thread is None or (
                    max_age_s is not None and now - frame.t_capture_s > max_age_s):
                error = CameraStopped if stopped else StaleFrame
                raise error(self._stale_message(frame, now, max_age_s, stopped))
            self._last_returned = max(self._last_returned, frame.index)
        return frame

    def _stale_message(self, frame: Frame | None, now: float, max_age_s: float | None, stopped: str | None) -> str:
        limit = "no limit" if max_age_s is None else f"limit {max_age_s * 1e3:.0f} ms"
        if self._thread is None and not self._closed:
            return f"camera {self.name!r}: not started; call start() ({limit})"
        if frame is None:
            since = "" if self._t_start_s is None else f", {(now - self._t_start_s) * 1e3:.0f} ms after start"
            return f"camera {self.name!r}: no frame has arrived{since} ({limit})" + (f"; {stopped}" if stopped else "")
        age = f"newest frame is {(now - frame.t_capture_s) * 1e3:.0f} ms old ({limit})"
        return f"camera {self.name!r}: {stopped}; {age}" if stopped else f"camera {self.name!r}: {age}"

    def wait(self, after_index: int = -1, timeout_s: float = 5.0) -> Frame:
        """Block until a frame newer than after_index arrives (start-up, tests). Raises StaleFrame on timeout or
        when the capture stops first."""
        with self._cond:
            ok = self._cond.wait_for(lambda: (self._frame is not None and self._frame.index > after_index)
                                     or self._stopped_reason() is not None, timeout_s)
            stopped = self._stopped_reason()
            if stopped or not ok:
                raise StaleFrame(f"camera {self.name!r}: no frame after index {after_index} within "
                                 f"{timeout_s * 1e3:.0f} ms" + (f"; {stopped}" if stopped else ""))
            frame = self._frame
            self._last_returned = max(self._last_returned, frame.index)
        return frame

    def close(self) -> None:
        """Stop and join the capture thread, then close the source. Safe to call twice."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(min(CLOSE_GRACE_S, self.join_timeout_s))  # let an in-flight grab() of a live camera finish
        try:
            self.source.close()
        finally:
            if thread is not None and thread.is_alive():
                thread.join(self.join_timeout_s)  # closing the source unblocks a grab() stuck on the device
                if thread.is_alive():
                    log.warning("camera %r: capture thread still blocked in %s.grab() after close; left as a "
                                "daemon thread", self.name, type(self.source).__name__)

    def __enter__(self) -> "ThreadedCamera":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"ThreadedCamera({self.name!r}, {type(self.source).__name__}, captured={self.frames_captured}, "
                f"dropped={self.frames_dropped})")


def _check_age(max_age_s: float | None) -> float | None:
    if max_age_s is not None and (isinstance(max_age_s, bool) or not isinstance(max_age_s, (int, float))
                                  or not 0 < max_age_s < math.inf):
        raise ValueError(f"max_age_s must be a number > 0 (seconds) or None, got {max_age_s!r}")
    return max_age_s
