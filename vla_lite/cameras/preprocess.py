"""Captured frame -> policy graph input, per the bundle's CameraSpec (docs/BUNDLE.md).

(H, W, 3) uint8 RGB -> crop [top, left, height, width] -> resize to (height, width) -> channel order -> scale
0..255 onto pixel_range -> (1, height, width, 3) float32.

Resizing is cv2.resize (INTER_AREA / INTER_LINEAR), except a large area downscale by a non-whole factor (the
common case: 640x480 -> 96x96), where OpenCV takes ~0.8 ms here. That one is computed from an integral image in
~0.4 ms: each output pixel is the mean of the input area it covers, fractional edge pixels weighted by their
overlap, which is what INTER_AREA defines; OpenCV rounds the mean to uint8, so the two differ by at most half a
grey level. The resize plan is chosen once per input size.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..bundle.manifest import CameraSpec

INT32_MAX_PIXELS = (2**31 - 1) // 255  # an int32 integral image holds the sum of this many 8-bit pixels
# Input px per output px from which the integral image beats cv2.INTER_AREA at a non-whole scale factor (measured
# here: 640x480 -> 96x96 0.4 vs 0.8 ms, -> 128x128 0.66 vs 0.83 ms; 320x240 -> 96x96 0.40 vs 0.28 ms).
AREA_MIN_CELL = 16


def _area_grid(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges of the n_out output cells on the input axis: integer part, its +1 neighbour, fraction."""
    pos = np.arange(n_out + 1) * n_in / n_out  # exact integers when n_out divides n_in
    lo = np.floor(pos).astype(np.intp)
    return lo, np.minimum(lo + 1, n_in), pos - lo


class _AreaDownscale:
    """Sum of the input over each output cell (not yet divided by the cell area): (h, w, 3) int or float64."""

    def __init__(self, cv2, in_hw: tuple[int, int], out_hw: tuple[int, int]):
        (H, W), (h, w) = in_hw, out_hw
        self.integral = cv2.integral
        self.sdepth = cv2.CV_32S if H * W <= INT32_MAX_PIXELS else cv2.CV_64F
        self.rows, self.rows1, fy = _area_grid(H, h)
        cols, cols1, fx = _area_grid(W, w)
        self.cols = np.concatenate([cols, cols1])  # one gather for both neighbours of each column edge
        self.fy = fy[:, None, None] if fy.any() else None  # None: edges on whole pixels, no interpolation
        self.fx = fx[None, :, None] if fx.any() else None
        self.w1 = w + 1
        self.cell_area = (H / h) * (W / w)  # input px per output px

    def __call__(self, image: np.ndarray) -> np.ndarray:
        I = self.integral(image, sdepth=self.sdepth)  # (H+1, W+1, 3); I[y, x] = sum of image[:y, :x]
        # The integral of a piecewise-constant image is bilinear inside each pixel, so interpolating it at the
        # fractional cell edges is exact.
        E = np.take(I[self.rows], self.cols, axis=1)  # (h+1, 2(w+1), 3)
        if self.fy is not None:
            E = E + self.fy * (np.take(I[self.rows1], self.cols, axis=1) - E)
        E0, E1 = E[:, :self.w1], E[:, self.w1:]
        J = E0 if self.fx is None else E0 + self.fx * (E1 - E0)  # (h+1, w+1, 3) integral at the cell corners
        return J[1:, 1:] - J[:-1, 1:] - J[1:, :-1] + J[:-1, :-1]


class Preprocessor:
    """Callable: (H, W, 3) uint8 RGB frame -> (1, h, w, 3) float32. Returns a new array on every call."""

    def __init__(self, spec: CameraSpec):
        import cv2

        self.spec, self._cv2 = spec, cv2
        self.out_hw = (spec.height, spec.width)
        lo, hi = spec.pixel_range
        self.lo, self.per_level = float(lo), (float(hi) - float(lo)) / 255.0  # 0..255 -> lo..hi
        self.bgr = spec.channel_order == "BGR"
        self._plans: dict[tuple[int, int], tuple[Callable[[np.ndarray], np.ndarray], float]] = {}

    def _plan(self, hw: tuple[int, int]) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
        """Resize function for this input size and the factor that maps its output to pixel_range units."""
        cv2, (h, w) = self._cv2, self.out_hw
        if hw == self.out_hw:
            return (lambda x: x), self.per_level
        downscale = hw[0] >= h and hw[1] >= w  # (area upscaling in OpenCV is an interpolation, not a mean)
        whole_factors = hw[0] % h == 0 and hw[1] % w == 0  # OpenCV has a fast path for these
        if (self.spec.resize == "area" and downscale and not whole_factors
                and hw[0] * hw[1] >= AREA_MIN_CELL * h * w):
            area = _AreaDownscale(cv2, hw, self.out_hw)
            return area, self.per_level / area.cell_area
        interp = cv2.INTER_AREA if self.spec.resize == "area" else cv2.INTER_LINEAR
        return (lambda x: cv2.resize(x, (w, h), interpolation=interp)), self.per_level

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        name = self.spec.name
        if not isinstance(frame, np.ndarray):
            raise TypeError(f"camera {name!r}: expected an (H, W, 3) uint8 RGB numpy array, got "
                            f"{type(frame).__name__}")
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or 0 in frame.shape:
            raise ValueError(f"camera {name!r}: expected an (H, W, 3) uint8 RGB frame, got {frame.dtype} "
                             f"{frame.shape}")
        if self.spec.crop is not None:
            top, left, ch, cw = self.spec.crop
            if top + ch > frame.shape[0] or left + cw > frame.shape[1]:
                raise ValueError(f"camera {name!r}: crop [top, left, height, width] = {list(self.spec.crop)} "
                                 f"does not fit in the {frame.shape[0]}x{frame.shape[1]} (HxW) frame; expected "
                                 f"top + height <= {frame.shape[0]} and left + width <= {frame.shape[1]}")
            frame = frame[top:top + ch, left:left + cw]
        hw = frame.shape[:2]
        plan = self._plans.get(hw)
        if plan is None:
            if len(self._plans) >= 8:  # a source whose size keeps changing: do not grow without bound
                self._plans.clear()
            plan = self._plans[hw] = self._plan(hw)
        resize, scale = plan
        resized = resize(frame)  # (h, w, 3), uint8 or float64 area sums
        if self.bgr:
            resized = resized[..., ::-1]
        out = np.empty((1, *self.out_hw, 3), dtype=np.float32)
        np.multiply(resized, scale, out=out[0], casting="unsafe")
        out += np.float32(self.lo)
        return out


def make_preprocessor(spec: CameraSpec) -> Callable[[np.ndarray], np.ndarray]:
    """The frame -> graph input function for one bundle camera (see the module docstring for the steps)."""
    return Preprocessor(spec)
