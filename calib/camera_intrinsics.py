"""Camera intrinsics: fit them from chessboard views, keep them as a JSON file, build undistortion maps.

    views = ViewCollector(parse_board("9x6", 25)).offer_all(frames).views    # calib/chessboard.py
    intr = calibrate_camera(views, board, image_size, CameraIdentity("0", (640, 480)))
    save_intrinsics("cam.json", intr); intr = load_intrinsics("cam.json")
    map1, map2 = undistort_maps(intr)          # once; then cv2.remap per frame (vla_lite/cameras/undistort.py)

The model is OpenCV's pinhole + (k1, k2, p1, p2, k3) distortion. Errors are in pixels of the calibrated image.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .chessboard import Board, View
from .errors import CalibrationFileError, CameraCalibrationError
from .json_files import read_json, utc_now_iso, write_text_atomic

FORMAT = "vla-lite-camera-intrinsics"
VERSION = 1
MIN_VIEWS = 4


@dataclass(frozen=True)
class CameraIdentity:
    source: str  # what was passed as --camera (device index or path, a video, an image folder)
    resolution: tuple[int, int]  # (width, height) px the camera delivered


@dataclass(frozen=True)
class CameraIntrinsics:
    camera_matrix: tuple[tuple[float, ...], ...]  # 3x3, px: [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    dist: tuple[float, ...]  # (k1, k2, p1, p2, k3)
    image_size: tuple[int, int]  # (width, height) px
    rms_px: float  # reprojection error over all corners of all views
    per_view_px: tuple[float, ...]  # RMS reprojection error of each view
    board: str  # "9x6" inner corners
    square_mm: float
    camera: CameraIdentity
    created_utc: str

    fx = property(lambda self: self.camera_matrix[0][0])
    fy = property(lambda self: self.camera_matrix[1][1])
    cx = property(lambda self: self.camera_matrix[0][2])
    cy = property(lambda self: self.camera_matrix[1][2])

    def K(self) -> np.ndarray:
        return np.array(self.camera_matrix, dtype=np.float64)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "rms_px": self.rms_px, "fx": self.fx, "fy": self.fy,
                "cx": self.cx, "cy": self.cy, "dist": list(self.dist), "image_size": list(self.image_size),
                "camera_matrix": [list(r) for r in self.camera_matrix], "per_view_px": list(self.per_view_px),
                "board": self.board, "square_mm": self.square_mm,
                "camera": {"source": self.camera.source, "resolution": list(self.camera.resolution)},
                "created_utc": self.created_utc}

    @classmethod
    def from_dict(cls, d) -> "CameraIntrinsics":
        if not isinstance(d, dict) or d.get("format") != FORMAT or d.get("version") != VERSION:
            got = (d.get("format"), d.get("version")) if isinstance(d, dict) else type(d).__name__
            raise CalibrationFileError(f"expected a {FORMAT!r} version {VERSION} object, got {got!r}")
        try:
            K = np.array(d["camera_matrix"], dtype=np.float64)
            dist = tuple(float(v) for v in d["dist"])
            w, h = (int(v) for v in d["image_size"])
            cam = CameraIdentity(str(d["camera"]["source"]), tuple(int(v) for v in d["camera"]["resolution"]))
            out = cls(tuple(tuple(r) for r in K.tolist()), dist, (w, h), float(d["rms_px"]),
                      tuple(float(v) for v in d["per_view_px"]), str(d["board"]), float(d["square_mm"]), cam,
                      str(d["created_utc"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationFileError(f"camera intrinsics field missing or malformed: {exc!r}") from None
        if K.shape != (3, 3) or not (out.fx > 0 and out.fy > 0) or len(dist) not in (4, 5, 8, 12, 14):
            raise CalibrationFileError(f"camera_matrix {K.tolist()} / dist of {len(dist)} values; expected a 3x3 "
                                       "matrix with fx, fy > 0 and 4, 5, 8, 12 or 14 distortion coefficients")
        return out


def calibrate_camera(views: Sequence[View], board: Board, image_size: tuple[int, int],
                     camera: CameraIdentity) -> CameraIntrinsics:
    """Fit K and (k1, k2, p1, p2, k3) to the views' corners (cv2.calibrateCamera), with per-view RMS errors."""
    import cv2

    if len(views) < MIN_VIEWS:
        raise CameraCalibrationError(f"{len(views)} usable view(s) of the {board.name} board; expected at least "
                                     f"{MIN_VIEWS} (15-25 spread over the image and tilted are better)")
    obj = board.object_points()
    img_pts = [v.corners.astype(np.float32) for v in views]
    rms, K, dist, rvecs, tvecs = cv2.calibrateCamera([obj] * len(views), img_pts, tuple(image_size), None, None)
    if not (math.isfinite(rms) and K[0, 0] > 0 and K[1, 1] > 0):
        raise CameraCalibrationError(f"OpenCV's fit failed (RMS {rms}, K {K.tolist()}); take views with the "
                                     "board tilted and at several distances")
    per_view = []
    for pts, r, t in zip(img_pts, rvecs, tvecs):
        proj, _ = cv2.projectPoints(obj, r, t, K, dist)
        per_view.append(float(np.sqrt(np.mean(np.sum((proj - pts) ** 2, axis=-1)))))
    return CameraIntrinsics(tuple(tuple(r) for r in K.tolist()), tuple(dist.ravel().tolist()),
                            (int(image_size[0]), int(image_size[1])), float(rms), tuple(per_view), board.name,
                            board.square_mm, camera, utc_now_iso())


def undistort_maps(intr: CameraIntrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-point remap tables (cv2.CV_16SC2) that undistort a full frame, keeping the same camera matrix (so
    the image keeps its scale and centre; a barrel lens leaves black corners)."""
    import cv2

    K = intr.K()
    return cv2.initUndistortRectifyMap(K, np.array(intr.dist), None, K, tuple(intr.image_size), cv2.CV_16SC2)


def save_intrinsics(path: str | os.PathLike, intr: CameraIntrinsics) -> Path:
    return write_text_atomic(path, json.dumps(intr.to_dict(), indent=2) + "\n")


def load_intrinsics(path: str | os.PathLike) -> CameraIntrinsics:
    return read_json(path, "camera intrinsics file", CameraIntrinsics.from_dict,
                     " (make one with vla-lite calibrate-camera)")
