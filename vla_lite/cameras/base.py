"""The camera interface every source implements (OpenCV device, video file, image folder, simulated world).

Two layers:
- `FrameSource`: something that produces frames one at a time (a device, a file, a renderer). Blocking.
- `Camera`: what the control loop reads. `read()` never blocks on the device: it returns the newest frame
  that a capture thread (or an on-demand renderer) produced, with its capture time, or raises StaleFrame.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np


class StaleFrame(RuntimeError):
    """The newest frame is older than the allowed age (or none has arrived yet); the arm must hold."""


class CameraStopped(StaleFrame):
    """The capture has stopped for good (the source raised, reached its end, or the camera was closed): no newer
    frame will come. A fault, not a passing stall; the message names the source's error."""


class Frame(NamedTuple):
    image: np.ndarray  # (H, W, 3) uint8 RGB, as captured (before the bundle's resize/crop)
    t_capture_s: float  # time.monotonic() (or the injected clock) when the frame was captured
    index: int  # 0, 1, 2, ... per camera; a repeated index means no new frame


class FrameSource(Protocol):
    def grab(self) -> np.ndarray | None:
        """Block until the next frame; (H, W, 3) uint8 RGB, or None at the end of a finite source (a file)."""

    def close(self) -> None:
        """Release the device or file. Safe to call twice."""


@runtime_checkable
class TimedFrameSource(FrameSource, Protocol):
    """A source that knows when its frame was taken better than the moment grab() returns (a renderer reads the
    world's state, then renders for a while): ThreadedCamera stamps its frames with that time."""

    def grab_timed(self) -> tuple[np.ndarray | None, float]:
        """As grab(), with the capture time on the camera's clock."""


class Camera(Protocol):
    name: str

    def read(self, max_age_s: float | None = None) -> Frame:
        """Newest frame. Raises StaleFrame if none has arrived or it is older than max_age_s."""

    def close(self) -> None:
        """Release the device and stop any capture thread. Safe to call twice."""
