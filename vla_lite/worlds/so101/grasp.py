"""Grasp geometry of the SO-101's jaws and the choice of how to turn them to a cube.

The SO-101 has one fixed jaw and one moving jaw. In the gripper body frame the tool points along -z and the
moving jaw opens along +x ("the closing axis" points from the fixed pad to the moving pad). The grasp point is
midway between the pads when they pinch a cube; open, the fixed pad stays put and only the moving pad swings out,
so a grasp approaches with the grasp point shifted towards the fixed side (`fixed_side_shift_m`) and lets the
moving jaw push the cube against the fixed one. Pure numpy, apart from `grasp_geometry` which reads the model.
"""

from __future__ import annotations

import math

import numpy as np

from .layout import PAN_AXIS_XY

# Reach of the open jaws (approach opening) along the closing axis from the cube's centre, m: the moving pad's
# outer edge on +axis, the fixed pad's on -axis (with the approach shift). From so101.xml's pads at 0.42 open.
MOVING_REACH_M = 0.042
FIXED_REACH_M = 0.030
MAX_ROLL_RAD = 2.6  # |jaw yaw - heading| the wrist roll reaches with margin (its range: -2.74 .. 2.84 rad)


def grasp_geometry(model, cube_size_m: float) -> tuple[np.ndarray, float, float]:
    """(grasp point (3,) in the gripper body frame, gripper angle rad, fixed pad's inner face offset m) where
    the pads' faces are cube_size_m apart. The point is midway between the pads' centres; the offset is how far
    the fixed pad's inner face sits from it along -x (the closing axis)."""
    import mujoco

    d = mujoco.MjData(model)
    g, qadr = model.body("gripper").id, model.joint("gripper").qposadr[0]
    pads = [model.geom(n).id for n in ("fixed_jaw_pad", "moving_jaw_pad")]
    thick = model.geom_size[pads[0], 0] + model.geom_size[pads[1], 0]  # the pads' half-thicknesses

    def centres(q: float):
        d.qpos[qadr] = q
        mujoco.mj_kinematics(model, d)
        R, o = d.xmat[g].reshape(3, 3), d.xpos[g]
        return [R.T @ (d.geom_xpos[p] - o) for p in pads]

    lo, hi = model.jnt_range[model.joint("gripper").id]
    for _ in range(50):  # the gap grows with the angle over the whole range
        mid = (lo + hi) / 2
        a, b = centres(mid)
        lo, hi = (mid, hi) if np.linalg.norm(a - b) - thick < cube_size_m else (lo, mid)
    a, b = centres((lo + hi) / 2)
    point = (a + b) / 2
    return point, float((lo + hi) / 2), float(point[0] - a[0] - model.geom_size[pads[0], 0])


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


def jaw_clearance_m(cube_xy, yaw: float, obstacles) -> float:
    """Smallest gap between the open jaws (a segment along the closing axis at yaw) and any obstacle
    ((centre (2,), radius) circles in the table plane), m; inf with no obstacles."""
    c = np.asarray(cube_xy, np.float64)[:2]
    u = np.array([math.cos(yaw), math.sin(yaw)])
    a, b = c - FIXED_REACH_M * u, c + MOVING_REACH_M * u
    return min((_segment_to_circle_m(a, b, np.asarray(o, np.float64)[:2], r) for o, r in obstacles),
               default=math.inf)


def choose_grasp_yaw(cube_xy, cube_yaw: float, obstacles, safe_m: float = 0.008) -> float:
    """The jaws' yaw for a top-down grasp of a cube: one of its four face normals. Among those the wrist roll
    reaches, the ones whose open jaws stay safe_m clear of every obstacle; of them the one needing the least
    wrist roll; if none is clear, the clearest."""
    heading = heading_of(cube_xy)
    options = [heading + wrap(cube_yaw - heading + k * math.pi / 2) for k in range(4)]
    options = [y for y in options if abs(wrap(y - heading)) <= MAX_ROLL_RAD]
    scored = [(jaw_clearance_m(cube_xy, y, obstacles), abs(wrap(y - heading)), y) for y in options]
    safe = [s for s in scored if s[0] >= safe_m]
    if safe:
        return min(safe, key=lambda s: s[1])[2]
    return max(scored, key=lambda s: s[0])[2]
