"""Synthetic calibration images: a planar chessboard (or a grid of straight lines) seen through a known camera
(pinhole + OpenCV distortion) at a given pose, drawn with filled, antialiased polygons. No committed images.

Edges are projected as densely sampled polylines, so a straight board edge comes out curved exactly as the
distortion model bends it; drawing at `ss` times the size and area-downscaling gives the antialiasing.
"""

from __future__ import annotations

import cv2
import numpy as np

K_TRUE = np.array([[612.0, 0.0, 323.5], [0.0, 608.0, 241.0], [0.0, 0.0, 1.0]])
DIST_TRUE = np.array([-0.28, 0.11, 0.0012, -0.0008, -0.02])  # k1 k2 p1 p2 k3: a cheap wide USB lens
SIZE_WH = (640, 480)
MAX_NORMALISED_RADIUS = 0.95


def _project(points_mm: np.ndarray, rvec, tvec, K, dist) -> np.ndarray:
    img, _ = cv2.projectPoints(points_mm.reshape(-1, 1, 3).astype(np.float64), np.asarray(rvec, np.float64),
                               np.asarray(tvec, np.float64), K, dist)
    return img.reshape(-1, 2)


def _edge_polygon(corners_mm: np.ndarray, samples: int) -> np.ndarray:
    """The closed outline through 4 plane corners, each side sampled `samples` times."""
    t = np.linspace(0, 1, samples, endpoint=False)[:, None]
    return np.concatenate([a + t * (b - a) for a, b in zip(corners_mm, np.roll(corners_mm, -1, axis=0))])


def render_board(cols: int, rows: int, square_mm: float, rvec, tvec, K=K_TRUE, dist=DIST_TRUE, size_wh=SIZE_WH,
                 ss: int = 4, samples: int = 24, background: int = 90) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a board with cols x rows inner corners, a one-square white margin, on grey."""
    W, H = size_wh
    S = np.diag([ss, ss, 1.0]) @ K  # the same camera at ss x the resolution (pixel centres shift by (ss-1)/2)
    S[0, 2] += (ss - 1) / 2
    S[1, 2] += (ss - 1) / 2
    canvas = np.full((H * ss, W * ss), background, np.uint8)
    poly = lambda quad: np.round(_project(_edge_polygon(quad, samples), rvec, tvec, S, dist) * 16).astype(np.int32)
    sq = square_mm
    x0, y0, x1, y1 = -2 * sq, -2 * sq, (cols + 1) * sq, (rows + 1) * sq  # squares span -sq..cols*sq, margin sq
    paper = np.array([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]], float)
    cv2.fillPoly(canvas, [poly(paper)], 235, lineType=cv2.LINE_8, shift=4)
    for i in range(cols + 1):
        for j in range(rows + 1):
            if (i + j) % 2 == 0:
                a, b = (i - 1) * sq, (j - 1) * sq
                quad = np.array([[a, b, 0], [a + sq, b, 0], [a + sq, b + sq, 0], [a, b + sq, 0]], float)
                cv2.fillPoly(canvas, [poly(quad)], 20, lineType=cv2.LINE_8, shift=4)
    small = cv2.resize(canvas, (W, H), interpolation=cv2.INTER_AREA)
    return np.repeat(small[:, :, None], 3, axis=2)


def board_corners_mm(cols: int, rows: int, square_mm: float) -> np.ndarray:
    """The inner corners in the board plane, row by row, as OpenCV orders them."""
    g = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2) * square_mm
    return np.c_[g, np.zeros(len(g))]


def render_lines(direction: str, spacing_px: float = 48.0, K=K_TRUE, dist=DIST_TRUE, size_wh=SIZE_WH, ss: int = 4,
                 thickness_px: float = 2.0) -> np.ndarray:
    """White straight lines (horizontal or vertical in the world) on black, on a fronto-parallel plane 1 m away
    spaced `spacing_px` apart as an ideal pinhole would see them, then distorted by the lens."""
    W, H = size_wh
    z = 1000.0
    S = np.diag([ss, ss, 1.0]) @ K
    S[0, 2] += (ss - 1) / 2
    S[1, 2] += (ss - 1) / 2
    canvas = np.zeros((H * ss, W * ss), np.uint8)
    # plane coordinates (mm) covering more than the view; spacing in mm from pixels at the optical axis
    step = spacing_px * z / K[0, 0]
    half = 1.5 * max(W, H) * z / K[0, 0]
    ts = np.linspace(-half, half, 800)
    for c in np.arange(-half, half, step):
        pts = np.c_[ts, np.full_like(ts, c)] if direction == "horizontal" else np.c_[np.full_like(ts, c), ts]
        # Beyond the view the distortion polynomial turns back on itself: draw only where the normalised radius
        # is inside its monotonic part (0.95 > the image corner's ~0.66 here).
        pts = pts[np.hypot(*(pts.T / z)) < MAX_NORMALISED_RADIUS]
        img = _project(np.c_[pts, np.full(len(pts), z)], np.zeros(3), np.zeros(3), S, dist)
        cv2.polylines(canvas, [np.round(img * 16).astype(np.int32)], False, 255,
                      thickness=max(1, round(thickness_px * ss)), lineType=cv2.LINE_8, shift=4)
    small = cv2.resize(canvas, (W, H), interpolation=cv2.INTER_AREA)
    return np.repeat(small[:, :, None], 3, axis=2)


def line_straightness_px(image: np.ndarray, direction: str, min_length_px: int = 200) -> float:
    """RMS distance (px) of each line's centre from its own best-fit straight line, over all lines long enough.
    Lines are the bright connected components; a line's centre per column (or row) is its intensity centroid."""
    gray = image[..., 0] if image.ndim == 3 else image
    if direction == "vertical":
        gray = gray.T
    n, labels = cv2.connectedComponents((gray > 40).astype(np.uint8))
    residuals = []
    for k in range(1, n):
        ys, xs = np.nonzero(labels == k)
        if xs.max() - xs.min() < min_length_px:
            continue
        w = gray[ys, xs].astype(np.float64)
        cols = np.unique(xs)[2:-2]  # the cut ends at the image border are partial
        cy = np.array([np.average(ys[xs == c], weights=w[xs == c]) for c in cols])
        fit = np.polyval(np.polyfit(cols, cy, 1), cols)
        residuals.append(cy - fit)
    if not residuals:
        raise AssertionError("no line long enough was found in the image")
    return float(np.sqrt(np.mean(np.concatenate(residuals) ** 2)))


def calibration_poses(n: int, cols: int, rows: int, square_mm: float, seed: int = 0):
    """n (rvec, tvec) board poses a person would show: tilted up to 35 degrees, 38-56 cm away, spread so the
    board's centre visits the whole image."""
    rng = np.random.default_rng(seed)
    centre = np.array([(cols - 1) * square_mm / 2, (rows - 1) * square_mm / 2, 0.0])
    poses = []
    for i in range(n):
        r = np.deg2rad([rng.uniform(-35, 35), rng.uniform(-35, 35), rng.uniform(-15, 15)])
        z = rng.uniform(380, 560)
        at = np.array([rng.uniform(-0.25, 0.25) * z, rng.uniform(-0.18, 0.18) * z, z])  # board centre, camera mm
        R, _ = cv2.Rodrigues(r)
        poses.append((r, at - R @ centre))
    return poses
