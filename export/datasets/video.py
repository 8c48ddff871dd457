"""Frames of an mp4 (or any file OpenCV reads) by frame number, decoded on demand.

A row's frame number comes from its timestamp: round((from_s + timestamp) * fps), as LeRobot stores video
frames at the dataset's fps (several episodes may share one file, each starting at its `from_timestamp`).
Sequential reads use `read()`; anything else seeks with CAP_PROP_POS_FRAMES (frame-accurate for the mp4
files checked here: mpeg4 'mp4v' written by OpenCV). OpenCV is imported when a file is first opened.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .episode import DatasetError, FrameSequence


class VideoFile:
    """One open video: frame(k) -> (H, W, 3) uint8 RGB. Keeps the capture open between reads; close() frees it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f"video {self.path} does not exist")
        self._cap = None
        self._next = 0  # the frame number read() would return
        self._count: int | None = None

    def _open(self):
        if self._cap is None:
            import cv2

            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():
                raise DatasetError(f"video {self.path}: OpenCV cannot open it (not a video, or no decoder)")
            self._cap, self._next = cap, 0
            self._count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        return self._cap

    @property
    def frame_count(self) -> int:
        """Frames in the file, as its container reports them."""
        self._open()
        return self._count

    def frame(self, k: int) -> np.ndarray:
        import cv2

        cap = self._open()
        if k != self._next:
            cap.set(cv2.CAP_PROP_POS_FRAMES, float(k))
        ok, bgr = cap.read()
        if not ok:
            self._next = -1  # position unknown: seek next time
            raise DatasetError(f"video {self.path}: cannot decode frame {k} (the file has {self._count} frames)")
        self._next = k + 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def video_frames(path: str | Path, timestamps: np.ndarray, fps: float, from_s: float = 0.0,
                 to_s: float | None = None, describe: str = "") -> FrameSequence:
    """Per row i, the frame at from_s + timestamps[i] (seconds) in the video at fps (frames per second).

    `frame_count` is the number of frames the file holds for this episode: those in [from_s, to_s) when the
    episode's span in a shared file is known, else the file's frames from from_s on. Nothing is opened until
    a frame or the count is asked for, so listing episodes does not touch their videos.
    """
    video = VideoFile(path)
    first = int(round(from_s * fps))
    t = np.asarray(timestamps, np.float64)
    numbers = first + np.rint(np.where(np.isfinite(t), t, -1e9) * fps).astype(np.int64)  # (N,) frame numbers
    last = None if to_s is None else int(round(to_s * fps))  # one past the episode's last frame

    def count() -> int:
        end = video.frame_count if last is None else min(video.frame_count, last)
        return max(0, end - first)

    def get(i: int) -> np.ndarray:
        k = int(numbers[i])
        if k < first:
            raise DatasetError(f"{describe or video.path}: row {i} has timestamp {timestamps[i]!r}; expected a "
                               "finite time >= 0 s from the episode start")
        if last is not None and k >= last:
            raise DatasetError(f"{describe or video.path}: row {i} (t = {timestamps[i]:.4f} s) needs frame {k}, "
                               f"past this episode's span [{from_s}, {to_s}) s in {video.path}")
        return video.frame(k)

    return FrameSequence(len(numbers), get, frame_count=count, close=video.close,
                         describe=describe or f"video {path}")
