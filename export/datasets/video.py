"""Frames of a video file by timestamp, decoded with PyAV (`av`, the library LeRobot decodes and encodes with).

OpenCV is not used here: OpenCV 4.8-4.13 open LeRobot's default AV1 files but decode no frame, and LeRobot pins
OpenCV < 4.14. PyAV decodes AV1 (libdav1d), H.264, HEVC (incl. 12-bit `gray12le` depth) and mpeg4 whatever OpenCV
is installed. The robot side keeps OpenCV for its cameras.

Seeking follows LeRobot's `decode_video_frames_pyav`: a row's time is from_s + timestamp (several episodes share one
v3.0 file, each starting at its `from_timestamp`); seek to the keyframe at or before it, decode forward, take the
decoded frame nearest in time and refuse it when it is `tolerance_s` (LeRobot's 1e-4 s) or more away. Rows read in
order decode forward without seeking, so an episode costs one pass over its frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from .episode import DatasetError, FrameKind, FrameSequence

TOLERANCE_S = 1e-4  # LeRobot's default tolerance between a row's time and its frame's time, seconds
FORWARD_S = 2.0  # decode forward (instead of seeking) when the next wanted frame is at most this far ahead


def _av():
    try:
        import av
    except ImportError:
        raise DatasetError("reading video needs PyAV: pip install av (it is in vla-lite's offline extra)") from None
    return av


class VideoFile:
    """One open video file. frame_at(t_s) -> the decoded frame nearest t_s (an av.VideoFrame, converted by the
    caller). Keeps the container open between reads; close() frees it (reading again reopens it)."""

    def __init__(self, path: str | Path, tolerance_s: float = TOLERANCE_S):
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f"video {self.path} does not exist")
        self.tolerance_s = tolerance_s
        self._container = self._stream = self._frames = None
        self._current = None  # (time s, av.VideoFrame) of the last frame decoded, or None after a seek

    def _open(self):
        if self._container is None:
            av = _av()
            try:
                self._container = av.open(str(self.path))
                self._stream = self._container.streams.video[0]
            except (av.FFmpegError, IndexError) as exc:
                self.close()
                raise DatasetError(f"video {self.path}: PyAV cannot open it as a video ({exc})") from None
            self._frames, self._current = None, None
        return self._stream

    @property
    def codec(self) -> str:
        """The stream's codec as the container names it (av1, h264, hevc, mpeg4, ...)."""
        return _codec_name(self._open())

    @property
    def frame_count(self) -> int:
        """Frames in the file: the container's count, or the packets counted when the container has none."""
        stream = self._open()
        if stream.frames:
            return int(stream.frames)
        count = sum(1 for p in self._container.demux(stream) if p.size)
        self._frames, self._current = None, None
        self._container.seek(0)
        return count

    def describe(self) -> dict:
        """codec, width, height, pix_fmt, fps and frame count, from the container (nothing decoded)."""
        s = self._open()
        rate = s.average_rate or s.guessed_rate
        return {"codec": _codec_name(s), "width": int(s.width), "height": int(s.height),
                "pix_fmt": s.codec_context.pix_fmt, "fps": float(rate) if rate else None, "frames": self.frame_count}

    def _seek(self, t_s: float) -> None:
        stream = self._open()
        # One tick before the target so a frame exactly at t_s is not skipped; backward: the keyframe before.
        self._container.seek(max(0, int(round(t_s / stream.time_base)) - 1), backward=True, any_frame=False,
                             stream=stream)
        self._frames, self._current = self._container.decode(stream), None

    def _next(self):
        """(time s, frame) of the next decoded frame, or None at the end of the stream."""
        av = _av()
        try:
            for frame in self._frames:
                if frame.pts is not None:
                    return float(frame.pts * self._stream.time_base), frame
        except av.FFmpegError as exc:
            raise DatasetError(f"video {self.path} ({self.codec}): decoding failed ({exc})") from None
        return None

    def frame_at(self, t_s: float):
        """The decoded frame nearest t_s (seconds from the file's start). Raises DatasetError when no frame lies
        within tolerance_s of it, or the file cannot be decoded (naming the file and its codec)."""
        self._open()
        cur = self._current
        if cur is None or self._frames is None or t_s < cur[0] - self.tolerance_s or t_s > cur[0] + FORWARD_S:
            self._seek(t_s)
        before = None
        while self._current is None or self._current[0] < t_s - self.tolerance_s:
            nxt = self._next()
            if nxt is None:
                break
            before, self._current = self._current, nxt
        found = [c for c in (before, self._current) if c is not None]
        if not found:
            raise DatasetError(f"video {self.path} ({self.codec}): no frame could be decoded at or after "
                               f"t = {t_s:.4f} s (the decoder gave none; a codec this PyAV build lacks?)")
        best = min(found, key=lambda c: abs(c[0] - t_s))
        if abs(best[0] - t_s) >= self.tolerance_s:
            raise DatasetError(f"video {self.path}: no frame within {self.tolerance_s} s of t = {t_s:.6f} s (nearest "
                               f"at {best[0]:.6f} s); timestamps and video disagree")
        return best[1]

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = self._stream = self._frames = self._current = None


def _codec_name(stream) -> str:
    # The stream's codec id name (av1 for any AV1 decoder, h264, hevc, mpeg4), not the decoder's (libdav1d).
    try:
        return stream.codec_context.codec.canonical_name
    except AttributeError:
        return stream.codec_context.name


def rgb_converter() -> Callable:
    """frame -> (H, W, 3) uint8 RGB, the pixels LeRobot's `frame.to_ndarray(format="rgb24")` gives, through one
    reused reformatter (a new swscale context per frame cost ~10x the decode here)."""
    from av.video.reformatter import VideoReformatter

    reformatter = VideoReformatter()
    return lambda frame: reformatter.reformat(frame, format="rgb24").to_ndarray()


def video_frames(path: str | Path, timestamps: np.ndarray, fps: float, from_s: float = 0.0,
                 to_s: float | None = None, describe: str = "",
                 convert: Callable | None = None, kind: FrameKind = FrameKind.RGB) -> FrameSequence:
    """Per row i, the frame at from_s + timestamps[i] (seconds) in the video at fps (frames per second).

    `frame_count` is the number of frames the file holds for this episode: those in [from_s, to_s) when the
    episode's span in a shared file is known, else the file's frames from from_s on. convert(av frame) -> array
    (default: RGB). Nothing is opened until a frame or the count is asked for, so listing episodes does not touch
    their videos.
    """
    video = VideoFile(path)
    t = np.asarray(timestamps, np.float64)
    first = int(round(from_s * fps))
    last = None if to_s is None else int(round(to_s * fps))  # one past the episode's last frame
    convert = convert or rgb_converter()

    def count() -> int:
        end = video.frame_count if last is None else min(video.frame_count, last)
        return max(0, end - first)

    def get(i: int) -> np.ndarray:
        if not (np.isfinite(t[i]) and t[i] >= 0):
            raise DatasetError(f"{describe or video.path}: row {i} has timestamp {timestamps[i]!r}; expected a "
                               "finite time >= 0 s from the episode start")
        if to_s is not None and from_s + t[i] >= to_s:
            raise DatasetError(f"{describe or video.path}: row {i} (t = {t[i]:.4f} s) is past this episode's span "
                               f"[{from_s}, {to_s}) s in {video.path}")
        return convert(video.frame_at(from_s + t[i]))

    return FrameSequence(len(t), get, frame_count=count, close=video.close, kind=kind,
                         describe=describe or f"video {path}", storage=lambda: {"file": str(path), **video.describe()})
