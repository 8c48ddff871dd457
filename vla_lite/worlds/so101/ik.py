"""Inverse kinematics for the SO-101's five arm joints: damped least squares on MuJoCo's Jacobian.

The target is a pose of the gripper body: a point fixed in it (the grasp point, see `grasp_point`) at a position,
and the body's orientation. A top-down grasp is `top_down(yaw)`: the tool points straight down (gripper body z up,
the tool along its -z) with the jaws closing along (cos yaw, sin yaw, 0). With the pan axis vertical and the
three pitch axes parallel, such a pose is reachable with 5 joints wherever the point is within reach, so the
solver drives the full 6-D error to zero (position in m, orientation weighted by `rot_weight_m` m/rad).

Uses its own MjData: solving never touches the world's state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .model import ARM, JOINT_NAMES


def top_down(yaw_rad: float) -> np.ndarray:
    """(3, 3) gripper body orientation for a top-down grasp with the jaws closing along yaw_rad."""
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_vector(R: np.ndarray) -> np.ndarray:
    """(3,) axis * angle of the rotation matrix R (angle in [0, pi])."""
    cos = np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0)
    angle = math.acos(cos)
    w = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    if angle < 1e-9:
        return w / 2.0
    if math.pi - angle < 1e-6:  # axis from the symmetric part
        axis = np.sqrt(np.maximum((np.diag(R) + 1.0) / 2.0, 0.0))
        axis *= np.where(np.array([1.0, R[0, 1] + R[1, 0], R[0, 2] + R[2, 0]]) < 0, -1.0, 1.0)
        return axis / np.linalg.norm(axis) * angle
    return w * (angle / (2.0 * math.sin(angle)))


@dataclass(frozen=True)
class IKConfig:
    iterations: int = 60
    damping: float = 1e-3  # lambda: the step is J^T (J J^T + lambda^2 I)^-1 e
    rot_weight_m: float = 0.05  # 1 rad of orientation error counts as this many metres
    tol_m: float = 2e-4  # stop when the weighted error is below this
    max_step_rad: float = 0.3  # per iteration, per joint


class ArmIK:
    """`solve(q0, pos, R, point_in_body) -> (q (5,), pos_err_m, rot_err_rad)` for the arm joints."""

    def __init__(self, model, body: str = "gripper", config: IKConfig = IKConfig()):
        import mujoco

        self._mj, self.model, self.config = mujoco, model, config
        self.data = mujoco.MjData(model)
        self.body = model.body(body).id
        self.qadr = np.array([model.joint(n).qposadr[0] for n in JOINT_NAMES[ARM]])
        self.dadr = np.array([model.joint(n).dofadr[0] for n in JOINT_NAMES[ARM]])
        self.low = np.array([model.joint(n).range[0] for n in JOINT_NAMES[ARM]])
        self.high = np.array([model.joint(n).range[1] for n in JOINT_NAMES[ARM]])
        self._jp = np.zeros((3, model.nv))
        self._jr = np.zeros((3, model.nv))

    def forward(self, q: np.ndarray, point_in_body: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(world position of point_in_body, body orientation (3, 3)) at arm joints q (5,)."""
        d = self.data
        d.qpos[self.qadr] = q
        self._mj.mj_kinematics(self.model, d)
        R = d.xmat[self.body].reshape(3, 3).copy()
        return d.xpos[self.body] + R @ point_in_body, R

    def solve(self, q0, pos, R_target, point_in_body) -> tuple[np.ndarray, float, float]:
        mj, d, cfg = self._mj, self.data, self.config
        q = np.clip(np.asarray(q0, np.float64), self.low, self.high)
        pos, R_target = np.asarray(pos, np.float64), np.asarray(R_target, np.float64)
        point_in_body = np.asarray(point_in_body, np.float64)
        w = cfg.rot_weight_m
        for _ in range(cfg.iterations):
            p, R = self.forward(q, point_in_body)
            e = np.concatenate([pos - p, w * rotation_vector(R_target @ R.T)])
            if np.linalg.norm(e) < cfg.tol_m:
                break
            mj.mj_comPos(self.model, d)
            mj.mj_jac(self.model, d, self._jp, self._jr, p, self.body)
            J = np.vstack([self._jp[:, self.dadr], w * self._jr[:, self.dadr]])  # (6, 5)
            dq = self._step(J, e)
            q = np.clip(q + np.clip(dq, -cfg.max_step_rad, cfg.max_step_rad), self.low, self.high)
        p, R = self.forward(q, point_in_body)
        return q, float(np.linalg.norm(pos - p)), float(np.linalg.norm(rotation_vector(R_target @ R.T)))

    def _step(self, J: np.ndarray, e: np.ndarray) -> np.ndarray:
        """DLS step; a joint at a limit that the step would push further out is frozen and the rest re-solved,
        so the free joints do the work instead of a clipped step wandering off (the wrist flex often sits at
        its limit with the tool pointing down close to the base)."""
        q = self.data.qpos[self.qadr]
        free = np.ones(len(self.qadr), bool)
        lam2 = self.config.damping ** 2 * np.eye(J.shape[0])
        for _ in range(len(self.qadr)):
            Jf = J * free
            dq = Jf.T @ np.linalg.solve(Jf @ Jf.T + lam2, e)
            pushing = ((q <= self.low + 1e-9) & (dq < 0)) | ((q >= self.high - 1e-9) & (dq > 0))
            if not np.any(pushing & free):
                return dq
            free &= ~pushing
        return np.zeros_like(q)
