"""FrameSources backed by OpenCV: a camera device, a video file, a folder of images. All give (H, W, 3) uint8 RGB.

cv2 is imported in the constructors, so importing this module stays light. grab() and close() may be called from
different threads (ThreadedCamera grabs, the main thread closes): a lock keeps OpenCV from releasing a capture in
the middle of a read, and close() interrupts a pacing sleep at once.
"""

from __future__ import annotations

import glob
import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import CameraError
from .frame_pacer import FramePacer

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def _positive(value, what: str, integer: bool = True):
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if value is not None and (isinstance(value, bool) or not ok or not value > 0):
        raise ValueError(f"{what} must be a positive {'integer' if integer else 'number'} or None, got {value!r}")
    return value


class _Paced:
    """Shared by the recorded sources: the lock, the close flag and an interruptible pacing sleep."""

    def _init_paced(self, fps: float | None, clock: Callable[[], float], sleep: Callable[[float], None] | None):
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.pacer = None if fps is None else FramePacer(fps, clock, sleep or self._closing.wait)


class DeviceSource:
    """A live camera by index (0) or path (/dev/video2). Frames are read as the device delivers them."""

    def __init__(self, device: int | str, width: int | None = None, height: int | None = None,
                 fps: float | None = None):
        import cv2

        if isinstance(device, bool) or not isinstance(device, (int, str)) or (isinstance(device, int) and device < 0):
            raise ValueError(f"device must be an index >= 0 or a path such as /dev/video0, got {device!r}")
        _positive(width, "width")
        _positive(height, "height")
        _positive(fps, "fps", integer=False)
        self.label = f"camera device {device}"
        linux = sys.platform.startswith("linux")
        path = device if isinstance(device, str) else f"/dev/video{device}" if linux else None
        if path is not None and not os.path.exists(path):  # checked here: OpenCV only prints a warning
            present = sorted(glob.glob("/dev/video*")) or "none"
            raise CameraError(f"{self.label}: {path} does not exist (video devices present: {present}); expected "
                              "an index such as 0 or a path such as /dev/video0")
        self._cap = cv2.VideoCapture(device, cv2.CAP_V4L2) if isinstance(device, str) and linux \
            else cv2.VideoCapture(device)
        if not self._cap.isOpened():
            raise CameraError(f"{self.label} cannot be opened (in use by another program, or not a capture "
                              "device?)")
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a queue of old ones; ignored if unsupported
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height),
                            (cv2.CAP_PROP_FPS, fps)):
            if value is not None:
                self._cap.set(prop, value)
        got = (int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if (width or got[0], height or got[1]) != got:
            self._cap.release()
            raise CameraError(f"{self.label} gives {got[0]}x{got[1]} px, not the requested {width}x{height}; "
                              "choose a size the camera supports (v4l2-ctl --list-formats-ext)")
        self._cvt, self._code = cv2.cvtColor, cv2.COLOR_BGR2RGB
        self._lock = threading.Lock()
        self._closed = False

    def grab(self) -> np.ndarray:
        with self._lock:
            if self._closed:
                raise CameraError(f"{self.label} is closed")
            ok, bgr = self._cap.read()
        if not ok:
            raise CameraError(f"{self.label} returned no frame (unplugged, or in use by another program?)")
        return self._cvt(bgr, self._code)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._cap.release()


class VideoFileSource(_Paced):
    """A video file played like a camera: paced at the file's frame rate when realtime, else as fast as read."""

    def __init__(self, path: str | os.PathLike, realtime: bool = True, loop: bool = False, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] | None = None):
        import cv2

        self.path, self.loop = Path(path), loop
        if not self.path.is_file():
            raise CameraError(f"video file {str(self.path)!r} does not exist" if not self.path.exists() else
                              f"{str(self.path)!r} is not a file; expected a video file such as clip.mp4")
        if self.path.suffix.lower() in IMAGE_SUFFIXES:
            raise CameraError(f"{str(self.path)!r} is a still image, not a video; put images in a folder and "
                              "pass the folder to play them as frames")
        self._cap = cv2.VideoCapture(str(self.path))
        ok, bgr = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok:
            self._cap.release()
            raise CameraError(f"{str(self.path)!r} cannot be read as a video (OpenCV decoded no frame); expected "
                              "a video file such as .mp4 or .avi")
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        if realtime and not 0 < self.fps <= 1000:
            self._cap.release()
            raise CameraError(f"video file {str(self.path)!r} reports {self.fps} frames/s; expected (0, 1000] "
                              "to pace it in real time (pass realtime=False to read it as fast as possible)")
        self._init_paced(self.fps if realtime else None, clock, sleep)
        self._cv2 = cv2
        self._pending = bgr  # the first frame, read above to prove the file decodes
        self._closed = False

    def grab(self) -> np.ndarray | None:
        with self._lock:
            if self._closed:
                return None
            bgr, self._pending = self._pending, None
            if bgr is None:
                ok, bgr = self._cap.read()
                if not ok and self.loop:
                    self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
                    ok, bgr = self._cap.read()
                if not ok:
                    return None  # the end is reported at once, not a period later
        if self.pacer is not None:
            self.pacer.wait()  # after decoding: the decode time is part of the frame period
        return None if self._closing.is_set() else self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._closing.set()  # wakes a pacing sleep
        with self._lock:
            if not self._closed:
                self._closed = True
                self._cap.release()


class ImageFolderSource(_Paced):
    """The images in a folder (*.png, *.jpg, *.jpeg, *.bmp, name order), paced at fps (None: as fast as read)."""

    def __init__(self, path: str | os.PathLike, fps: float | None = 30.0, loop: bool = True, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] | None = None):
        import cv2

        self.path, self.loop = Path(path), loop
        if not self.path.is_dir():
            raise CameraError(f"image folder {str(self.path)!r} " +
                              ("is not a directory" if self.path.exists() else "does not exist"))
        self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.files:
            raise CameraError(f"image folder {str(self.path)!r} holds no images; expected files ending in "
                              f"{', '.join(IMAGE_SUFFIXES)}")
        self._cv2 = cv2
        self._init_paced(fps, clock, sleep)
        self._next = 0
        self._pending = self._load(self.files[0])  # fail now, not in the capture thread, on a bad first image
        self._closed = False

    def _load(self, file: Path) -> np.ndarray:
        bgr = self._cv2.imread(str(file), self._cv2.IMREAD_COLOR)
        if bgr is None:
            raise CameraError(f"{str(file)!r} cannot be read as an image")
        return self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)

    def grab(self) -> np.ndarray | None:
        with self._lock:
            if self._closed:
                return None
            if self._next == len(self.files):
                if not self.loop:
                    return None
                self._next = 0
            rgb, self._pending = self._pending, None
            if rgb is None:
                rgb = self._load(self.files[self._next])
            self._next += 1
        if self.pacer is not None:
            self.pacer.wait()
        return None if self._closing.is_set() else rgb

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            self._closed = True
