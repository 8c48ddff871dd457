"""The camera interface every source implements (OpenCV device, video file, image folder, simulated world).

Two layers:
- `FrameSource`: something that produces frames one at a time (a device, a file, a renderer). Blocking.
- `Camera`: what the control loop reads. `read()` never blocks on the device: it returns the newest frame
  that a capture thread (or an on-demand renderer) produced, with its capture time, or raises StaleFrame.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np


class StaleFrame(RuntimeError):
    """The newest frame is older than the allowed age (or none has arrived yet); the arm must hold."""


class Frame(NamedTuple):
    image: np.ndarray  # (H, W, 3) uint8 RGB, as captured (before the bundle's resize/crop)
    t_capture_s: float  # time.monotonic() (or the injected clock) when the frame was captured
    index: int  # 0, 1, 2, ... per camera; a repeated index means no new frame


class FrameSource(Protocol):
    def grab(self) -> np.ndarray | None:
        """Block until the next frame; (H, W, 3) uint8 RGB, or None at the end of a finite source (a file)."""

    def close(self) -> None:
        """Release the device or file. Safe to call twice."""


class Camera(Protocol):
    name: str

    def read(self, max_age_s: float | None = None) -> Frame:
        """Newest frame. Raises StaleFrame if none has arrived or it is older than max_age_s."""

    def close(self) -> None:
        """Release the device and stop any capture thread. Safe to call twice."""


def fresh_or_stale(name: str, frame: Frame | None, error: BaseException | None, now_s: float,
                   max_age_s: float) -> Frame:
    """The newest frame a capture thread published, if it is fresh; else StaleFrame saying why (the thread died,
    nothing yet, or too old)."""
    if error is not None:
        raise StaleFrame(f"camera {name!r} capture thread stopped: {type(error).__name__}: {error}")
    if frame is None:
        raise StaleFrame(f"camera {name!r} has produced no frame yet")
    age_s = now_s - frame.t_capture_s
    if age_s > max_age_s:
        raise StaleFrame(f"camera {name!r} newest frame is {age_s * 1e3:.0f} ms old (max {max_age_s * 1e3:.0f} ms)")
    return frame
