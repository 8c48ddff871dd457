"""Chessboard views for camera calibration: find the board, judge sharpness, track coverage, pick views.

Boards are named by OpenCV's inner-corner count: "9x6" is 9 x 6 inner corners (10 x 7 squares). A view is
accepted only when the whole board is found and it is not blurred: the variance of the Laplacian over the board's
region (grey levels^2; a sharp printed board at 640x480 gives several hundred, a 2 px blur about 10).
OpenCV is imported where it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from .errors import CameraCalibrationError

DEFAULT_MIN_SHARPNESS = 40.0  # variance of Laplacian over the board region
COVERAGE_GRID = (4, 3)  # image cells (columns, rows) whose share holding a corner is reported as coverage


@dataclass(frozen=True)
class Board:
    cols: int  # inner corners per row
    rows: int  # inner corners per column
    square_mm: float

    def __post_init__(self):
        if self.cols < 2 or self.rows < 2 or self.cols == self.rows:
            raise ValueError(f"board {self.cols}x{self.rows}: expected at least 2 x 2 inner corners and unequal "
                             "counts (a square board's orientation is ambiguous), e.g. 9x6")
        if not self.square_mm > 0:
            raise ValueError(f"square size must be > 0 mm, got {self.square_mm!r}")

    @property
    def name(self) -> str:
        return f"{self.cols}x{self.rows}"

    def object_points(self) -> np.ndarray:
        """(N, 3) float32 inner-corner positions on the board plane in mm, in OpenCV's corner order."""
        g = np.mgrid[0:self.cols, 0:self.rows].T.reshape(-1, 2) * self.square_mm
        return np.c_[g, np.zeros(len(g))].astype(np.float32)


def parse_board(text: str, square_mm: float) -> Board:
    """'9x6' -> Board(9, 6, square_mm)."""
    parts = str(text).lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"--board {text!r}: expected COLSxROWS inner corners, e.g. 9x6")
    return Board(int(parts[0]), int(parts[1]), float(square_mm))


def to_gray(image: np.ndarray) -> np.ndarray:
    import cv2

    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    raise ValueError(f"expected an (H, W, 3) uint8 RGB or (H, W) grey image, got {image.dtype} {image.shape}")


def find_board(gray: np.ndarray, board: Board) -> np.ndarray | None:
    """(N, 1, 2) float32 sub-pixel inner corners, or None when the whole board is not seen."""
    import cv2

    ok, corners = cv2.findChessboardCorners(gray, (board.cols, board.rows), flags=cv2.CALIB_CB_ADAPTIVE_THRESH |
                                            cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK)
    if not ok:
        return None
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-3)
    corners = cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1), criteria)
    return corners.reshape(-1, 1, 2).astype(np.float32)  # OpenCV 4 gives (N, 1, 2), OpenCV 5's cornerSubPix (N, 2)


def board_sharpness(gray: np.ndarray, corners: np.ndarray) -> float:
    """Variance of the Laplacian inside the board's convex hull (grey levels^2)."""
    import cv2

    mask = np.zeros(gray.shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(corners.reshape(-1, 2).astype(np.int32)), 1)
    lap = cv2.Laplacian(gray, cv2.CV_64F)
    return float(lap[mask.astype(bool)].var())


@dataclass
class Coverage:
    """Which cells of a COVERAGE_GRID over the image have held a board corner in an accepted view."""

    image_size: tuple[int, int]  # (width, height) px
    hits: np.ndarray = field(default_factory=lambda: np.zeros(COVERAGE_GRID[::-1], int))

    def add(self, corners: np.ndarray) -> None:
        (w, h), (gx, gy) = self.image_size, COVERAGE_GRID
        pts = corners.reshape(-1, 2)
        cx = np.clip((pts[:, 0] * gx / w).astype(int), 0, gx - 1)
        cy = np.clip((pts[:, 1] * gy / h).astype(int), 0, gy - 1)
        np.add.at(self.hits, (cy, cx), 1)

    @property
    def fraction(self) -> float:
        return float((self.hits > 0).mean())

    def map(self) -> str:
        """One text row per grid row: '#' a covered cell, '.' one still empty."""
        return "\n".join("".join("#" if n else "." for n in row) for row in self.hits)


@dataclass(frozen=True)
class View:
    corners: np.ndarray  # (N, 1, 2) float32
    sharpness: float
    index: int  # position in the frame stream


@dataclass
class ViewCollector:
    """Feeds frames; keeps the ones whose whole board is found, sharp enough, and (live) moved since the last."""

    board: Board
    min_sharpness: float = DEFAULT_MIN_SHARPNESS
    min_motion_px: float = 0.0  # live cameras: mean corner motion since the last accepted view, px
    views: list[View] = field(default_factory=list)
    image_size: tuple[int, int] | None = None
    coverage: Coverage | None = None
    seen: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: {"no board": 0, "blurred": 0, "not moved": 0})

    def offer(self, image: np.ndarray) -> str:
        """Judge one frame; returns 'accepted' or the reason it was not."""
        gray = to_gray(image)
        size = (gray.shape[1], gray.shape[0])
        if self.image_size is None:
            self.image_size, self.coverage = size, Coverage(size)
        elif size != self.image_size:
            raise CameraCalibrationError(f"frame {self.seen} is {size[0]}x{size[1]} px but the first was "
                                         f"{self.image_size[0]}x{self.image_size[1]}; calibrate one resolution")
        self.seen += 1
        corners = find_board(gray, self.board)
        if corners is None:
            return self._reject("no board")
        sharpness = board_sharpness(gray, corners)
        if sharpness < self.min_sharpness:
            return self._reject("blurred")
        if self.views and self.min_motion_px > 0:
            motion = np.linalg.norm(corners - self.views[-1].corners, axis=-1).mean()
            if motion < self.min_motion_px:
                return self._reject("not moved")
        self.views.append(View(corners, sharpness, self.seen - 1))
        self.coverage.add(corners)
        return "accepted"

    def _reject(self, reason: str) -> str:
        self.rejected[reason] += 1
        return reason

    def offer_all(self, images: Iterable[np.ndarray]) -> "ViewCollector":
        for image in images:
            self.offer(image)
        return self
