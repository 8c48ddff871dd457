"""Undistorted camera input for a bundle camera that asks for it (CameraSpec.undistort), as a wrapper around
the plain preprocessor: frame -> cv2.remap with maps built once from the camera's intrinsics file -> crop,
resize, scale as before. One remap per frame (benchmarks/bench_undistort.py measures it). The one implementation:
`vla-lite run` builds its preprocessors here (vla_lite.camera_contract, with the live camera's file) and the
offline path imports it for training samples (export/datasets/windows.py, with the intrinsics the bundle camera
records), so a frame is undistorted bit for bit alike in training and at run time.

    pre = make_camera_preprocessor(spec, load_intrinsics("cam.json"))   # intrinsics may be None if not spec.undistort
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..bundle.manifest import CameraSpec
from ..calib.camera_intrinsics import CameraIntrinsics, undistort_maps
from .errors import CameraError
from .preprocess import make_preprocessor


class Undistorter:
    """Callable: (H, W, 3) uint8 frame of the calibrated size -> the same size, undistorted (new array)."""

    def __init__(self, intrinsics: CameraIntrinsics, name: str = "camera"):
        import cv2

        self.name, self.intrinsics = name, intrinsics
        self.size_wh = tuple(intrinsics.image_size)
        self.map1, self.map2 = undistort_maps(intrinsics)  # fixed-point tables: the fastest remap
        self._remap, self._linear = cv2.remap, cv2.INTER_LINEAR

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if frame.shape[1::-1] != self.size_wh:
            w, h = self.size_wh
            raise CameraError(f"camera {self.name!r} delivers {frame.shape[1]}x{frame.shape[0]} px frames but its "
                              f"intrinsics were calibrated at {w}x{h} (camera {self.intrinsics.camera.source!r}); "
                              "set the camera to that resolution or calibrate it again at this one")
        return self._remap(frame, self.map1, self.map2, self._linear)


class UndistortThenPreprocess:
    """Callable: frame -> undistort -> the bundle camera's own preprocessing (crop, resize, scale)."""

    def __init__(self, undistort: Callable[[np.ndarray], np.ndarray], preprocess: Callable[[np.ndarray], np.ndarray]):
        self.undistort, self.preprocess = undistort, preprocess

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return self.preprocess(self.undistort(frame))


def make_camera_preprocessor(spec: CameraSpec, intrinsics: CameraIntrinsics | None = None
                             ) -> Callable[[np.ndarray], np.ndarray]:
    """Undistort-then-preprocess when the bundle camera asks for undistorted input (spec.undistort), else the
    plain preprocessor: a policy trained on raw frames must get raw frames, intrinsics or not. A camera that asks
    and gets no intrinsics is refused, naming the camera."""
    if not spec.undistort:
        return make_preprocessor(spec)
    if intrinsics is None:
        raise CameraError(f"bundle camera {spec.name!r} expects undistorted frames: give the intrinsics file of "
                          "the camera feeding it (make one with vla-lite calibrate-camera)")
    return UndistortThenPreprocess(Undistorter(intrinsics, spec.name), make_preprocessor(spec))
