"""Grasp geometry of the SO-101's jaws and the choice of how to turn them to a cube.

The SO-101 has one fixed jaw and one moving jaw. In the gripper body frame the tool points along -z and the
moving jaw opens along +x ("the closing axis" points from the fixed pad to the moving pad). The grasp point is
midway between the pads when they pinch a cube; open, the fixed pad stays put and only the moving pad swings out,
so a grasp approaches with the grasp point shifted towards the fixed side (`fixed_side_shift_m`) and lets the
moving jaw push the cube against the fixed one. Pure numpy, apart from pad_centres, grasp_geometry and jaw_reach_m,
which read the pads from the model once (the expert calls them when it is built).
"""

from __future__ import annotations

import math

import numpy as np

from .layout import PAN_AXIS_XY

PADS = ("fixed_jaw_pad", "moving_jaw_pad")
MAX_ROLL_RAD = 2.6  # |jaw yaw - heading| the wrist roll reaches with margin (its range: -2.74 .. 2.84 rad)


def pad_centres(model, gripper_rad: float) -> tuple[np.ndarray, np.ndarray]:
    """(fixed, moving) pad centres (3,) in the gripper body frame with the gripper joint at gripper_rad."""
    import mujoco

    d = mujoco.MjData(model)
    d.qpos[model.joint("gripper").qposadr[0]] = gripper_rad
    mujoco.mj_kinematics(model, d)
    g = model.body("gripper").id
    R, o = d.xmat[g].reshape(3, 3), d.xpos[g]
    fixed, moving = (R.T @ (d.geom_xpos[model.geom(n).id] - o) for n in PADS)
    return fixed, moving


def _half_thickness(model) -> tuple[float, float]:
    return tuple(float(model.geom_size[model.geom(n).id, 0]) for n in PADS)


def grasp_geometry(model, cube_size_m: float) -> tuple[np.ndarray, float]:
    """(grasp point (3,) in the gripper body frame, gripper angle rad) where the pads' inner faces are
    cube_size_m apart; the point is midway between the pads' centres."""
    thick = sum(_half_thickness(model))
    lo, hi = model.jnt_range[model.joint("gripper").id]
    for _ in range(50):  # the gap grows with the angle over the whole range
        mid = (lo + hi) / 2
        a, b = pad_centres(model, mid)
        lo, hi = (mid, hi) if np.linalg.norm(a - b) - thick < cube_size_m else (lo, mid)
    a, b = pad_centres(model, (lo + hi) / 2)
    return (a + b) / 2, float((lo + hi) / 2)


def jaw_reach_m(model, point: np.ndarray, gripper_rad: float) -> tuple[float, float]:
    """How far the pads' outer faces reach from the grasp point along the closing axis with the gripper at
    gripper_rad: (towards the fixed side, towards the moving side), m."""
    (hf, hm), (a, b) = _half_thickness(model), pad_centres(model, gripper_rad)
    return float(point[0] - a[0] + hf), float(b[0] - point[0] + hm)


def heading_of(p) -> float:
    """Heading of point p round the pan axis, rad (0 straight ahead, + to the arm's left)."""
    return math.atan2(p[1] - PAN_AXIS_XY[1], p[0] - PAN_AXIS_XY[0])


def yaw_of(R: np.ndarray) -> float:
    """Heading of a frame's x axis in the table plane, rad."""
    return math.atan2(R[1, 0], R[0, 0])


def wrap(a: float, period: float = 2 * math.pi) -> float:
    """a into [-period/2, period/2)."""
    return (a + period / 2) % period - period / 2


def quat_to_mat(q) -> np.ndarray:
    """(3, 3) rotation of a unit quaternion w, x, y, z."""
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def _segment_to_circle_m(a: np.ndarray, b: np.ndarray, centre: np.ndarray, radius: float) -> float:
    ab = b - a
    t = float(np.clip(np.dot(centre - a, ab) / (np.dot(ab, ab) or 1.0), 0.0, 1.0))
    return float(np.linalg.norm(a + t * ab - centre)) - radius


def jaw_clearance_m(cube_xy, yaw: float, obstacles, reach_m: tuple[float, float]) -> float:
    """Smallest gap between the open jaws round a cube (a segment along the closing axis at yaw, reaching
    reach_m = (fixed side, moving side) from the cube's centre) and any obstacle ((centre, radius) circles in
    the table plane), m; inf with no obstacles."""
    c = np.asarray(cube_xy, np.float64)[:2]
    u = np.array([math.cos(yaw), math.sin(yaw)])
    a, b = c - reach_m[0] * u, c + reach_m[1] * u
    return min((_segment_to_circle_m(a, b, np.asarray(o, np.float64)[:2], r) for o, r in obstacles),
               default=math.inf)


def choose_grasp_yaw(cube_xy, cube_yaw: float, obstacles, reach_m: tuple[float, float],
                     safe_m: float = 0.008) -> float:
    """The jaws' yaw for a top-down grasp of a cube: one of its four face normals. Among those the wrist roll
    reaches, the ones whose open jaws stay safe_m clear of every obstacle; of them the one needing the least
    wrist roll; if none is clear, the clearest."""
    heading = heading_of(cube_xy)
    options = [heading + wrap(cube_yaw - heading + k * math.pi / 2) for k in range(4)]
    options = [y for y in options if abs(wrap(y - heading)) <= MAX_ROLL_RAD]
    scored = [(jaw_clearance_m(cube_xy, y, obstacles, reach_m), abs(wrap(y - heading)), y) for y in options]
    safe = [s for s in scored if s[0] >= safe_m]
    if safe:
        return min(safe, key=lambda s: s[1])[2]
    return max(scored, key=lambda s: s[0])[2]
