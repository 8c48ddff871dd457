"""LeRobot depth maps (0.6+): features whose info carries `is_depth_map: true`, read as millimetres, never as RGB.

LeRobot stores a depth map as 12-bit codes (0..4095) in an HEVC `gray12le` video (lossless x265 by default). The
codes are a logarithmic (default) or linear quantisation of depth between `video.depth_min` and `video.depth_max`
(metres, defaults 0.01 and 10), log(depth + `video.shift`) with shift 3.5 m. Reading inverts it as LeRobot's
`dequantize_depth` does (float32 arithmetic, clipped to [depth_min, depth_max], then millimetres rounded to uint16:
LeRobot's default output unit). Near 0.5 m one code is ~1.2 mm, so a value reads back within a millimetre or two of
what was recorded. Image-type depth features (16-bit PNG/TIFF rows) are read as stored, metres turned into mm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

CODE_MAX = 4095  # 12-bit codes
MM_PER_M = 1000.0


def is_depth_feature(feature: Mapping) -> bool:
    """LeRobot's rule: info.is_depth_map, or the legacy video.is_depth_map in info or video_info."""
    info, legacy = feature.get("info") or {}, feature.get("video_info") or {}
    return bool(info.get("is_depth_map") or info.get("video.is_depth_map") or legacy.get("video.is_depth_map"))


@dataclass(frozen=True)
class DepthCoding:
    """How a depth video's codes map to depth; metres, as LeRobot's DepthEncoderConfig stores them."""
    depth_min_m: float = 0.01
    depth_max_m: float = 10.0
    shift_m: float = 3.5
    use_log: bool = True
    pix_fmt: str = "gray12le"

    def __post_init__(self):
        if not self.depth_max_m > self.depth_min_m:
            raise ValueError(f"depth_max {self.depth_max_m!r} m must exceed depth_min {self.depth_min_m!r} m")
        if self.use_log and not self.depth_min_m + self.shift_m > 0:
            raise ValueError(f"depth_min + shift must be > 0 for log quantisation, got {self.depth_min_m!r} + "
                             f"{self.shift_m!r} m")

    @classmethod
    def from_info(cls, info: Mapping) -> "DepthCoding":
        """From a feature's `info` (video.depth_min / depth_max / shift / use_log / pix_fmt; absent: defaults)."""
        d = cls()
        get = lambda k, default: default if info.get(k) is None else info[k]  # noqa: E731
        return cls(float(get("video.depth_min", d.depth_min_m)), float(get("video.depth_max", d.depth_max_m)),
                   float(get("video.shift", d.shift_m)), bool(get("video.use_log", d.use_log)),
                   str(get("video.pix_fmt", d.pix_fmt)))

    def _scale_offset(self) -> tuple[float, float]:
        if self.use_log:
            lo, hi = math.log(self.depth_min_m + self.shift_m), math.log(self.depth_max_m + self.shift_m)
        else:
            lo, hi = self.depth_min_m, self.depth_max_m
        return (hi - lo) / CODE_MAX, lo

    def to_mm(self, codes: np.ndarray) -> np.ndarray:
        """(H, W) codes -> (H, W, 1) uint16 millimetres, LeRobot's arithmetic step for step."""
        scale, offset = self._scale_offset()
        depth = np.multiply(codes, scale).astype(np.float32)  # metres (log metres when use_log)
        depth += np.float32(offset)
        if self.use_log:
            np.exp(depth, out=depth)
            depth -= np.float32(self.shift_m)
        np.clip(depth, np.float32(self.depth_min_m), np.float32(self.depth_max_m), out=depth)
        depth *= np.float32(MM_PER_M)
        np.rint(depth, out=depth)
        return np.clip(depth, 0, 65535).astype(np.uint16)[..., None]

    def to_codes(self, depth_mm: np.ndarray) -> np.ndarray:
        """Millimetres -> 12-bit codes (LeRobot's quantize_depth for integer millimetre input)."""
        d = np.asarray(depth_mm, np.float32).squeeze()
        lo_mm, hi_mm, shift_mm = (np.float32(v * MM_PER_M) for v in (self.depth_min_m, self.depth_max_m, self.shift_m))
        if self.use_log:
            lo, hi = math.log(float(lo_mm + shift_mm)), math.log(float(hi_mm + shift_mm))
            norm = (np.log(d + shift_mm) - lo) / (hi - lo)
        else:
            norm = (d - lo_mm) / (hi_mm - lo_mm)
        return np.rint(norm * CODE_MAX).clip(0, CODE_MAX).astype(np.uint16)

    def decoder(self):
        """av.VideoFrame -> (H, W, 1) uint16 mm."""
        return lambda frame: self.to_mm(frame.to_ndarray(format=self.pix_fmt))


def image_to_mm(image: np.ndarray, unit: str | None) -> np.ndarray:
    """A decoded depth image (uint16 mm, or float metres when unit is 'm') -> (H, W, 1) uint16 mm."""
    a = np.asarray(image)
    a = a[..., :1] if a.ndim == 3 else a[..., None]
    if unit == "m" or np.issubdtype(a.dtype, np.floating):
        a = np.rint(np.asarray(a, np.float64) * MM_PER_M).clip(0, 65535)
    return a.astype(np.uint16)
