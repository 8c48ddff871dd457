"""Encoding camera frames to mp4 as LeRobot (0.6) does, with PyAV: one file per episode, then episodes concatenated
into a shared file by remuxing (no re-encode), as LeRobot's concatenate_video_files does.

LeRobot's default is AV1 with libsvtav1, yuv420p, GOP 2 (g), CRF 30, preset 12 and svtav1-params fast-decode=0;
where PyAV's build has no SVT-AV1, libaom-av1 with the same g and crf. `h264` is libx264 with g 2 and CRF 30. The
feature's `info` in meta/info.json records what was used, with the video.* keys LeRobot 0.6.1 writes.
"""

from __future__ import annotations

import enum
import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Iterable

import numpy as np

from .episode import DatasetError


class VideoCodec(enum.Enum):
    AV1 = "av1"  # LeRobot's default
    H264 = "h264"


def _has_encoder(name: str) -> bool:
    import av

    try:
        av.codec.Codec(name, "w")
    except Exception:  # av raises UnknownCodecError (older: ValueError) for a codec its build lacks
        return False
    return True


def encoder_settings(codec: VideoCodec) -> tuple[str, dict[str, str], dict]:
    """(PyAV encoder name, its options, the video.* keys for the feature's info) as LeRobot sets them."""
    if codec is VideoCodec.AV1:
        if _has_encoder("libsvtav1"):
            return "libsvtav1", {"g": "2", "crf": "30", "preset": "12", "svtav1-params": "fast-decode=0"}, \
                _info(preset=12)
        if _has_encoder("libaom-av1"):
            return "libaom-av1", {"g": "2", "crf": "30"}, _info(preset=None)
        raise DatasetError("this PyAV build has no AV1 encoder (libsvtav1 or libaom-av1); use --video-codec h264")
    if not _has_encoder("libx264"):
        raise DatasetError("this PyAV build has no H.264 encoder (libx264)")
    return "libx264", {"g": "2", "crf": "30"}, _info(preset=None)


def _info(preset) -> dict:
    return {"video.g": 2, "video.crf": 30, "video.preset": preset, "video.fast_decode": 0,
            "video.video_backend": "pyav", "video.extra_options": {}}


def rate_of(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


def encode_frames(frames: Iterable[np.ndarray], path: Path, fps: float, codec: VideoCodec) -> int:
    """(H, W, 3) uint8 RGB frames -> an mp4 at `path` (yuv420p). Returns the number of frames written."""
    import av

    encoder, options, _ = encoder_settings(codec)
    n = 0
    with av.open(str(path), "w") as out:
        stream = None
        for image in frames:
            if stream is None:
                stream = out.add_stream(encoder, rate=rate_of(fps), options=options)
                stream.pix_fmt, stream.height, stream.width = "yuv420p", image.shape[0], image.shape[1]
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                out.mux(packet)
            n += 1
        if stream is None:
            raise DatasetError(f"{path}: no frames to encode")
        for packet in stream.encode():
            out.mux(packet)
    return n


def concatenate(parts: list[Path], out_path: Path) -> None:
    """Episode files (same codec, size and rate) -> one file, packets copied as they are."""
    import av

    out_path.parent.mkdir(parents=True, exist_ok=True)
    if len(parts) == 1:
        os.replace(parts[0], out_path)
        return
    with tempfile.NamedTemporaryFile("w", suffix=".ffconcat", delete=False) as listing:
        listing.write("ffconcat version 1.0\n" + "".join(f"file '{p.resolve()}'\n" for p in parts))
    try:
        with av.open(listing.name, "r", format="concat", options={"safe": "0"}) as src, \
                av.open(str(out_path), "w", options={"movflags": "faststart"}) as dst:
            source = src.streams.video[0]
            stream = dst.add_stream_from_template(template=source, opaque=True)
            stream.time_base = source.time_base
            for packet in src.demux(source):
                if packet.dts is None:
                    continue
                packet.stream = stream
                dst.mux(packet)
    finally:
        os.unlink(listing.name)
    for p in parts:
        p.unlink()
